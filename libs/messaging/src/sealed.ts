/**
 * Sealed payloads: AES-256-GCM under a 32-byte data key, for objects at rest in the object store
 * and for the inline inputs and outputs of work items and results. Pure (node:crypto only).
 *
 * Layout: `WEAS` · version (1) · key id length (1) · key id (UTF-8) · nonce (12) · ciphertext · tag (16).
 * The associated data is the header (magic to key id) followed by the plaintext's SHA-256 (its
 * content address, 32 raw bytes), so a sealed object cannot be replayed under another name or
 * another key id without the open failing. A fresh random 96-bit nonce per seal: with at most
 * 2^32 seals under one key the chance of a repeat stays below 2^-32 (NIST SP 800-38D).
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const MAGIC = [0x57, 0x45, 0x41, 0x53]; // "WEAS"
const VERSION = 1;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;
const KEY_ID = /^[A-Za-z0-9:._-]{1,255}$/;

/** A data key and the id sealed payloads name it by (the id is public; the key never leaves memory unsealed). */
export interface DataKey {
  /** Public name of the key, written into every payload it seals (e.g. `o1:<sha256>`, `j1:<jobId>`). */
  readonly id: string;
  /** 32 secret bytes. */
  readonly key: Uint8Array;
}

/** A payload that cannot be opened: tampered, truncated, the wrong key or the wrong address. */
export class SealError extends Error {
  override readonly name = 'SealError';
  readonly code = 'seal.invalid';
}

function hashBytes(sha256Hex: string): Buffer {
  if (!/^[0-9a-f]{64}$/.test(sha256Hex)) throw new SealError('the content address must be a lowercase hex SHA-256');
  return Buffer.from(sha256Hex, 'hex');
}

function header(keyId: string): Buffer {
  if (!KEY_ID.test(keyId)) throw new SealError(`key id ${JSON.stringify(keyId)} must be 1-255 characters of [A-Za-z0-9:._-]`);
  const id = Buffer.from(keyId, 'ascii');
  return Buffer.concat([Buffer.from(MAGIC), Buffer.from([VERSION, id.length]), id]);
}

/** Whether the bytes start like a sealed payload (a cheap test; only `open` proves it). */
export function isSealed(bytes: Uint8Array): boolean {
  return bytes.byteLength >= 6 + NONCE_BYTES + TAG_BYTES && MAGIC.every((b, i) => bytes[i] === b);
}

/** The key id a sealed payload names. Throws SealError when the bytes are not a sealed payload. */
export function sealedKeyId(bytes: Uint8Array): string {
  if (!isSealed(bytes)) throw new SealError('not a sealed payload (no WEAS header)');
  if (bytes[4] !== VERSION) throw new SealError(`sealed payload version ${bytes[4]} is not supported (this build reads ${VERSION})`);
  const length = bytes[5]!;
  if (length === 0 || bytes.byteLength < 6 + length + NONCE_BYTES + TAG_BYTES) throw new SealError('sealed payload is truncated');
  return Buffer.from(bytes.buffer, bytes.byteOffset + 6, length).toString('ascii');
}

/** Encrypts `plaintext`, whose SHA-256 is `address`, under `key`. */
export function sealPayload(plaintext: Uint8Array, address: string, key: DataKey): Uint8Array {
  if (key.key.byteLength !== KEY_BYTES) throw new SealError(`a data key is ${KEY_BYTES} bytes, not ${key.key.byteLength}`);
  const head = header(key.id);
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key.key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.concat([head, hashBytes(address)]));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  const out = Buffer.concat([head, nonce, body, cipher.getAuthTag()]);
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/**
 * Decrypts a sealed payload that claims to hold the plaintext named `address`. `key.id` must be the
 * id the payload names. Throws SealError for anything that does not authenticate. The caller still
 * checks SHA-256(plaintext) = address where it matters (ContentStore does).
 */
export function openPayload(sealed: Uint8Array, address: string, key: DataKey): Uint8Array {
  const keyId = sealedKeyId(sealed);
  if (keyId !== key.id) throw new SealError(`payload is sealed under key ${keyId}, not ${key.id}`);
  if (key.key.byteLength !== KEY_BYTES) throw new SealError(`a data key is ${KEY_BYTES} bytes, not ${key.key.byteLength}`);
  const headLength = 6 + keyId.length;
  const bytes = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
  const nonce = bytes.subarray(headLength, headLength + NONCE_BYTES);
  const tag = bytes.subarray(bytes.length - TAG_BYTES);
  const body = bytes.subarray(headLength + NONCE_BYTES, bytes.length - TAG_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', key.key, nonce, { authTagLength: TAG_BYTES });
  decipher.setAAD(Buffer.concat([bytes.subarray(0, headLength), hashBytes(address)]));
  decipher.setAuthTag(tag);
  try {
    const out = Buffer.concat([decipher.update(body), decipher.final()]);
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  } catch {
    // GCM says only "unable to authenticate": name the possibilities without revealing anything.
    throw new SealError(`sealed payload for ${address.slice(0, 12)} does not authenticate (tampered, truncated, wrong key or wrong address)`);
  }
}

/** Looks up a data key by the id a sealed payload names; throws when the caller may not have it. */
export type KeyResolver = (keyId: string) => Promise<DataKey>;
