import { DeliverPolicy, type JetStreamManager, type JsMsg } from '@nats-io/jetstream';
import { RESULTS_STREAM, RESULT_HEADERS, holdsLease, resultSubject } from '@weai/contracts';
import { type ContentStore, MalformedMessageError } from '@weai/messaging';
import { type Tensor, agreeWithin, decodeTensor, sha256 } from '@weai/tensors';
import { randomInt } from 'node:crypto';
import { commandMetadata } from './metadata';
import type { JobRepository } from './job.repository';
import { type NodeDirectory, TRUST_AFTER_VALID } from './node-directory';

/** A result message's headers, checked. */
interface ResultHeaders {
  jobId: string;
  shardIndex: number;
  replica: number;
  attempt: number;
  nodeId: string;
}

function int(msg: JsMsg, name: string): number {
  // Decimal digits only: Number() reads a missing header ('') as 0, and takes '0x10' or '1e3' too.
  const raw = msg.headers?.get(name) ?? '';
  const v = Number(raw);
  if (!/^(0|[1-9][0-9]*)$/.test(raw) || !Number.isSafeInteger(v)) throw new MalformedMessageError(`result ${msg.seq}: header ${name} must be a non-negative integer`);
  return v;
}

function text(msg: JsMsg, name: string): string {
  const v = msg.headers?.get(name) ?? '';
  if (!/^[A-Za-z0-9_-]{1,128}$/.test(v)) throw new MalformedMessageError(`result ${msg.seq}: header ${name} is missing or not an id`);
  return v;
}

/**
 * Checks a result message's headers, and that they name the result its subject does (earlier
 * replicas are read back by subject); throws MalformedMessageError (the message is parked).
 */
export function resultHeaders(msg: JsMsg): ResultHeaders {
  const h = { jobId: text(msg, RESULT_HEADERS.job), shardIndex: int(msg, RESULT_HEADERS.shard), replica: int(msg, RESULT_HEADERS.replica), attempt: int(msg, RESULT_HEADERS.attempt), nodeId: text(msg, RESULT_HEADERS.node) };
  if (msg.subject !== resultSubject(h.jobId, h.shardIndex, h.replica, h.nodeId)) throw new MalformedMessageError(`result ${msg.seq}: its headers name another result than its subject ${msg.subject}`);
  return h;
}

/**
 * Turns result messages into decisions: the output is checked against its hash and format,
 * compared within the job's tolerance with the other replicas of its shard, and the job decider
 * records it, validates the shard, or asks for another replica.
 */
export class ResultHandler {
  /**
   * Outputs of the shards being validated, by shard (`job.shard`) and output hash. By hash, not by
   * replica: a replica can be reported by two nodes (a lease that expired on a slow node, then ran
   * elsewhere); only the first result counts, and a later one of another output must not stand in
   * for it when the next replica is compared (a cheater's result was accepted so).
   */
  private readonly outputs = new Map<string, Map<string, Tensor>>();

  constructor(
    private readonly jobs: JobRepository,
    private readonly nodes: NodeDirectory,
    private readonly jsm: JetStreamManager,
    private readonly objects: ContentStore,
  ) {}

