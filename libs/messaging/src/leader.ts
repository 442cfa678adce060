import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { JetStreamApiCodes, JetStreamApiError, type JetStreamClient } from '@nats-io/jetstream';
import { type KV, KvWatchInclude, Kvm } from '@nats-io/kv';

/** The KV bucket that holds every WE-AI leader lease, one key per election. */
export const LEASE_BUCKET = 'weai-leases';

/**
 * Timing of a lease. The bucket's `max_age` is the lease: the server forgets a key `ttlMs` after
 * its last write. A holder counts its validity from when it *sent* the write that the server
 * accepted, minus `marginMs` (clock-rate drift, the server's expiry lag, the time its
 * `onDeposed` needs to stop work), so it gives the lease up before any other candidate can take it.
 */
export interface LeaseTiming {
  /** The bucket's TTL: how long the server keeps a lease that is not renewed. */
  readonly ttlMs: number;
  /** How much earlier than the server a holder considers its lease gone. */
  readonly marginMs: number;
}

/** Where one candidate stands. `term` is the fencing token: the KV revision that started the tenure. */
export type LeaseState =
  | { readonly role: 'follower' }
  | {
      readonly role: 'leader';
      /** The revision that started this tenure: the fencing token. */
      readonly term: number;
      /** The key's latest revision, which the next renewal must name. */
      readonly revision: number;
      /** Monotonic time (ms) after which this holder no longer counts itself leader. */
      readonly validUntil: number;
    };

/** What happened to a candidate's lease; times are the candidate's monotonic clock, in ms. */
export type LeaseInput =
  /** A create (or reclaim) sent at `sentAt` was stored as `revision`; the answer came at `at`. */
  | { readonly type: 'acquired'; readonly revision: number; readonly sentAt: number; readonly at: number }
  /** A renewal sent at `sentAt` was stored as `revision`; the answer came at `at`. */
  | { readonly type: 'renewed'; readonly revision: number; readonly sentAt: number; readonly at: number }
  /** A renewal was refused because the key's revision moved: someone else holds it now, or it expired. */
  | { readonly type: 'refused'; readonly at: number }
  /** The clock moved on. */
  | { readonly type: 'tick'; readonly at: number }
  /** The holder gives the lease up (shutdown, failed start of its work). */
  | { readonly type: 'released'; readonly at: number };

/** A step of the state machine: the new state, and whether the candidate became or stopped being leader. */
export interface LeaseStep {
  readonly state: LeaseState;
  readonly change?: { readonly kind: 'elected'; readonly term: number } | { readonly kind: 'deposed'; readonly term: number; readonly reason: string };
}

/** The state of a candidate without the lease. */
export const FOLLOWER: LeaseState = { role: 'follower' };

/**
 * The pure lease state machine: no I/O, no clock. A leader whose validity ran out is deposed
 * whatever arrives next (a late renewal cannot resurrect a tenure it already gave up: the
 * candidate reclaims its own key as a new term instead).
 */
export function stepLease(state: LeaseState, input: LeaseInput, timing: LeaseTiming): LeaseStep {
  const validity = (sentAt: number) => sentAt + timing.ttlMs - timing.marginMs;
  if (state.role === 'follower') {
    if (input.type !== 'acquired') return { state };
    const validUntil = validity(input.sentAt);
    // An answer that took longer than the lease is worth nothing: the key may already be another's.
    if (input.at >= validUntil) return { state };
    return { state: { role: 'leader', term: input.revision, revision: input.revision, validUntil }, change: { kind: 'elected', term: input.revision } };
  }
  const deposed = (reason: string): LeaseStep => ({ state: FOLLOWER, change: { kind: 'deposed', term: state.term, reason } });
  if (input.at >= state.validUntil) return deposed(`lease not renewed within ${timing.ttlMs - timing.marginMs} ms`);
  switch (input.type) {
    case 'acquired':
    case 'tick':
      return { state };
    case 'renewed':
      return { state: { ...state, revision: input.revision, validUntil: Math.max(state.validUntil, validity(input.sentAt)) } };
    case 'refused':
      return deposed('the lease was taken over (its revision moved)');
    case 'released':
      return deposed('released');
    default: {
      const never: never = input;
      return never;
    }
  }
}

/** The current tenure, handed to `onElected` and `onDeposed`. */
export interface Lease {
  /** The election (the key in the bucket). */
  readonly name: string;
  /** This candidate. */
  readonly candidateId: string;
  /** Fencing token: grows with every tenure of this election; work started under an older term must be refused. */
  readonly term: number;
}

