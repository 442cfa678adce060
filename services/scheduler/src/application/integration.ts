import { DeliverPolicy, type JetStreamClient } from '@nats-io/jetstream';
import { RESULTS_STREAM, RESULT_HEADERS } from '@weai/contracts';
import type { ContentStore } from '@weai/messaging';
import { type Tensor, concatItems, decodeTensor, encodeTensor, sha256 } from '@weai/tensors';
import type { JobRepository } from './job.repository';
import { commandMetadata } from './metadata';

/**
 * Puts a job's validated shard outputs together, in shard order, into one output object, then
 * completes the job. Runs when a ShardValidated event comes back from JetStream and every shard
 * is validated; if the scheduler dies in between, the event is redelivered and it runs again
 * (the output object is content-addressed, and completing twice decides nothing new).
 */
export class Integrator {
  constructor(
    private readonly js: JetStreamClient,
    private readonly jobs: JobRepository,
    private readonly objects: ContentStore,
  ) {}

  async integrateIfDone(jobId: string): Promise<string | undefined> {
    // Most ShardValidated events arrive while shards are still missing: the memory says so at no cost.
    const held = this.jobs.peek(jobId);
    if (held && held.status === 'running' && held.validated < held.shards.length) return undefined;
    const state = await this.jobs.load(jobId);
    if (state.status !== 'running' || state.validated !== state.shards.length || state.shards.length === 0) return undefined;
    const wanted = new Map<string, number>();
    state.shards.forEach((s, i) => {
      if (s.phase === 'validated') wanted.set(`${i}.${s.acceptedReplica}`, i);
    });
    const outputs: Array<Tensor | undefined> = new Array(state.shards.length);
    let found = 0;
    const consumer = await this.js.consumers.get(RESULTS_STREAM, { deliver_policy: DeliverPolicy.All, filter_subjects: `weai.result.${jobId}.>` });
    const messages = await consumer.consume({ max_messages: 1024 });
    try {
      for await (const m of messages) {
        const key = m.subject.split('.').slice(3).join('.');
        const index = wanted.get(key);
        const shard = index === undefined ? undefined : state.shards[index];
        if (index !== undefined && shard?.phase === 'validated' && !outputs[index] && m.headers?.get(RESULT_HEADERS.output) === shard.outputHash) {
          const bytes = m.headers?.get(RESULT_HEADERS.outputRef) === 'object' ? await this.objects.get(shard.outputHash) : m.data;
          if (bytes && sha256(bytes) === shard.outputHash) {
            outputs[index] = decodeTensor(bytes);
            found++;
          }
        }
        if (found === state.shards.length || m.info.pending === 0) break;
      }
    } finally {
      await messages.close();
    }
    if (found !== state.shards.length) {
      const missing = outputs.findIndex((o) => !o);
      throw new Error(`job ${jobId}: the accepted output of shard ${missing} is not in ${RESULTS_STREAM}`);
    }
    const outputHash = await this.objects.put(encodeTensor(concatItems(outputs as Tensor[])));
    await this.jobs.execute(jobId, { type: 'CompleteJob', data: { outputHash }, metadata: commandMetadata(new Date(), `integrate-${jobId}`) });
    return outputHash;
  }
}
