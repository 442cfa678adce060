import { headers as natsHeaders } from '@nats-io/transport-node';
import { AckPolicy, DeliverPolicy, type ConsumerMessages, type JetStreamClient, type JetStreamManager, type JsMsg } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import { INLINE_LIMIT_BYTES, RESULT_HEADERS, SHARDS_STREAM, WORK_HEADERS, resultSubject, shardSubject } from '@weai/contracts';
import type { ContentStore } from '@weai/messaging';
import { type Tensor, encodeTensor, sha256 } from '@weai/tensors';
import { ShardError, type ShardExecutor } from './executor';

/** Deliveries of one work item (lease expiries on dead nodes) before it is reported as failing. */
export const MAX_LEASES = 20;
/** The default lease on a work item; extended with in-progress acks every third of it while the shard runs. */
export const LEASE_MS = 15_000;

/** What the worker tells the agent about (logs, status, tests). */
export type WorkerEvent =
  | { kind: 'started'; jobId: string; shard: number; replica: number }
  | { kind: 'completed'; jobId: string; shard: number; replica: number; computeMs: number }
  | { kind: 'failed'; jobId: string; shard: number; replica: number; reason: string }
  | { kind: 'released'; jobId: string; shard: number; replica: number; reason: string };

export interface WorkerOptions {
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly objects: ContentStore;
  readonly executor: ShardExecutor;
  readonly nodeId: string;
  /** Capability classes served, most demanding first. */
  readonly classes: readonly string[];
  /** Shards run at once. */
  readonly slots: number;
  /** Jobs that no longer want results (the scheduler's job-status bucket). */
  readonly jobStatus?: KV;
  /** Lease on a work item (the shared consumer's ack wait, set by whichever node creates it first). */
  readonly leaseMs?: number;
  /** Changes an output before it is reported: used by tests to play a cheating node. */
  readonly tamper?: (output: Tensor) => Tensor;
  readonly onEvent?: (event: WorkerEvent) => void;
}

interface Work {
  jobId: string;
  shard: number;
  replica: number;
  attempt: number;
  model: string;
  input: string;
  inputRef: boolean;
  inputName?: string;
  outputName?: string;
}

function parseWork(msg: JsMsg): Work | undefined {
  const h = msg.headers;
  const num = (k: string) => Number(h?.get(k));
  const w = {
    jobId: h?.get(WORK_HEADERS.job) ?? '',
    shard: num(WORK_HEADERS.shard),
    replica: num(WORK_HEADERS.replica),
    attempt: num(WORK_HEADERS.attempt),
    model: h?.get(WORK_HEADERS.model) ?? '',
    input: h?.get(WORK_HEADERS.input) ?? '',
    inputRef: h?.get(WORK_HEADERS.inputRef) === 'object',
    inputName: h?.get(WORK_HEADERS.inputName) || undefined,
    outputName: h?.get(WORK_HEADERS.outputName) || undefined,
  };
  const ok = /^[A-Za-z0-9_-]{1,128}$/.test(w.jobId) && [w.shard, w.replica, w.attempt].every((n) => Number.isSafeInteger(n) && n >= 0) && /^[0-9a-f]{64}$/.test(w.model) && /^[0-9a-f]{64}$/.test(w.input);
  return ok ? w : undefined;
}

/**
 * Takes shards from the work queue of each capability class the node serves, only while it has
 * a free slot, runs them, reports results, and acknowledges the work item last: a node that
 * dies mid-shard never acknowledges, its lease expires, and another node runs the shard.
 */
export class ShardWorker {
  private readonly subscriptions: ConsumerMessages[] = [];
  private readonly running = new Map<JsMsg, Work>();
  private readonly done = new Set<string>();
  private free: number;
  private waiters: Array<() => void> = [];
  private paused: string | undefined;
  private pumps: Promise<void>[] = [];

  constructor(private readonly options: WorkerOptions) {
    this.free = options.slots;
  }

  async start(): Promise<void> {
    for (const cls of this.options.classes) {
      const durable = `shards-${cls.replace(/\./g, '_')}`;
      await ensureShardConsumer(this.options.jsm, durable, shardSubject(cls), this.options.leaseMs ?? LEASE_MS);
      const consumer = await this.options.js.consumers.get(SHARDS_STREAM, durable);
      const messages = await consumer.consume({ max_messages: this.options.slots });
      this.subscriptions.push(messages);
      this.pumps.push(this.pump(messages));
    }
  }

  /** Shards in progress. */
  activeShards(): number {
    return this.running.size;
  }

  /**
   * Stops taking work and hands back the leases of the shards in progress at once, so they run
   * elsewhere (the owner wants the GPU back). `resume()` starts taking work again.
   */
  release(reason: string): number {
    this.paused = reason;
    let n = 0;
    for (const [msg, w] of this.running) {
      msg.nak();
      this.running.delete(msg);
      this.options.onEvent?.({ kind: 'released', jobId: w.jobId, shard: w.shard, replica: w.replica, reason });
      n++;
    }
    return n;
  }

  resume(): void {
    this.paused = undefined;
    this.waiters.splice(0).forEach((w) => w());
  }

  async stop(): Promise<void> {
    this.release('agent stopping');
    await Promise.all(this.subscriptions.map((s) => s.close()));
    await Promise.all(this.pumps);
  }

