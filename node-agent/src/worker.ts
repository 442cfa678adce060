import { headers as natsHeaders } from '@nats-io/transport-node';
import { AckPolicy, DeliverPolicy, type Consumer, type ConsumerMessages, type JetStreamClient, type JetStreamManager, type JsMsg } from '@nats-io/jetstream';
import type { KV, KvWatchEntry } from '@nats-io/kv';
import { INLINE_LIMIT_BYTES, RESULT_HEADERS, SHARDS_STREAM, WORK_HEADERS, jobKeyId, objectKeyId, resultSubject, shardSubject } from '@weai/contracts';
import type { DataKeyClient, LeaseKeys } from '@weai/messaging/src/data-keys';
import { type ContentStore, ObjectIntegrityError } from '@weai/messaging/src/objects';
import { type DataKey, type KeyResolver, SealError, isSealed, openPayload, sealPayload, sealedKeyId } from '@weai/messaging/src/sealed';
import { SpanKind, extractTrace, inSpan, injectTrace, markActiveSpanFailed } from '@weai/messaging/src/tracing';
import { type Tensor, encodeTensor, sha256 } from '@weai/tensors';
import { ShardError, type ShardExecutor } from './executor';
import { shardMetrics } from './metrics';

/** Deliveries of one work item (lease expiries on dead nodes) before it is reported as failing. */
export const MAX_LEASES = 20;

/**
 * Whether a work item has been leased MAX_LEASES times without finishing (the nodes that took it
 * died or hung): more deliveries than that, and at least as old as that many leases. Refusals are
 * deliveries too, quick ones — a verification replica handed back by the nodes it excludes while
 * the one node that may run it is busy — and counting them alone failed the shard (and with it the
 * job) after ~20 s of refusals; each lease expiry takes a whole lease.
 */
export function leasesSpent(deliveryCount: number, ageMs: number, leaseMs: number): boolean {
  return deliveryCount > MAX_LEASES && ageMs >= MAX_LEASES * leaseMs;
}
/** The default lease on a work item; extended with in-progress acks every third of it while the shard runs. */
export const LEASE_MS = 15_000;
/**
 * A node with free slots that got no work item for this long, while the queue holds some,
 * subscribes again. An idle node asks for the queue's state at most once per this period: with
 * 100,000 idle nodes that is ~1,700 small requests a second, against ~3,300 for their pull requests
 * (the library's 30 s expiry, kept for agents for that reason; services pull every 10 s).
 */
const STALL_AFTER_MS = 60_000;
/** Longest wait (before the random share) before a work item this node refused is handed out again. */
const REFUSAL_DELAY_MAX_MS = 2000;
const STALL_CHECK_MS = 10_000;

/**
 * The shards a node has finished or is running, shared by all its workers (lanes): replicas of
 * one shard must come from different nodes. A node never runs a shard twice at once; it runs a
 * shard it finished before only when the work item says it may (see `begin`).
 */
export class ShardLedger {
  private readonly done = new Set<string>();
  private readonly active = new Set<string>();

  /**
   * Whether this node may start the shard now; if so it is marked as running. `mayRepeat` is
   * the scheduler's word, from the item's `Weai-Exclude-Nodes`: true when it holds no result of
   * this node for the shard (the node ran it before, but its lease had expired and another node's
   * result counted), so this node is as good a verifier as any. Without it (a first replica) a
   * node that finished the shard leaves it to others.
   */
  begin(key: string, mayRepeat = false): boolean {
    if (this.refuses(key, mayRepeat)) return false;
    this.active.add(key);
    return true;
  }

  /** Whether `begin` would refuse the shard now (it marks nothing). */
  refuses(key: string, mayRepeat = false): boolean {
    return this.active.has(key) || (this.done.has(key) && !mayRepeat);
  }

  /** The shard stopped running; `completed` remembers it for good. */
  end(key: string, completed: boolean): void {
    this.active.delete(key);
    if (!completed) return;
    this.done.add(key);
    if (this.done.size > 100_000) this.done.delete(this.done.values().next().value!);
  }
}

