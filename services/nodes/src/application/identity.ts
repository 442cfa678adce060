import { createHash } from 'node:crypto';

/** A node's opaque id, derived from its public key (the derivation lives in the contracts: security and the agent use it too). */
export { nodeIdOf } from '@weai/contracts';

/** An owner's opaque id, derived from the payout address (lower-cased). */
export function ownerIdOf(payoutAddress: string): string {
  return `o${createHash('sha256').update(`weai-owner:${payoutAddress.toLowerCase()}`).digest('hex').slice(0, 24)}`;
}
