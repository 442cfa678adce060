import { createHash } from 'node:crypto';

/** A node's opaque id, derived from its public key: the same key is always the same node. */
export function nodeIdOf(publicKey: string): string {
  return `n${createHash('sha256').update(`weai-node:${publicKey}`).digest('hex').slice(0, 24)}`;
}

/** An owner's opaque id, derived from the payout address (lower-cased). */
export function ownerIdOf(payoutAddress: string): string {
  return `o${createHash('sha256').update(`weai-owner:${payoutAddress.toLowerCase()}`).digest('hex').slice(0, 24)}`;
}