/** Ended jobs remembered from the job-status watch; the oldest are forgotten beyond this. */
const ENDED_JOBS_MAX = 100_000;
/** Pause before the job-status watch is opened again after it failed or ended; doubled up to the cap. */
const WATCH_RETRY_MS = 1000;
const WATCH_RETRY_MAX_MS = 30_000;
type KvWatcher = Awaited<ReturnType<KV['watch']>>;

/**
 * Which jobs ended (want no more results), kept from one watch of the scheduler's job-status
 * bucket: asking the bucket for each work item cost a request round trip per shard (~10 % of
 * agent CPU in no-op jobs). Until the watch has delivered the bucket's values, or while it is down
 * (reopened after a pause), each question is asked of the bucket as before.
 */
export class JobStatusWatch {
  private readonly ended = new Set<string>();
  /** The watch has delivered the bucket's last values: `ended` answers alone. */
  private ready = false;
  private watcher: KvWatcher | undefined;
  private stopped = false;
  private retry: NodeJS.Timeout | undefined;
  private retryMs = WATCH_RETRY_MS;

  constructor(
    private readonly kv: KV,
    private readonly warn: (message: string) => void,
  ) {}

  /** Opens the watch; a failure is reported and retried in the background. */
  async start(): Promise<void> {
    this.stopped = false;
    await this.open();
  }

  stop(): void {
    this.stopped = true;
    this.ready = false;
    clearTimeout(this.retry);
    this.watcher?.stop();
    this.watcher = undefined;
  }

  /** Whether the job ended; from the watch once it is ready, else from the bucket (an error counts as not ended). */
  async hasEnded(jobId: string): Promise<boolean> {
    if (this.ready) return this.ended.has(jobId);
    const status = await this.kv.get(jobId).catch(() => null);
    return status?.operation === 'PUT';
  }

  /** Whether the job is known to have ended without asking anyone (false while the watch is not ready). */
  knownEnded(jobId: string): boolean {
    return this.ready && this.ended.has(jobId);
  }

  private async open(): Promise<void> {
    let watcher: KvWatcher | undefined;
    try {
      watcher = await this.kv.watch();
      // The library marks only entries after the initial ones (and the last of those) as updates,
      // so an empty bucket gives no such signal: it is ready at once.
      const empty = (await this.kv.status()).values === 0;
      if (this.stopped) return watcher.stop();
      this.watcher = watcher;
      this.ended.clear();
      if (empty) this.markReady();
      void this.follow(watcher);
    } catch (error) {
      watcher?.stop();
      this.reopenLater(`cannot watch the job status: ${(error as Error).message}`);
    }
  }

  private async follow(watcher: KvWatcher): Promise<void> {
    let why = 'the job status watch ended';
    try {
      for await (const entry of watcher) this.apply(entry);
    } catch (error) {
      why = `the job status watch failed: ${(error as Error).message}`;
    }
    if (this.watcher !== watcher) return; // stopped, or replaced
    this.watcher = undefined;
    this.reopenLater(why);
  }

  private apply(entry: KvWatchEntry): void {
    if (entry.operation === 'PUT') {
      this.ended.add(entry.key);
      if (this.ended.size > ENDED_JOBS_MAX) this.ended.delete(this.ended.values().next().value!);
    } else {
      this.ended.delete(entry.key);
    }
    if (entry.isUpdate && !this.ready) this.markReady();
  }

  /** The bucket's values are in: the watch answers alone, and a later failure is retried soon again. */
  private markReady(): void {
    this.ready = true;
    this.retryMs = WATCH_RETRY_MS;
  }

  /** Falls back to asking the bucket, and opens the watch again after a pause that grows while it keeps failing. */
  private reopenLater(why: string): void {
    this.ready = false;
    if (this.stopped) return;
    this.warn(`${why}: asking for each job until it is open again`);
    this.retry = setTimeout(() => void this.open(), this.retryMs).unref();
    this.retryMs = Math.min(WATCH_RETRY_MAX_MS, this.retryMs * 2);
  }
}

/** A shard being run. */
export interface RunningShard {
  readonly jobId: string;
  readonly shard: number;
  readonly replica: number;
  /** When it started, ms since the epoch. */
  readonly startedAt: number;
}

