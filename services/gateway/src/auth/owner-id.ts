import { createHash } from 'node:crypto';

/**
 * An owner's opaque id, derived from its payout address (lower-cased) exactly as the nodes
 * service derives `NodeRegistered.ownerId` (services/nodes/src/application/identity.ts), so the id
 * in an owner's token is the id rewards and nodes know the owner by. The derivation is the
 * contract; test/http-security.e2e.spec.ts checks both sides agree.
 */
export function ownerIdOf(payoutAddress: string): string {
  return `o${createHash('sha256').update(`weai-owner:${payoutAddress.toLowerCase()}`).digest('hex').slice(0, 24)}`;
}
