/**
 * Who gets which data keys. Pure: the requester, what it asks for and what the bus holds in; the
 * key ids to release, or the reason to refuse, out.
 *
 * - The scheduler and the gateway read and write every partner's objects: they get any key.
 * - A node gets the keys of one work item only: the object keys of the item's model and input and
 *   the key of its job's outputs, only while the item is still in the WEAI_SHARDS work queue
 *   (an acknowledged, finished or terminated item is removed), only once it has been delivered
 *   (someone holds its lease), only while its job still wants results (the job-status bucket has
 *   no entry for it), and only when the node's credential lets it pull that item's class.
 * - Anyone else gets nothing.
 */
import { SHARDS_STREAM, WORK_HEADERS, jobKeyId, objectKeyId } from '@weai/contracts';
import type { ActiveCredential } from './registry';
import { shardDurable } from './permissions';

/** Services trusted with every data key: they seal uploads and shard inputs and open outputs. */
export const KEY_HOLDING_SERVICES: readonly string[] = ['scheduler', 'gateway'];

/** A work item as the stream holds it. */
export interface StoredWorkItem {
  readonly seq: number;
  readonly subject: string;
  readonly header: (name: string) => string | undefined;
  /** The last stream sequence the class's shared consumer has delivered (undefined: no consumer). */
  readonly deliveredUpTo: number | undefined;
  /** What the job-status bucket says of the item's job once it no longer wants results (cancelled, completed…). */
  readonly jobClosed?: string | undefined;
}

export type KeyDecision =
  | { readonly released: true; readonly role: 'service' | 'node'; readonly keyIds: readonly string[]; readonly lease?: { jobId: string; shard: number; replica: number; workItem: number } }
  | { readonly released: false; readonly reason: string };

const refuse = (reason: string): KeyDecision => ({ released: false, reason });

/** The capability classes a node credential may pull (its permissions name each class's consumer). */
export function pullableClasses(credentials: readonly ActiveCredential[]): (capabilityClass: string) => boolean {
  const publish = new Set(credentials.filter((c) => c.role === 'node').flatMap((c) => c.permissions.publish));
  return (cls) => publish.has(`$JS.API.CONSUMER.MSG.NEXT.${SHARDS_STREAM}.${shardDurable(cls)}`);
}

/**
 * Decides a key request. `credentials` are the requester's active ones; `item` is the work item it
 * names, looked up in WEAI_SHARDS (undefined when the stream no longer holds it).
 */
export function decideKeyRelease(
  requester: string,
  credentials: readonly ActiveCredential[],
  keyIds: readonly string[],
  workItem: number | undefined,
  item: StoredWorkItem | undefined,
): KeyDecision {
  if (KEY_HOLDING_SERVICES.includes(requester)) {
    // A node credential named like a service must not inherit the service's keys.
    if (credentials.some((c) => c.role !== 'service')) return refuse(`${requester} holds a credential that is not a service's`);
    return { released: true, role: 'service', keyIds };
  }
  if (!credentials.some((c) => c.role === 'node')) return refuse('not a registered node: no active node credential');
  if (workItem === undefined) return refuse('a node must name the work item it holds the lease of');
  if (!item) return refuse(`work item ${workItem} is not in the queue: finished, cancelled or never issued`);
  const prefix = 'weai.shard.';
  if (!item.subject.startsWith(prefix)) return refuse(`work item ${workItem} is not a shard`);
  const cls = item.subject.slice(prefix.length);
  if (!pullableClasses(credentials)(cls)) return refuse(`work item ${workItem} is of class ${cls}, which this node may not pull`);
  if (item.deliveredUpTo === undefined || item.deliveredUpTo < item.seq) return refuse(`work item ${workItem} has not been handed to any node yet`);
  const jobId = item.header(WORK_HEADERS.job) ?? '';
  // Items of a finished or cancelled job stay queued until a node drops them; they get no keys.
  if (item.jobClosed !== undefined) return refuse(`job ${jobId} is ${item.jobClosed}: its shards get no keys`);
  const model = item.header(WORK_HEADERS.model) ?? '';
  const input = item.header(WORK_HEADERS.input) ?? '';
  const allowed = new Set([objectKeyId(model), objectKeyId(input), jobKeyId(jobId)]);
  const extra = keyIds.filter((id) => !allowed.has(id));
  if (extra.length > 0) return refuse(`work item ${workItem} does not name ${extra.join(', ')}`);
  return {
    released: true,
    role: 'node',
    keyIds,
    lease: { jobId, shard: Number(item.header(WORK_HEADERS.shard)), replica: Number(item.header(WORK_HEADERS.replica)), workItem },
  };
}
