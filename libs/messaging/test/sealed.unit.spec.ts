import { createHash, randomBytes } from 'node:crypto';
import { sealingFromEnv } from '../src/data-keys';
import { SealError, isSealed, openPayload, sealPayload, sealedKeyId } from '../src/sealed';

const key = { id: 'o1:test', key: new Uint8Array(randomBytes(32)) };
const plaintext = new Uint8Array(randomBytes(1000));
const address = createHash('sha256').update(plaintext).digest('hex');

describe('sealed payloads (AES-256-GCM)', () => {
  it('opens what it sealed, with a fresh nonce each time', () => {
    const a = sealPayload(plaintext, address, key);
    const b = sealPayload(plaintext, address, key);
    expect(isSealed(a)).toBe(true);
    expect(sealedKeyId(a)).toBe('o1:test');
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false);
    expect(Buffer.from(openPayload(a, address, key)).equals(Buffer.from(plaintext))).toBe(true);
    expect(Buffer.from(a).includes(Buffer.from(plaintext.subarray(0, 32)))).toBe(false);
  });

  it('seals an empty payload', () => {
    const empty = new Uint8Array(0);
    const hash = createHash('sha256').update(empty).digest('hex');
    expect(openPayload(sealPayload(empty, hash, key), hash, key).byteLength).toBe(0);
  });

  it.each([
    ['a byte of the ciphertext', 40],
    ['a byte of the tag', -1],
    ['a byte of the nonce', 6 + key.id.length],
  ])('refuses a payload with %s changed', (_what, at) => {
    const sealed = sealPayload(plaintext, address, key);
    const i = at < 0 ? sealed.byteLength + at : at;
    sealed[i] = sealed[i]! ^ 0x01;
    expect(() => openPayload(sealed, address, key)).toThrow(SealError);
  });

  it('refuses the wrong key, a key of another id, the wrong address and a truncated payload', () => {
    const sealed = sealPayload(plaintext, address, key);
    expect(() => openPayload(sealed, address, { id: key.id, key: new Uint8Array(randomBytes(32)) })).toThrow(/does not authenticate/);
    expect(() => openPayload(sealed, address, { id: 'o1:other', key: key.key })).toThrow(/sealed under key o1:test/);
    expect(() => openPayload(sealed, 'f'.repeat(64), key)).toThrow(/does not authenticate/);
    expect(() => openPayload(sealed.subarray(0, sealed.byteLength - 1), address, key)).toThrow(SealError);
    expect(() => openPayload(sealed.subarray(0, 20), address, key)).toThrow(/not a sealed payload|truncated/);
  });

  it('binds the key id: a header rewritten to another id of the same length does not open', () => {
    const sealed = sealPayload(plaintext, address, key);
    sealed[6 + key.id.length - 1] = 'X'.charCodeAt(0);
    expect(() => openPayload(sealed, address, { id: 'o1:tesX', key: key.key })).toThrow(/does not authenticate/);
  });

  it('refuses bad keys and key ids', () => {
    expect(() => sealPayload(plaintext, address, { id: 'o1:x', key: new Uint8Array(16) })).toThrow(/32 bytes/);
    expect(() => sealPayload(plaintext, address, { id: 'bad id', key: key.key })).toThrow(/key id/);
    expect(() => sealPayload(plaintext, 'nothex', key)).toThrow(/SHA-256/);
    const sealed = sealPayload(plaintext, address, key);
    sealed[4] = 9;
    expect(() => sealedKeyId(sealed)).toThrow(/version 9/);
  });
});

describe('WEAI_SEALING', () => {
  it('is off unless set to on, and names the variable when it is neither', () => {
    expect(sealingFromEnv({})).toBe(false);
    expect(sealingFromEnv({ WEAI_SEALING: 'off' })).toBe(false);
    expect(sealingFromEnv({ WEAI_SEALING: 'ON' })).toBe(true);
    expect(() => sealingFromEnv({ WEAI_SEALING: 'yes' })).toThrow(/WEAI_SEALING must be "on" or "off"/);
  });
});
