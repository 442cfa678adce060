import type { KV } from '@nats-io/kv';

/** The KV bucket of object grants: key `<partnerId>.<sha-256>`, present when the partner may read the object. */
export const GRANTS_BUCKET = 'weai-object-grants';

/**
 * Which partner may read which object. A partner may read what it uploaded (it had the bytes) and
 * the outputs of its own jobs; knowing a hash is not enough. The grants live in a JetStream KV
 * bucket, not in a gateway's memory, so every replica answers the same: uploads are granted by
 * the replica that stored them, outputs from the scheduler's `JobCompleted` events (by whichever
 * replica sees one first: the listener, a status answer or an event stream).
 */
export class ObjectGrants {
  constructor(private readonly kv: KV) {}

  async grant(partnerId: string, hash: string): Promise<void> {
    await this.kv.put(`${partnerId}.${hash}`, '1');
  }

  async has(partnerId: string, hash: string): Promise<boolean> {
    const entry = await this.kv.get(`${partnerId}.${hash}`);
    return !!entry && entry.operation === 'PUT';
  }
}
