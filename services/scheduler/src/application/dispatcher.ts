import { headers as natsHeaders } from '@nats-io/transport-node';
import type { JetStreamClient } from '@nats-io/jetstream';
import { INLINE_LIMIT_BYTES, WORK_HEADERS, leaseToken, shardSubject } from '@weai/contracts';
import { type ContentStore, injectTrace } from '@weai/messaging';
import { encodeTensor, sha256, sliceItems } from '@weai/tensors';
import type { JobRepository } from './job.repository';
import type { DatasetCache } from './datasets';
import { type JobState, type ShardState, shardRange } from '../domain/job';

/** One replica attempt to publish. */
export interface WorkItem {
  readonly jobId: string;
  readonly shardIndex: number;
  readonly replica: number;
  readonly attempt: number;
}

/** First replicas of one job kept waiting in the work queue at once; see `Dispatcher.topUp`. */
export const DISPATCH_WINDOW = 512;

/**
 * Shards per job whose work items carry the trace context (the first ones by index). The agent's
 * span, the result's and those of the events that follow exist for these shards only, so a job's
 * trace stays a few hundred spans whatever its size; the other shards go untraced.
 */
export const TRACED_SHARDS_PER_JOB = 16;

/** A shard whose first replicas have not come back yet. */
const waiting = (s: ShardState) => s.phase === 'pending' && s.results.length === 0;

/**
 * Publishes work items on `weai.shard.<capability>`. It is driven by the scheduler's own events
 * (JobPartitioned, ShardDispatched, and ShardCompleted/ShardValidated/ShardFailed for the next
 * part of a large job) as they come back from JetStream, and acknowledges them only after
 * JetStream took the items: a crash re-publishes, and the item's id
 * (`<job>.<shard>.<replica>.<attempt>`) makes JetStream drop the copy. No dual write.
 *
 * A large job's first replicas go out a window at a time (`window`, default DISPATCH_WINDOW), not
 * all at once: the work queue is first in, first out, and a verification replica (an untrusted
 * node's result run again elsewhere) queued behind a whole job would wait for all of it, so no
 * node would earn trust during the job and every shard would run twice.
 */
export class Dispatcher {
  /** Per job: shards below this index have had their first replicas published by this process. */
  private readonly published = new Map<string, { next: number; low: number }>();

  constructor(
    private readonly js: JetStreamClient,
    private readonly jobs: JobRepository,
    private readonly datasets: DatasetCache,
    private readonly objects: ContentStore,
    private readonly window = DISPATCH_WINDOW,
  ) {}

  /** Publishes the first replicas of a partitioned job, its first window of them if it is large. */
  async dispatchJob(jobId: string): Promise<number> {
    return this.topUp(jobId, await this.jobs.load(jobId));
  }

  /**
   * Publishes first replicas until `window` shards past the first still waiting for one are out.
   * Called for every event that tells a first replica came back; cheap when nothing is due (it
   * reads the job from memory and walks forward from where it last stopped). After a restart the
   * memory is empty and it starts again at the first waiting shard: what is still queued is
   * dropped by JetStream as a duplicate, what was taken runs again at worst (results of a replica
   * already recorded are ignored by the job). `revision` is that of the event asking: memory
   * older than it (another replica wrote since this one last read) is read again from the store,
   * else the window would stay where this replica last saw it.
   */
  async topUp(jobId: string, known?: JobState, revision?: number): Promise<number> {
    const held = known ?? this.jobs.peek(jobId, revision);
    const state = held?.status === 'running' ? held : await this.jobs.load(jobId);
    if (state.status !== 'running') {
      this.published.delete(jobId);
      return 0;
    }
    const shards = state.shards;
    let mark = this.published.get(jobId);
    if (!mark) this.published.set(jobId, (mark = { next: 0, low: 0 }));
    while (mark.low < shards.length && !waiting(shards[mark.low]!)) mark.low++;
    const end = Math.min(shards.length, mark.low + this.window);
    const items: WorkItem[] = [];
    // Decided in this turn, so concurrent calls publish disjoint ranges.
    for (let shardIndex = Math.max(mark.next, mark.low); shardIndex < end; shardIndex++) {
      const s = shards[shardIndex]!;
      if (s.phase !== 'pending') continue;
      for (let replica = 0; replica < state.spec.redundancy.replicas; replica++) {
        if (!s.results.some((r) => r.replica === replica)) items.push({ jobId, shardIndex, replica, attempt: s.attempts[replica] ?? 1 });
      }
    }
    mark.next = Math.max(mark.next, end);
    if (mark.low >= shards.length) this.published.delete(jobId);
    try {
      await this.publish(items, state);
    } catch (error) {
      // Start again from the first waiting shard on the next call (the redelivery of this event).
      this.published.delete(jobId);
      throw error;
    }
    return items.length;
  }