/** What the worker tells the agent about (logs, status, tests). */
export type WorkerEvent =
  | { kind: 'started'; jobId: string; shard: number; replica: number }
  | { kind: 'completed'; jobId: string; shard: number; replica: number; computeMs: number }
  | { kind: 'failed'; jobId: string; shard: number; replica: number; reason: string }
  | { kind: 'released'; jobId: string; shard: number; replica: number; reason: string }
  /** A work item this node handed straight back for another node to take. */
  | { kind: 'skipped'; jobId: string; shard: number; replica: number; reason: string }
  | { kind: 'warning'; message: string };

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
  /** Shared by the node's workers; default: this worker's own. */
  readonly ledger?: ShardLedger;
  /** Why the worker takes no work until `resume()`; default: it takes work once started. */
  readonly heldReason?: string;
  /**
   * Where the data keys of a leased shard come from (the security service). Without it a shard
   * whose data is sealed fails (retryable: a node with keys may run it).
   */
  readonly keys?: DataKeyClient;
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
  sealed: boolean;
  /** Nodes that must not run this replica (`Weai-Exclude-Nodes`); undefined on a first replica. */
  excludeNodes?: string[];
  /** The item's lease token, copied into its result: proof that this node leased it. */
  leaseToken?: string;
}

/** A leased item's data keys and its input, being read (see `ShardWorker.prepare`). */
interface Prepared {
  readonly lease: LeaseKeys | undefined;
  readonly keys: KeyResolver;
  readonly input: Promise<Uint8Array>;
}

/** A work item waiting for a slot whose input is read ahead. */
interface Ahead {
  readonly work: Work;
  readonly prepared: Prepared;
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
    sealed: h?.get(WORK_HEADERS.sealed) === 'true',
    excludeNodes: h?.get(WORK_HEADERS.excludeNodes) ? h.get(WORK_HEADERS.excludeNodes).split(',') : undefined,
    leaseToken: h?.get(WORK_HEADERS.leaseToken) || undefined,
  };
  const ok = /^[A-Za-z0-9_-]{1,128}$/.test(w.jobId) && [w.shard, w.replica, w.attempt].every((n) => Number.isSafeInteger(n) && n >= 0) && /^[0-9a-f]{64}$/.test(w.model) && /^[0-9a-f]{64}$/.test(w.input);
  return ok ? w : undefined;
}

/**
 * Takes shards from the work queue of each capability class the node serves, only while it has
 * a free slot and the owner's policy lets it, runs them, reports results, and acknowledges the
 * work item last: a node that dies mid-shard never acknowledges, its lease expires, and another
 * node runs the shard.
 *
 * The policy drives it: `release(reason)` (yield now) hands back every lease at once and stops
 * the shards' runner processes; `hold(reason)` (stay idle) lets running shards finish and takes
 * nothing new; `resume()` takes work again. While held it does not pull from the queues at all,
 * so an idle node costs the server and itself nothing.
 */
export class ShardWorker {
  private consumers: Consumer[] = [];
  private subscriptions: ConsumerMessages[] = [];
  private pumps: Promise<void>[] = [];
  private readonly running = new Map<JsMsg, { work: Work; abort: AbortController; startedAt: number }>();
  private readonly ledger: ShardLedger;
  private free: number;
  private waiters: Array<() => void> = [];
  private paused: string | undefined;
  private started = false;
  private stopping = false;
  private consuming = false;
  private switching: Promise<void> = Promise.resolve();
  /** When a work item last arrived, or the subscriptions were last opened (performance.now()). */
  private lastDelivery = 0;
  private watchdog: NodeJS.Timeout | undefined;
  /** Items waiting for a slot whose input is being read ahead; at most one per slot (memory: slots × input). */
  private readingAhead = 0;
  private readonly jobs: JobStatusWatch | undefined;

  constructor(private readonly options: WorkerOptions) {
    this.free = options.slots;
    this.ledger = options.ledger ?? new ShardLedger();
    this.paused = options.heldReason;
    this.jobs = options.jobStatus && new JobStatusWatch(options.jobStatus, (message) => options.onEvent?.({ kind: 'warning', message }));
  }

