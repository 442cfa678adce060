import { createHash } from 'node:crypto';

/**
 * A node's opaque id, derived from its public nkey: the same key is always the same node. The
 * nodes service names the node by it at registration, the security service names the node's bus
 * credential by it at enrolment (its inbox prefix and heartbeat subject carry it), and the agent
 * knows it before it first connects.
 */
export function nodeIdOf(publicKey: string): string {
  return `n${createHash('sha256').update(`weai-node:${publicKey}`).digest('hex').slice(0, 24)}`;
}
