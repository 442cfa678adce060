import { DeliverPolicy, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { RESULTS_STREAM, RESULT_HEADERS, resultSubject } from '@weai/contracts';
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
    private readonly jsm: JetStreamManager,
    private readonly jobs: JobRepository,
    private readonly objects: ContentStore,
  ) {}

  /** Integrations in progress, by job: the ShardValidated events behind the last one wait for it. */
  private readonly running = new Map<string, Promise<string | undefined>>();

  /**
   * Integrates the job if every shard is validated. `revision` is the revision of the event that
   * asks (a ShardValidated): memory is trusted only once it holds that event, since the event may
   * have been appended by another replica and this one's memory may be older than it.
   */
  async integrateIfDone(jobId: string, revision?: number): Promise<string | undefined> {
    // Most ShardValidated events arrive while shards are still missing, or after the job ended:
    // the memory says so at no cost (a job that ended stays ended).
    const held = this.jobs.peek(jobId, revision);
    if (held && held.status === 'running' && held.validated < held.shards.length) return undefined;
    if (held && held.status !== 'running' && held.status !== 'none') return undefined;
    let integration = this.running.get(jobId);
    if (!integration) {
      integration = this.integrate(jobId).finally(() => this.running.delete(jobId));
      this.running.set(jobId, integration);
    }
    return integration;
  }

  private async integrate(jobId: string): Promise<string | undefined> {
    const state = await this.jobs.load(jobId);
    if (state.status !== 'running' || state.validated !== state.shards.length || state.shards.length === 0) return undefined;
    const outputs: Array<Tensor | undefined> = new Array(state.shards.length);
    const accept = (index: number, bytes: Uint8Array | null | undefined) => {
      const shard = state.shards[index];
      if (outputs[index] || shard?.phase !== 'validated' || !bytes || sha256(bytes) !== shard.outputHash) return false;
      outputs[index] = decodeTensor(bytes);
      return true;
    };
    const fetchOutput = async (index: number, data: Uint8Array, headers: { get(name: string): string } | undefined) => {
      const shard = state.shards[index];
      if (shard?.phase !== 'validated' || headers?.get(RESULT_HEADERS.output) !== shard.outputHash) return false;
      return accept(index, headers.get(RESULT_HEADERS.outputRef) === 'object' ? await this.objects.get(shard.outputHash) : await this.objects.openInline(data, shard.outputHash));
    };
    // Each accepted output by its subject (the last message of a replica's subject is its latest
    // attempt): no consumer that the server must position in a stream holding every job's results.
    let found = 0;
    const indexes = [...state.shards.keys()];
    await Promise.all(
      Array.from({ length: Math.min(32, indexes.length) }, async () => {
        for (let index = indexes.pop(); index !== undefined; index = indexes.pop()) {
          const shard = state.shards[index]!;
          if (shard.phase !== 'validated') continue;
          const stored = await this.jsm.direct.getMessage(RESULTS_STREAM, { last_by_subj: resultSubject(jobId, index, shard.acceptedReplica, shard.acceptedNodeId) }).catch(() => null);
          if (stored && (await fetchOutput(index, stored.data, stored.header))) found++;
        }
      }),
    );
    if (found < state.shards.length) {
      // An accepted result that is no longer its subject's last: read the job's results in order.
      const consumer = await this.js.consumers.get(RESULTS_STREAM, { deliver_policy: DeliverPolicy.All, filter_subjects: `weai.result.${jobId}.>` });
      const messages = await consumer.consume({ max_messages: 1024 });
      try {
        for await (const m of messages) {
          const [indexToken, replicaToken, nodeId] = m.subject.split('.').slice(3);
          const [index, replica] = [Number(indexToken), Number(replicaToken)];
          const shard = state.shards[index];
          if (shard?.phase === 'validated' && shard.acceptedReplica === replica && shard.acceptedNodeId === nodeId && !outputs[index] && (await fetchOutput(index, m.data, m.headers))) found++;
          if (found === state.shards.length || m.info.pending === 0) break;
        }
      } finally {
        await messages.close();
      }
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
