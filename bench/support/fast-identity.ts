/**
 * Node identities for simulating thousands of agents: Ed25519 keys from node:crypto (native,
 * ~0.1 ms to generate or sign) instead of the pure-JS tweetnacl inside `@nats-io/nkeys` (~10 ms),
 * with the public key written as a NATS user nkey ("U…") as `createUser().getPublicKey()` does.
 */
import { type KeyObject, generateKeyPairSync, sign } from 'node:crypto';

/** What the agent's `signRequest` needs: the public nkey and a signer of the payload bytes. */
export interface FastIdentity {
  readonly publicKey: string;
  sign(data: Uint8Array): Uint8Array;
}

/** The prefix byte of a user public nkey: 20 ("U") shifted into the top five bits. */
const USER_PREFIX = 20 << 3;
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** CRC-16/XMODEM (polynomial 0x1021, initial value 0), the nkey checksum. */
export function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

/** RFC 4648 base32 without padding. */
export function base32(bytes: Uint8Array): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = ((value << 8) | byte) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

/** The user public nkey of a raw 32-byte Ed25519 public key: base32(prefix, key, crc16 little-endian). */
export function userNkeyOf(rawPublicKey: Uint8Array): string {
  if (rawPublicKey.length !== 32) throw new Error(`an Ed25519 public key has 32 bytes, got ${rawPublicKey.length}`);
  const bytes = new Uint8Array(35);
  bytes[0] = USER_PREFIX;
  bytes.set(rawPublicKey, 1);
  const crc = crc16(bytes.subarray(0, 33));
  bytes[33] = crc & 0xff;
  bytes[34] = crc >>> 8;
  return base32(bytes);
}

function rawPublicKeyOf(publicKey: KeyObject): Buffer {
  const { x } = publicKey.export({ format: 'jwk' });
  if (typeof x !== 'string') throw new Error('node:crypto returned an Ed25519 JWK without "x"');
  return Buffer.from(x, 'base64url');
}

/** A fresh node identity. */
export function fastIdentity(): FastIdentity {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return {
    publicKey: userNkeyOf(rawPublicKeyOf(publicKey)),
    sign: (data) => sign(null, data, privateKey),
  };
}