  async handle(msg: JsMsg): Promise<void> {
    const h = resultHeaders(msg);
    // Memory serves unless it says the result is not needed, which only the store can confirm
    // (another scheduler may have moved the job on); the decision itself is taken in the job's turn.
    const held = this.jobs.peek(h.jobId);
    const state = held?.status === 'running' && held.shards[h.shardIndex]?.phase === 'pending' ? held : await this.jobs.load(h.jobId);
    if (state.status !== 'running') return;
    const shard = state.shards[h.shardIndex];
    if (!shard || shard.phase !== 'pending') return;
    // Only the node that leased the work item holds its token (results and failures alike): a
    // result without it is another node's claim on a replica it was not given — kept for operators.
    if (state.leaseSecret && !holdsLease(msg.headers?.get(RESULT_HEADERS.leaseToken), state.leaseSecret, h.shardIndex, h.replica, h.attempt)) {
      throw new MalformedMessageError(`result ${msg.seq}: node ${h.nodeId} does not hold the lease of replica ${h.replica} (attempt ${h.attempt}) of shard ${h.shardIndex} of job ${h.jobId}`);
    }
    const meta = commandMetadata(new Date(), `result-${h.jobId}-${h.shardIndex}-${h.replica}-${h.attempt}-${h.nodeId}`);
    const failure = (reason: string, retryable: boolean) =>
      this.jobs.execute(h.jobId, { type: 'RecordFailure', data: { ...h, reason: reason.slice(0, 1000), retryable }, metadata: meta });

    const error = msg.headers?.get(RESULT_HEADERS.error);
    if (error) {
      await failure(`node ${h.nodeId}: ${error}`, msg.headers?.get(RESULT_HEADERS.retryable) === 'true');
      return;
    }
    const outputHash = msg.headers?.get(RESULT_HEADERS.output) ?? '';
    const output = await this.outputOf(msg, outputHash).catch((e: unknown) => e as Error);
    if (output instanceof Error) {
      await failure(`node ${h.nodeId} sent an unusable output: ${output.message}`, true);
      return;
    }
    const node = await this.nodes.get(h.nodeId);
    if (!node) throw new Error(`node ${h.nodeId} is not known yet; retrying`);
    const shardKey = `${h.jobId}.${h.shardIndex}`;
    this.outputs.set(shardKey, (this.outputs.get(shardKey) ?? new Map<string, Tensor>()).set(outputHash, output));
    const { state: after } = await this.jobs.executeWith(h.jobId, async (current) => {
      if (current.status !== 'running') return undefined;
      const pending = current.shards[h.shardIndex];
      if (!pending || pending.phase !== 'pending') return undefined;
      // Compared inside the job's turn: a replica decided meanwhile is compared too.
      const agreesWith: number[] = [];
      const sameOwnerAs: number[] = [];
      for (const earlier of pending.results) {
        const other = await this.replicaOutput(h.jobId, h.shardIndex, earlier.replica, earlier.nodeId, earlier.outputHash);
        if (other && agreeWithin(output, other, current.spec.redundancy.tolerance)) agreesWith.push(earlier.replica);
        // Owners are compared here, not recorded in the job's events (partners read those).
        if ((await this.nodes.get(earlier.nodeId))?.ownerId === node.ownerId) sameOwnerAs.push(earlier.replica);
      }
      return {
        type: 'RecordResult',
        data: {
          ...h,
          sameOwnerAs,
          outputHash,
          computeMs: Math.max(0, Number(msg.headers?.get(RESULT_HEADERS.computeMs)) || 0),
          agreesWith,
          nodeTrusted: node.consecutiveValid >= TRUST_AFTER_VALID && !node.quarantined,
          spotCheckDraw: randomInt(0, 1_000_000) / 1_000_000,
          nodeQuarantined: node.quarantined,
        },
        metadata: meta,
      };
    });
    if (after.status !== 'running' || after.shards[h.shardIndex]?.phase !== 'pending') {
      this.outputs.delete(shardKey);
    }
  }

  /** The output a result message carries (inline, or as an object), checked against its hash and decoded. */
  private async outputOf(msg: Pick<JsMsg, 'data' | 'headers'>, outputHash: string): Promise<Tensor> {
    if (!/^[0-9a-f]{64}$/.test(outputHash)) throw new Error('no output hash');
    const bytes = msg.headers?.get(RESULT_HEADERS.outputRef) === 'object' ? await this.objects.get(outputHash) : await this.objects.openInline(msg.data, outputHash);
    if (!bytes) throw new Error(`output object ${outputHash} is missing`);
    if (sha256(bytes) !== outputHash) throw new Error('output does not match its hash');
    return decodeTensor(bytes);
  }

  /**
   * The output an earlier replica's recorded result carries (`outputHash`, reported by `nodeId`),
   * from memory or from the results stream: that node's subject for the replica, its last message
   * when it is that result (the usual case), else its messages in order until it.
   */
  async replicaOutput(jobId: string, shardIndex: number, replica: number, nodeId: string, outputHash: string): Promise<Tensor | undefined> {
    const cached = this.outputs.get(`${jobId}.${shardIndex}`)?.get(outputHash);
    if (cached) return cached;
    const subject = resultSubject(jobId, shardIndex, replica, nodeId);
    const last = await this.jsm.direct.getMessage(RESULTS_STREAM, { last_by_subj: subject }).catch(() => null);
    if (last && last.header.get(RESULT_HEADERS.output) === outputHash) return this.outputOf({ data: last.data, headers: last.header }, outputHash).catch(() => undefined);
    if (!last) return undefined;
    const consumer = await this.jsm.jetstream().consumers.get(RESULTS_STREAM, { deliver_policy: DeliverPolicy.All, filter_subjects: subject });
    const messages = await consumer.consume({ max_messages: 64 });
    try {
      for await (const m of messages) {
        if (m.headers?.get(RESULT_HEADERS.output) === outputHash) return await this.outputOf(m, outputHash).catch(() => undefined);
        if (m.info.pending === 0) break;
      }
    } finally {
      await messages.close();
    }
    return undefined;
  }
}