/** Options of a leader election. */
export interface LeaderElectionOptions {
  /** JetStream of the candidate's connection. */
  readonly js: JetStreamClient;
  /** The election's name, a KV key (`relay.nodes`, `timers.scheduler`). */
  readonly name: string;
  /** This candidate's id; default `<host>-<pid>-<random>`, unique per process start. */
  readonly candidateId?: string;
  /** Bucket of the leases; default `weai-leases`. */
  readonly bucket?: string;
  /**
   * TTL of the bucket when this candidate creates it; default 10 s. An existing bucket keeps its
   * own TTL and every candidate uses that one, so all agree on the lease's length.
   */
  readonly ttlMs?: number;
  /** Replicas of the bucket when created (3 on a cluster); default 1. */
  readonly replicas?: number;
  /** Renewal period; default a fifth of the TTL. */
  readonly renewEveryMs?: number;
  /** How often a follower tries to take a free lease; default a tenth of the TTL. */
  readonly retryEveryMs?: number;
  /** See `LeaseTiming.marginMs`; default a fifth of the TTL. */
  readonly marginMs?: number;
  /** Called once elected; the work it starts runs until `onDeposed`. A throw gives the lease back. */
  readonly onElected?: (lease: Lease) => void | Promise<void>;
  /** Called when the tenure ends, before the lease is handed over on `stop()`. Must stop the work promptly. */
  readonly onDeposed?: (lease: Lease, reason: string) => void | Promise<void>;
  /** Failures the election recovers from (a renewal that timed out, a callback that threw). */
  readonly onError?: (error: unknown) => void;
  /** Monotonic clock in ms; default `performance.now()`. */
  readonly now?: () => number;
}

interface LeaseValue {
  readonly holder: string;
  readonly since: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function isWrongLastSequence(error: unknown): boolean {
  if (error instanceof JetStreamApiError) return error.code === JetStreamApiCodes.StreamWrongLastSequence;
  return /wrong last sequence/i.test((error as Error)?.message ?? '');
}

/**
 * Leader election over a JetStream KV bucket: the leader is the candidate whose revision-checked
 * `create` stored the election's key; it renews it with revision-checked `update`s and the
 * bucket's `max_age` drops it when renewals stop. Exactly one candidate is leader at a time as
 * far as the server is concerned; a holder cut off from the server deposes itself `marginMs`
 * before the server lets anyone else in, and `term` fences whatever it still had in flight.
 * `stop()` ends the tenure (`onDeposed`) and deletes the key, so a follower takes over at once.
 */
export class LeaderElection {
  readonly candidateId: string;
  private kv: KV | undefined;
  private timing: LeaseTiming = { ttlMs: 0, marginMs: 0 };
  private state: LeaseState = FOLLOWER;
  private stopped = true;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private deadline: NodeJS.Timeout | undefined;
  private watcher: { stop(): void } | undefined;
  /** Callbacks run one after another: a tenure's `onDeposed` ends before the next `onElected` starts. */
  private callbacks: Promise<void> = Promise.resolve();
  private readonly now: () => number;

  constructor(private readonly options: LeaderElectionOptions) {
    this.candidateId = options.candidateId ?? `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
    this.now = options.now ?? (() => performance.now());
  }

  /** Whether this candidate holds the lease now (by its own, conservative, clock). */
  get isLeader(): boolean {
    this.apply({ type: 'tick', at: this.now() });
    return this.state.role === 'leader';
  }

  /** The current term while leader, else undefined. */
  get term(): number | undefined {
    return this.isLeader && this.state.role === 'leader' ? this.state.term : undefined;
  }

  /** The lease's timing, known once started. */
  get leaseTiming(): LeaseTiming {
    return this.timing;
  }

  /** Local fencing check: this candidate still leads in `term`. */
  isCurrent(term: number): boolean {
    return this.term === term;
  }

  /**
   * Fencing check against the server: this candidate leads in `term` and the key still names it
   * with a revision of this tenure. For work whose effects another leader must never see twice.
   */
  async verify(term: number): Promise<boolean> {
    if (!this.isCurrent(term) || !this.kv) return false;
    const entry = await this.kv.get(this.options.name);
    if (!entry || entry.operation !== 'PUT' || entry.revision < term) return false;
    return this.holderOf(entry.value) === this.candidateId && this.isCurrent(term);
  }

  /** Opens the bucket and makes a first attempt: a lone candidate is leader when this resolves. */
  async start(): Promise<void> {
    if (!this.stopped) return;
    const ttlMs = this.options.ttlMs ?? 10_000;
    const kv = await new Kvm(this.options.js).create(this.options.bucket ?? LEASE_BUCKET, { history: 1, ttl: ttlMs, replicas: this.options.replicas ?? 1 });
    const bucketTtl = (await kv.status()).ttl;
    if (!(bucketTtl > 0)) throw new Error(`KV bucket ${this.options.bucket ?? LEASE_BUCKET} has no TTL: it cannot hold leases (delete it, or name another bucket)`);
    this.kv = kv;
    this.timing = { ttlMs: bucketTtl, marginMs: this.options.marginMs ?? Math.round(bucketTtl / 5) };
    if (this.timing.marginMs >= bucketTtl) throw new Error(`lease margin ${this.timing.marginMs} ms must be shorter than the bucket's TTL ${bucketTtl} ms`);
    this.stopped = false;
    await this.watchReleases(kv);
    await this.attempt();
    this.loop = this.run();
  }