  /** Makes sure the queues' consumers exist, then takes work unless held. */
  async start(): Promise<void> {
    for (const cls of this.options.classes) {
      const durable = `shards-${cls.replace(/\./g, '_')}`;
      await ensureShardConsumer(this.options.jsm, durable, shardSubject(cls), this.options.leaseMs ?? LEASE_MS);
      this.consumers.push(await this.options.js.consumers.get(SHARDS_STREAM, durable));
    }
    await this.jobs?.start();
    this.started = true;
    this.sync();
    await this.switching;
    this.watchdog ??= setInterval(() => void this.checkStalled(), STALL_CHECK_MS).unref();
  }

  /**
   * The watchdog of the queue subscriptions. A subscription that ended (the client library gives
   * up on some errors during a NATS fail-over) is reopened by its pump; one that went silent is
   * found here: free slots, no work item for STALL_AFTER_MS, and yet the queue holds work that
   * nobody has taken. Then the subscriptions are closed and opened again.
   */
  private async checkStalled(): Promise<void> {
    if (!this.consuming || this.free === 0 || performance.now() - this.lastDelivery < STALL_AFTER_MS) return;
    let waiting = 0;
    for (const consumer of this.consumers) {
      const info = await consumer.info().catch(() => undefined);
      waiting += info?.num_pending ?? 0;
    }
    this.lastDelivery = performance.now(); // asked: the next question after another quiet period
    if (waiting === 0 || !this.consuming) return;
    this.options.onEvent?.({ kind: 'warning', message: `no work item for ${Math.round(STALL_AFTER_MS / 1000)} s while ${waiting} wait in the queue: subscribing again` });
    this.switching = this.switching.then(() => this.closeSubscriptions());
    this.sync();
  }

  /** Shards in progress. */
  activeShards(): number {
    return this.running.size;
  }

  /** The shards in progress. */
  current(): RunningShard[] {
    return [...this.running.values()].map(({ work, startedAt }) => ({ jobId: work.jobId, shard: work.shard, replica: work.replica, startedAt }));
  }

  /** Why the worker takes no work, or undefined while it does. */
  heldBecause(): string | undefined {
    return this.paused;
  }

  /**
   * Stops taking work and hands back the leases of the shards in progress at once, so they run
   * elsewhere (the owner wants the machine back); their runner processes are stopped. Returns how
   * many leases were handed back. `resume()` starts taking work again.
   */
  release(reason: string): number {
    this.hold(reason);
    let n = 0;
    for (const [msg, { work, abort }] of this.running) {
      msg.nak();
      this.running.delete(msg);
      abort.abort(reason);
      shardMetrics.released();
      this.options.onEvent?.({ kind: 'released', jobId: work.jobId, shard: work.shard, replica: work.replica, reason });
      n++;
    }
    return n;
  }

  /** Takes no new work; the shards in progress finish. */
  hold(reason: string): void {
    this.paused = reason;
    this.waiters.splice(0).forEach((w) => w());
    this.sync();
  }