  /**
   * Publishes work items of one job, pipelined. `revision` is that of the event asking for them
   * (a ShardDispatched): memory older than it may lack the results the item must name in
   * `Weai-Exclude-Nodes`, so the job is read again.
   */
  async publish(items: readonly WorkItem[], known?: JobState, revision?: number): Promise<void> {
    const first = items[0];
    if (!first) return;
    const held = known ?? this.jobs.peek(first.jobId, revision);
    // Memory serves unless it says the shard is done, which only the store can confirm.
    const state = held?.status === 'running' && held.shards[first.shardIndex]?.phase === 'pending' ? held : await this.jobs.load(first.jobId);
    if (state.status !== 'running') return;
    const window: Array<Promise<unknown>> = [];
    try {
      for (const item of items) {
        window.push(this.publishOne(item, state));
        if (window.length >= 256) await Promise.all(window.splice(0, 128));
      }
      await Promise.all(window);
    } catch (error) {
      // Publishes still in the window fail too during a NATS fail-over: a rejection nobody awaits
      // would end the process (an unhandled rejection), so let them settle before passing the first on.
      await Promise.allSettled(window);
      throw error;
    }
  }

  private async publishOne(item: WorkItem, state: Extract<JobState, { jobId: string }>): Promise<void> {
    const shard = state.shards[item.shardIndex];
    if (!shard || shard.phase !== 'pending') return;
    const dataset = await this.datasets.get(state.spec.inputHash);
    const [start, end] = shardRange(state.spec, item.shardIndex);
    const input = encodeTensor(sliceItems(dataset, start, end));
    const inputHash = sha256(input);
    const h = natsHeaders();
    h.set(WORK_HEADERS.job, item.jobId);
    h.set(WORK_HEADERS.shard, String(item.shardIndex));
    h.set(WORK_HEADERS.replica, String(item.replica));
    h.set(WORK_HEADERS.attempt, String(item.attempt));
    h.set(WORK_HEADERS.model, state.spec.modelHash);
    h.set(WORK_HEADERS.input, inputHash);
    h.set(WORK_HEADERS.items, String(end - start));
    if (state.spec.inputName) h.set(WORK_HEADERS.inputName, state.spec.inputName);
    if (state.spec.outputName) h.set(WORK_HEADERS.outputName, state.spec.outputName);
    if (this.objects.sealing) h.set(WORK_HEADERS.sealed, 'true');
    if (shard.results.length > 0) h.set(WORK_HEADERS.excludeNodes, [...new Set(shard.results.map((r) => r.nodeId))].join(','));
    if (state.leaseSecret) h.set(WORK_HEADERS.leaseToken, leaseToken(state.leaseSecret, item.shardIndex, item.replica, item.attempt));
    if (item.shardIndex < TRACED_SHARDS_PER_JOB) injectTrace(h);
    let body: Uint8Array;
    if (input.byteLength > INLINE_LIMIT_BYTES) {
      await this.objects.put(input);
      h.set(WORK_HEADERS.inputRef, 'object');
      body = new Uint8Array(0);
    } else {
      body = await this.objects.sealInline(input, inputHash);
    }
    const msgID = `${item.jobId}.${item.shardIndex}.${item.replica}.${item.attempt}`;
    try {
      await this.js.publish(shardSubject(state.spec.capability), body, { headers: h, msgID });
    } catch (error) {
      // Named, so that a handler's log line says which publish failed (a scale-out run once showed
      // "wrong last msg ID" here for ten verification replicas, on every redelivery; see docs/scale-out.md).
      const api = (error as { api_error?: { code?: number; err_code?: number } }).api_error;
      throw new Error(`work item ${msgID} not published to ${shardSubject(state.spec.capability)}: ${(error as Error).message}${api ? ` (JetStream ${api.code}/${api.err_code})` : ''}`, { cause: error });
    }
  }
}