  /** Ends the tenure if leading (`onDeposed` runs first), hands the lease over and stops campaigning. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.wake?.();
    await this.loop;
    this.watcher?.stop();
    const held = this.state.role === 'leader' ? this.state.revision : undefined;
    this.apply({ type: 'released', at: this.now() });
    await this.callbacks;
    if (held !== undefined) {
      // Only if it is still ours: a revision-checked delete never removes a successor's lease.
      await this.kv?.delete(this.options.name, { previousSeq: held }).catch((e: unknown) => this.options.onError?.(e));
    }
    clearTimeout(this.deadline);
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const leading = this.isLeader;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, leading ? (this.options.renewEveryMs ?? this.timing.ttlMs / 5) : (this.options.retryEveryMs ?? this.timing.ttlMs / 10));
        // The election alone never keeps a process alive (its NATS connection does, while open).
        timer.unref();
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
      if (this.stopped) break;
      if (this.isLeader) await this.renew();
      else await this.attempt();
    }
  }

  /** Tries to take the lease: create the key, or reclaim a lease of this candidate's that outlived its tenure. */
  private async attempt(): Promise<void> {
    const kv = this.kv!;
    const value = encoder.encode(JSON.stringify({ holder: this.candidateId, since: new Date().toISOString() } satisfies LeaseValue));
    let sentAt = this.now();
    try {
      const revision = await kv.create(this.options.name, value);
      this.apply({ type: 'acquired', revision, sentAt, at: this.now() });
      return;
    } catch (error) {
      if (!isWrongLastSequence(error)) return this.options.onError?.(error);
    }
    try {
      // Held: by another candidate (nothing to do), or by this one after a renewal whose answer
      // arrived too late. Then the revision check makes taking it back as a new term safe.
      const entry = await kv.get(this.options.name);
      if (!entry || entry.operation !== 'PUT' || this.holderOf(entry.value) !== this.candidateId) return;
      sentAt = this.now();
      const revision = await kv.update(this.options.name, value, entry.revision);
      this.apply({ type: 'acquired', revision, sentAt, at: this.now() });
    } catch (error) {
      if (!isWrongLastSequence(error)) this.options.onError?.(error);
    }
  }

  private async renew(): Promise<void> {
    if (this.state.role !== 'leader') return;
    const { revision, validUntil } = this.state;
    const sentAt = this.now();
    const value = encoder.encode(JSON.stringify({ holder: this.candidateId, since: new Date().toISOString() } satisfies LeaseValue));
    try {
      const next = await this.kv!.update(this.options.name, value, revision, Math.max(50, Math.floor(validUntil - sentAt)));
      this.apply({ type: 'renewed', revision: next, sentAt, at: this.now() });
    } catch (error) {
      if (isWrongLastSequence(error)) this.apply({ type: 'refused', at: this.now() });
      else this.options.onError?.(error); // the deadline deposes if this goes on
    }
  }

  private apply(input: LeaseInput): void {
    const step = stepLease(this.state, input, this.timing);
    this.state = step.state;
    clearTimeout(this.deadline);
    if (this.state.role === 'leader') {
      this.deadline = setTimeout(() => this.apply({ type: 'tick', at: this.now() }), Math.max(0, this.state.validUntil - this.now()));
      this.deadline.unref();
    }
    const change = step.change;
    if (!change) return;
    const lease: Lease = { name: this.options.name, candidateId: this.candidateId, term: change.term };
    if (change.kind === 'elected') {
      this.callbacks = this.callbacks.then(async () => {
        if (!this.isCurrent(change.term)) return; // already over before its turn came
        try {
          await this.options.onElected?.(lease);
        } catch (error) {
          this.options.onError?.(error);
          if (this.isCurrent(change.term)) {
            const held = this.state.role === 'leader' ? this.state.revision : 0;
            this.apply({ type: 'released', at: this.now() });
            await this.kv?.delete(this.options.name, { previousSeq: held }).catch(() => undefined);
          }
        }
      });
    } else {
      this.callbacks = this.callbacks.then(async () => {
        try {
          await this.options.onDeposed?.(lease, change.reason);
        } catch (error) {
          this.options.onError?.(error);
        }
      });
    }
    // Followers wake at once on a change, so a hand-over does not wait for the next retry.
    if (change.kind === 'deposed' && !this.stopped) this.wake?.();
  }

  /** Wakes the loop when the key is deleted (a clean hand-over), so a follower takes over at once. */
  private async watchReleases(kv: KV): Promise<void> {
    let updates: Awaited<ReturnType<KV['watch']>>;
    try {
      updates = await kv.watch({ key: this.options.name, include: KvWatchInclude.UpdatesOnly });
    } catch (error) {
      // Only an optimisation (a fail-over can refuse the watch's consumer): polling still takes over.
      this.options.onError?.(error);
      return;
    }
    this.watcher = updates;
    void (async () => {
      for await (const entry of updates) if (entry.operation !== 'PUT' && this.state.role === 'follower') this.wake?.();
    })().catch((e: unknown) => this.options.onError?.(e));
  }

  private holderOf(value: Uint8Array): string | undefined {
    try {
      return (JSON.parse(decoder.decode(value)) as Partial<LeaseValue>).holder;
    } catch {
      return undefined;
    }
  }
}