  /** Takes work again. */
  resume(): void {
    this.paused = undefined;
    this.waiters.splice(0).forEach((w) => w());
    this.sync();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.watchdog);
    this.jobs?.stop();
    this.release('agent stopping');
    await this.switching;
  }

  /** Opens or closes the queue subscriptions to match the wanted state, one change at a time. */
  private sync(): void {
    this.switching = this.switching
      .then(() => this.switchConsuming())
      .catch((error: unknown) => {
        // NATS unreachable, for instance: try again shortly (the policy will not ask twice).
        this.options.onEvent?.({ kind: 'warning', message: `cannot ${this.consuming ? 'stop' : 'start'} taking work: ${(error as Error).message}` });
        setTimeout(() => this.sync(), 1000).unref();
      });
  }

  private async switchConsuming(): Promise<void> {
    const want = this.started && !this.stopping && this.paused === undefined;
    if (want && !this.consuming) {
      this.consuming = true;
      try {
        this.lastDelivery = performance.now();
        for (const consumer of this.consumers) {
          const messages = await consumer.consume({ max_messages: this.options.slots });
          this.subscriptions.push(messages);
          this.pumps.push(this.pump(messages));
        }
      } catch (error) {
        await this.closeSubscriptions();
        throw error;
      }
    } else if (!want && this.consuming) {
      await this.closeSubscriptions();
    }
  }

  private async closeSubscriptions(): Promise<void> {
    this.consuming = false;
    const subs = this.subscriptions.splice(0);
    await Promise.all(subs.map((s) => s.close().catch(() => undefined)));
    await Promise.all(this.pumps.splice(0));
  }

  private async pump(messages: ConsumerMessages): Promise<void> {
    try {
      await this.take(messages);
    } catch (error) {
      this.options.onEvent?.({ kind: 'warning', message: `the work queue subscription failed: ${(error as Error).message}` });
    }
    // Ended while still wanted (not closed by closeSubscriptions, which empties the list first):
    // open the subscriptions again, after a pause so that a failing server is not hammered.
    if (this.consuming && this.subscriptions.includes(messages)) {
      this.options.onEvent?.({ kind: 'warning', message: 'the work queue subscription ended: subscribing again' });
      setTimeout(() => {
        if (!this.consuming || !this.subscriptions.includes(messages)) return;
        this.switching = this.switching.then(() => this.closeSubscriptions());
        this.sync();
      }, 1000).unref();
    }
  }

  private async take(messages: ConsumerMessages): Promise<void> {
    for await (const msg of messages) {
      this.lastDelivery = performance.now();
      const ahead = this.free === 0 && !this.paused ? this.readAhead(msg) : undefined;
      while (this.free === 0 && !this.paused) {
        msg.working();
        await new Promise<void>((r) => this.waiters.push(r));
      }
      if (ahead) this.readingAhead--;
      if (this.paused) {
        // Delivered before the subscription closed: hand it straight back (its input read ahead is dropped).
        msg.nak();
        continue;
      }
      this.free--;
      void this.handle(msg, ahead)
        .catch((error: unknown) => this.options.onEvent?.({ kind: 'warning', message: `shard handling failed: ${(error as Error).message}` }))
        .finally(() => {
          this.free++;
          this.waiters.shift()?.();
        });
    }
  }

  /**
   * Starts reading the input of an item that arrived while every slot is busy, so that it runs as
   * soon as a slot frees (a 1-slot node idled ~20 ms between ~27 ms cls shards reading it then).
   * Not for an item that will be refused as far as can be told now (`handle` decides for good),
   * nor beyond one item per slot. The node holds the item's lease, so it may ask for its keys.
   * Nor for a traced item (a job's first few shards): a key request made while reading its input
   * belongs in its shard span, which starts only when it runs.
   */
  private readAhead(msg: JsMsg): Ahead | undefined {
    if (this.readingAhead >= this.options.slots || extractTrace(msg.headers)) return undefined;
    const work = parseWork(msg);
    if (!work || this.refusesNow(msg, work)) return undefined;
    this.readingAhead++;
    return { work, prepared: this.prepare(msg, work) };
  }

  /** Whether `handle` would refuse the item or report it spent, told from what this node knows without asking. */
  private refusesNow(msg: JsMsg, work: Work): boolean {
    return (
      !!this.jobs?.knownEnded(work.jobId) ||
      !!work.excludeNodes?.includes(this.options.nodeId) ||
      this.ledger.refuses(`${work.jobId}.${work.shard}`, work.excludeNodes !== undefined) ||
      leasesSpent(msg.info.deliveryCount, Date.now() - msg.time.getTime(), this.options.leaseMs ?? LEASE_MS)
    );
  }

  private async handle(msg: JsMsg, ahead?: Ahead): Promise<void> {
    const work = ahead?.work ?? parseWork(msg);
    // Terminated without a reason: nats-server 2.9 ignores `+TERM <reason>`, and the item came back every lease.
    if (!work) {
      msg.term();
      return;
    }
    const key = `${work.jobId}.${work.shard}`;
    if (await this.jobs?.hasEnded(work.jobId)) {
      msg.term(); // the job ended: nobody needs this item any more
      return;
    }
    if (this.paused) {
      msg.nak(); // held meanwhile
      return;
    }
    const excluded = work.excludeNodes?.includes(this.options.nodeId);
    if (excluded || !this.ledger.begin(key, work.excludeNodes !== undefined)) {
      // A replica this node must leave to another node (the scheduler holds its result for the
      // shard), or a shard it is running or ran. Wait longer after each refusal (each is a delivery),
      // up to REFUSAL_DELAY_MAX_MS, and by a random amount: JetStream hands a redelivered item to the
      // first waiting pull, and two nodes each refusing the item the other must run fell into step
      // with equal delays — each got the wrong one again every round, for good (test/dashboard.e2e.spec.ts
      // stalled so). The cap bounds the tail of a job's verification replicas (bench:jobs, fresh nodes).
      msg.nak(Math.round(Math.min(REFUSAL_DELAY_MAX_MS, 100 * msg.info.deliveryCount) * (0.5 + Math.random())));
      this.options.onEvent?.({ kind: 'skipped', jobId: work.jobId, shard: work.shard, replica: work.replica, reason: excluded ? 'the scheduler holds this node’s result for it' : 'this node runs or ran the shard' });
      return;
    }
    if (leasesSpent(msg.info.deliveryCount, Date.now() - msg.time.getTime(), this.options.leaseMs ?? LEASE_MS)) {
      this.ledger.end(key, false);
      await this.report(work, undefined, `leased ${MAX_LEASES} times without finishing`, false).then(
        () => msg.term(),
        () => msg.nak(1000),
      );
      return;
    }
    // A work item the scheduler traced (the first shards of a job) runs in a CONSUMER span, child
    // of the scheduler's; its result carries this span on. Other items, and refusals, get no span.
    const parent = extractTrace(msg.headers);
    if (!parent) return this.execute(msg, work, key, ahead?.prepared);
    const attributes = {
      'messaging.system': 'nats',
      'messaging.destination.name': msg.subject,
      'weai.job.id': work.jobId,
      'weai.shard.index': work.shard,
      'weai.shard.replica': work.replica,
      'weai.node.id': this.options.nodeId,
      'weai.delivery': msg.info.deliveryCount,
    };
    return inSpan('shard execute', { kind: SpanKind.CONSUMER, parent, attributes }, () => this.execute(msg, work, key, ahead?.prepared));
  }

  /** Runs a leased shard (its input read ahead, or read now) and reports its result; the lease is acknowledged last. */
  private async execute(msg: JsMsg, work: Work, key: string, ahead?: Prepared): Promise<void> {
    let completed = false;
    const abort = new AbortController();
    this.running.set(msg, { work, abort, startedAt: Date.now() });
    this.options.onEvent?.({ kind: 'started', jobId: work.jobId, shard: work.shard, replica: work.replica });
    const keepAlive = setInterval(() => this.running.has(msg) && msg.working(), (this.options.leaseMs ?? LEASE_MS) / 3);
    const { lease, keys, input: reading } = ahead ?? this.prepare(msg, work);
    try {
      const input = await reading;
      const started = performance.now();
      let output = await this.options.executor.run(work.model, input, { input: work.inputName, output: work.outputName }, abort.signal, keys);
      const computeMs = performance.now() - started;
      if (this.options.tamper) output = this.options.tamper(output);
      if (!this.running.has(msg)) return; // released meanwhile: another node runs it
      await this.report(work, { output, computeMs, seal: await this.outputKey(work, lease, keys) });
      completed = true;
      msg.ack();
      shardMetrics.completed(computeMs / 1000);
      this.options.onEvent?.({ kind: 'completed', jobId: work.jobId, shard: work.shard, replica: work.replica, computeMs });
    } catch (error) {
      if (!this.running.has(msg)) return;
      const reason = (error as Error).message ?? String(error);
      if (!(error instanceof ShardError)) {
        // Not the shard's fault: the bus or the object store failed (a NATS server going away, say).
        // Reporting it would spend one of the shard's few attempts on the network; the lease goes
        // back instead, and this or another node takes it again (deliveries are bounded by MAX_LEASES).
        msg.nak(Math.min(5000, 500 * msg.info.deliveryCount));
        this.options.onEvent?.({ kind: 'released', jobId: work.jobId, shard: work.shard, replica: work.replica, reason: `could not run it: ${reason}` });
        return;
      }
      await this.report(work, undefined, reason, error instanceof ShardError ? error.retryable : true).then(
        () => msg.ack(),
        () => msg.nak(1000),
      );
      shardMetrics.failed();
      markActiveSpanFailed(reason);
      this.options.onEvent?.({ kind: 'failed', jobId: work.jobId, shard: work.shard, replica: work.replica, reason });
    } finally {
      clearInterval(keepAlive);
      this.running.delete(msg);
      this.ledger.end(key, completed);
    }
  }

  /**
   * The item's keys, asked for only when its data turns out sealed and only while this node holds
   * its lease, and its input, read from now on. A failed read is not unhandled when the item is
   * refused or handed back before it runs; `execute` awaits it and handles the error.
   */
  private prepare(msg: JsMsg, work: Work): Prepared {
    const lease = this.options.keys?.forLease([objectKeyId(work.model), objectKeyId(work.input), jobKeyId(work.jobId)], msg.info.streamSequence);
    const keys: KeyResolver = lease
      ? (id) => lease.key(id).catch((e: unknown) => Promise.reject(new ShardError(`no key for sealed shard data: ${(e as Error).message}`, true)))
      : (id) => Promise.reject(new ShardError(`shard data is sealed (${id}) and this agent has no key service`, true));
    const input = this.readInput(work, msg.data, keys);
    input.catch(() => undefined);
    return { lease, keys, input };
  }

  /** The shard's input bytes, verified against their hash; opened with the item's keys when sealed (inline or object). */
  private async readInput(work: Work, body: Uint8Array, keys: KeyResolver): Promise<Uint8Array> {
    let input: Uint8Array | undefined;
    try {
      // getOpened verifies the hash itself; an inline body is hashed once, opened only when it is not the plaintext.
      if (work.inputRef) input = await this.options.objects.getOpened(work.input, keys);
      else if (sha256(body) === work.input) return body;
      else if (isSealed(body)) input = openPayload(body, work.input, await keys(sealedKeyId(body)));
    } catch (error) {
      if (error instanceof SealError) throw new ShardError(`shard input cannot be opened: ${error.message}`, true);
      if (error instanceof ObjectIntegrityError) throw new ShardError('shard input does not match its hash', true);
      throw error;
    }
    if (!input || (!work.inputRef && sha256(input) !== work.input)) throw new ShardError('shard input does not match its hash', true);
    return input;
  }

  /** The job key the output is sealed with: when the item says its data is sealed, or sealed data was met. */
  private async outputKey(work: Work, lease: LeaseKeys | undefined, keys: KeyResolver) {
    return work.sealed || lease?.used() ? keys(jobKeyId(work.jobId)) : undefined;
  }

  /** Publishes a result (or a failure) and waits until JetStream has it. */
  private async report(work: Work, result: { output: Tensor; computeMs: number; seal?: DataKey | undefined } | undefined, error?: string, retryable?: boolean): Promise<void> {
    const h = natsHeaders();
    h.set(RESULT_HEADERS.job, work.jobId);
    h.set(RESULT_HEADERS.shard, String(work.shard));
    h.set(RESULT_HEADERS.replica, String(work.replica));
    h.set(RESULT_HEADERS.attempt, String(work.attempt));
    h.set(RESULT_HEADERS.node, this.options.nodeId);
    if (work.leaseToken) h.set(RESULT_HEADERS.leaseToken, work.leaseToken);
    let body: Uint8Array = new Uint8Array(0);
    if (result) {
      const bytes = encodeTensor(result.output);
      const hash = sha256(bytes);
      h.set(RESULT_HEADERS.output, hash);
      h.set(RESULT_HEADERS.computeMs, result.computeMs.toFixed(3));
      if (result.seal) h.set(RESULT_HEADERS.sealed, 'true');
      if (bytes.byteLength > INLINE_LIMIT_BYTES) {
        await (result.seal ? this.options.objects.putSealed(bytes, result.seal) : this.options.objects.put(bytes));
        h.set(RESULT_HEADERS.outputRef, 'object');
      } else {
        body = result.seal ? sealPayload(bytes, hash, result.seal) : bytes;
      }
    } else {
      h.set(RESULT_HEADERS.error, (error ?? 'failed').replace(/[\r\n]+/g, ' ').slice(0, 900));
      h.set(RESULT_HEADERS.retryable, String(retryable ?? true));
    }
    // Inside the shard's span (a traced item): the scheduler handles the result as its child.
    injectTrace(h);
    await this.options.js.publish(resultSubject(work.jobId, work.shard, work.replica, this.options.nodeId), body, {
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
