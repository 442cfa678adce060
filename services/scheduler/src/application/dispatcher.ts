import { headers as natsHeaders } from '@nats-io/transport-node';
import type { JetStreamClient } from '@nats-io/jetstream';
import { INLINE_LIMIT_BYTES, WORK_HEADERS, shardSubject } from '@weai/contracts';
import type { ContentStore } from '@weai/messaging';
import { encodeTensor, sha256, sliceItems } from '@weai/tensors';
import type { JobRepository } from './job.repository';
import type { DatasetCache } from './datasets';
import { type JobState, shardRange } from '../domain/job';

/** One replica attempt to publish. */
export interface WorkItem {
  readonly jobId: string;
  readonly shardIndex: number;
  readonly replica: number;
  readonly attempt: number;
}

/**
 * Publishes work items on `weai.shard.<capability>`. It is driven by the scheduler's own events
 * (JobPartitioned, ShardDispatched) as they come back from JetStream, and acknowledges them only
 * after JetStream took the items: a crash re-publishes, and the item's id
 * (`<job>.<shard>.<replica>.<attempt>`) makes JetStream drop the copy. No dual write.
 */
export class Dispatcher {
  constructor(
    private readonly js: JetStreamClient,
    private readonly jobs: JobRepository,
    private readonly datasets: DatasetCache,
    private readonly objects: ContentStore,
  ) {}

  /** Publishes the first replicas of every shard of a partitioned job. */
  async dispatchJob(jobId: string): Promise<number> {
    const state = await this.jobs.load(jobId);
    if (state.status !== 'running') return 0;
    const items: WorkItem[] = [];
    state.shards.forEach((s, shardIndex) => {
      if (s.phase !== 'pending') return;
      for (let replica = 0; replica < state.spec.redundancy.replicas; replica++) items.push({ jobId, shardIndex, replica, attempt: s.attempts[replica] ?? 1 });
    });
    await this.publish(items, state);
    return items.length;
  }

  /** Publishes work items of one job, pipelined. */
  async publish(items: readonly WorkItem[], known?: JobState): Promise<void> {
    const state = known ?? (items[0] ? await this.jobs.load(items[0].jobId) : undefined);
    if (!state || state.status !== 'running') return;
    const window: Array<Promise<unknown>> = [];
    for (const item of items) {
      window.push(this.publishOne(item, state));
      if (window.length >= 256) await Promise.all(window.splice(0, 128));
    }
    await Promise.all(window);
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
    let body = input;
    if (input.byteLength > INLINE_LIMIT_BYTES) {
      await this.objects.put(input);
      h.set(WORK_HEADERS.inputRef, 'object');
      body = new Uint8Array(0);
    }
    await this.js.publish(shardSubject(state.spec.capability), body, {
      headers: h,
      msgID: `${item.jobId}.${item.shardIndex}.${item.replica}.${item.attempt}`,
    });
  }
}