  private async pump(messages: ConsumerMessages): Promise<void> {
    for await (const msg of messages) {
      while (this.free === 0 || this.paused) {
        if (this.paused) {
          msg.nak();
          break;
        }
        msg.working();
        await new Promise<void>((r) => this.waiters.push(r));
      }
      if (this.paused) continue;
      this.free--;
      void this.handle(msg).finally(() => {
        this.free++;
        this.waiters.shift()?.();
      });
    }
  }

  private async handle(msg: JsMsg): Promise<void> {
    const work = parseWork(msg);
    if (!work) {
      msg.term('malformed work item');
      return;
    }
    const key = `${work.jobId}.${work.shard}`;
    if (this.options.jobStatus) {
      const status = await this.options.jobStatus.get(work.jobId).catch(() => null);
      if (status && status.operation === 'PUT') {
        msg.term(`job ${status.string()}`);
        return;
      }
    }
    if (this.done.has(key)) {
      // Another replica of a shard this node already ran: it must come from another node.
      msg.nak(250);
      return;
    }
    if (msg.info.deliveryCount > MAX_LEASES) {
      await this.report(work, undefined, `leased ${MAX_LEASES} times without finishing`, false);
      msg.term();
      return;
    }
    this.running.set(msg, work);
    this.options.onEvent?.({ kind: 'started', jobId: work.jobId, shard: work.shard, replica: work.replica });
    const keepAlive = setInterval(() => this.running.has(msg) && msg.working(), (this.options.leaseMs ?? LEASE_MS) / 3);
    try {
      const input = work.inputRef ? await this.options.objects.get(work.input) : msg.data;
      if (!input || sha256(input) !== work.input) throw new ShardError('shard input does not match its hash', true);
      const started = performance.now();
      let output = await this.options.executor.run(work.model, input, { input: work.inputName, output: work.outputName });
      const computeMs = performance.now() - started;
      if (this.options.tamper) output = this.options.tamper(output);
      if (!this.running.has(msg)) return; // released meanwhile: another node runs it
      await this.report(work, { output, computeMs });
      this.done.add(key);
      if (this.done.size > 100_000) this.done.delete(this.done.values().next().value!);
      msg.ack();
      this.options.onEvent?.({ kind: 'completed', jobId: work.jobId, shard: work.shard, replica: work.replica, computeMs });
    } catch (error) {
      if (!this.running.has(msg)) return;
      const reason = (error as Error).message ?? String(error);
      await this.report(work, undefined, reason, error instanceof ShardError ? error.retryable : true).then(
        () => msg.ack(),
        () => msg.nak(1000),
      );
      this.options.onEvent?.({ kind: 'failed', jobId: work.jobId, shard: work.shard, replica: work.replica, reason });
    } finally {
      clearInterval(keepAlive);
      this.running.delete(msg);
    }
  }

  /** Publishes a result (or a failure) and waits until JetStream has it. */
  private async report(work: Work, result: { output: Tensor; computeMs: number } | undefined, error?: string, retryable?: boolean): Promise<void> {
    const h = natsHeaders();
    h.set(RESULT_HEADERS.job, work.jobId);
    h.set(RESULT_HEADERS.shard, String(work.shard));
    h.set(RESULT_HEADERS.replica, String(work.replica));
    h.set(RESULT_HEADERS.attempt, String(work.attempt));
    h.set(RESULT_HEADERS.node, this.options.nodeId);
    let body: Uint8Array = new Uint8Array(0);
    if (result) {
      const bytes = encodeTensor(result.output);
      const hash = sha256(bytes);
      h.set(RESULT_HEADERS.output, hash);
      h.set(RESULT_HEADERS.computeMs, result.computeMs.toFixed(3));
      if (bytes.byteLength > INLINE_LIMIT_BYTES) {
        await this.options.objects.put(bytes);
        h.set(RESULT_HEADERS.outputRef, 'object');
      } else {
        body = bytes;
      }
    } else {
      h.set(RESULT_HEADERS.error, (error ?? 'failed').replace(/[\r\n]+/g, ' ').slice(0, 900));
      h.set(RESULT_HEADERS.retryable, String(retryable ?? true));
    }
    await this.options.js.publish(resultSubject(work.jobId, work.shard, work.replica), body, {
      headers: h,
      msgID: `${work.jobId}.${work.shard}.${work.replica}.${work.attempt}.${this.options.nodeId}`,
    });
  }
}

/** The shared work-queue consumer of one capability class (every node of the class pulls from it). */
export async function ensureShardConsumer(jsm: JetStreamManager, durable: string, subject: string, leaseMs = LEASE_MS): Promise<void> {
  try {
    await jsm.consumers.info(SHARDS_STREAM, durable);
  } catch {
    await jsm.consumers
      .add(SHARDS_STREAM, {
        durable_name: durable,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        filter_subject: subject,
        ack_wait: leaseMs * 1_000_000,
        max_deliver: -1,
        max_ack_pending: 10_000,
      })
      .catch(async (error: unknown) => {
        // Another node created it at the same moment.
        await jsm.consumers.info(SHARDS_STREAM, durable).catch(() => {
          throw error;
        });
      });
  }
}
