import { createPublicKey, verify } from 'node:crypto';
import { fromPublic } from '@nats-io/nkeys';
import { SignedRequestSchema } from '@weai/contracts';
import type { z } from 'zod';

/** A request whose signature, key or freshness does not check out; nothing is done for it. */
export class AuthenticationError extends Error {
  override readonly name = 'AuthenticationError';
  readonly code = 'auth.failed';
}

/** How old (or how far in the future) a signed request may be. */
export const MAX_REQUEST_SKEW_MS = 5 * 60_000;

/**
 * Verifies a request signed with a node's nkey and returns its payload and public key.
 * The signature covers the exact payload bytes; the payload must say when it was signed.
 */
export function verifySignedRequest<S extends z.ZodType<{ issuedAt: string }>>(
  body: unknown,
  payloadSchema: S,
  now: Date,
): { publicKey: string; payload: z.infer<S> } {
  const parsed = SignedRequestSchema.safeParse(body);
  if (!parsed.success) throw new AuthenticationError(`not a signed request: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  const { publicKey, payload, signature } = parsed.data;
  const bytes = Buffer.from(payload, 'base64');
  let valid: boolean;
  try {
    valid = verify(null, bytes, ed25519PublicKey(publicKey), Buffer.from(signature, 'base64'));
  } catch {
    valid = false;
  }
  if (!valid) throw new AuthenticationError('signature does not match the public key: the request was not signed by this node');
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new AuthenticationError('signed payload is not JSON');
  }
  const content = payloadSchema.safeParse(json);
  if (!content.success) throw new AuthenticationError(`signed payload is invalid: ${content.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  const skew = Math.abs(now.getTime() - Date.parse(content.data.issuedAt));
  if (!(skew <= MAX_REQUEST_SKEW_MS)) throw new AuthenticationError(`request was signed at ${content.data.issuedAt}, more than 5 minutes from now: check the node's clock`);
  return { publicKey, payload: content.data };
}

const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/**
 * The Ed25519 key inside a NATS public nkey, for node:crypto's native verify (about 200 times
 * faster than the pure-JS verify of the nkeys package, which matters when thousands of nodes
 * register at once). `fromPublic` checks the key's prefix and checksum first.
 */
function ed25519PublicKey(nkey: string) {
  fromPublic(nkey);
  let bits = 0;
  let value = 0;
  const out: number[] = [];
  for (const ch of nkey) {
    value = (value << 5) | BASE32.indexOf(ch);
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  // One prefix byte, 32 key bytes, two checksum bytes.
  const raw = Buffer.from(out.slice(1, 33));
  return createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, raw]), format: 'der', type: 'spki' });
}
