import { type EventStore, WrongExpectedRevisionError, withMetadata, type Decided } from '@weai/eventstore';
import type { JobEvent, JobState } from '../domain/job';
import { evolveJob, initialJobState, toJobStreamId } from '../domain/job';
import { type JobCommand, decideJob } from '../domain/job.decide';

/** What a command did: its events and the job's state after them. */
export type Outcome = { events: JobEvent[]; state: JobState };
type Build = (state: JobState) => Promise<JobCommand | undefined>;
interface Queued {
  build: Build;
  resolve(outcome: Outcome): void;
  reject(error: unknown): void;
}

interface Cached {
  state: JobState;
  /** Revision of the last event folded into `state`; -1 for none. */
  revision: number;
}

/**
 * The job aggregate with its state kept in memory: a job of 10,000 shards has a long stream,
 * and re-reading it for every result would make each result cost O(shards). Each command reads
 * only the events after the cached revision (none, unless another replica wrote) and appends
 * with that revision, so concurrent writers still meet optimistic concurrency.
 */
export class JobRepository {
  private readonly cache = new Map<string, Cached>();
  private readonly pending = new Map<string, Queued[]>();
  private readonly draining = new Set<string>();

  /** Ended jobs held in memory, oldest first: at most `keepFinished`, so a long-running replica does not grow forever. */
  private readonly finished = new Set<string>();

  /**
   * `keepFinished`: ended jobs kept in memory (late results and ShardValidated redeliveries of a
   * recently ended job are answered from memory); an older one is read again if anything asks.
   */
  constructor(
    private readonly store: EventStore,
    private readonly keepFinished = 1000,
  ) {}

  /** Current state of a job (refreshed from the store). */
  async load(jobId: string): Promise<JobState> {
    return (await this.refresh(jobId)).state;
  }

  /**
   * The state held in memory, without asking the store: undefined when the job is not held, or
   * when `atLeastRevision` is given and memory has not folded that revision yet. Another replica
   * appends to the same job, so memory is only as fresh as this replica's last read or write; a
   * handler of an event passes the event's revision to never decide on a state older than it.
   */
  peek(jobId: string, atLeastRevision = -1): JobState | undefined {
    const cached = this.cache.get(jobId);
    return cached && cached.revision >= atLeastRevision ? cached.state : undefined;
  }

  /** Decides and appends one command, one at a time per job, re-deciding on a concurrent write. */
  execute(jobId: string, command: JobCommand): Promise<Outcome> {
    return this.executeWith(jobId, async () => command);
  }

  /**
   * Like `execute`, but the command is built from the job's state inside the job's turn, so what
   * it is built from (the other results of a shard) cannot change before it is decided.
   *
   * Commands that queue up for one job while an append is in flight are decided together, one
   * after another on the evolving state, and appended in one go: a job's results cost one disk
   * sync per batch, not one each (bench:jobs measured the scheduler bound by those syncs). A job
   * held in memory is not read again before a batch, only after a conflicting append.
   */
  executeWith(jobId: string, build: Build): Promise<Outcome> {
    return new Promise<Outcome>((resolve, reject) => {
      const queue = this.pending.get(jobId) ?? [];
      queue.push({ build, resolve, reject });
      this.pending.set(jobId, queue);
      if (!this.draining.has(jobId)) void this.drain(jobId);
    });
  }

  private async drain(jobId: string): Promise<void> {
    this.draining.add(jobId);
    try {
      for (let queue = this.pending.get(jobId); queue && queue.length > 0; queue = this.pending.get(jobId)) {
        await this.runBatch(jobId, queue.splice(0, 256));
      }
    } finally {
      this.draining.delete(jobId);
      if (this.pending.get(jobId)?.length === 0) this.pending.delete(jobId);
    }
  }

  private async runBatch(jobId: string, batch: Queued[]): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      // A job held in memory is decided on as held: its append names the revision it was decided
      // on, so if another writer got in first the append fails and the job is read again.
      const held = attempt === 0 ? this.cache.get(jobId) : undefined;
      const cached = held && held.revision >= 0 ? held : await this.refresh(jobId);
      let state = cached.state;
      const outcomes: Array<{ ok: true; value: Outcome } | { ok: false; error: unknown }> = [];
      const all: JobEvent[] = [];
      for (const item of batch) {
        try {
          const command = await item.build(state);
          const decided = command ? (decideJob(command, state) as unknown as Decided<JobEvent>[]) : [];
          const events = command && decided.length > 0 ? withMetadata<JobEvent>(decided, command.metadata) : [];
          state = events.reduce(evolveJob, state);
          all.push(...events);
          outcomes.push({ ok: true, value: { events, state } });
        } catch (error) {
          outcomes.push({ ok: false, error });
        }
      }
      // Decided on memory and nothing to do: memory may lack what another replica appended (the
      // dispatch of the replica a result answers: "never dispatched" on stale memory dropped a
      // verification result for good), so the store must confirm that nothing is new.
      if (all.length === 0 && held && (await this.advanced(jobId, cached))) continue;
      if (all.length > 0) {
        try {
          const result = await this.store.append(toJobStreamId(jobId), all, cached.revision === -1 ? 'no_stream' : cached.revision);
          const first = result.nextExpectedRevision - all.length + 1;
          all.forEach((e, i) => this.apply(cached, e, first + i));
        } catch (error) {
          if (error instanceof WrongExpectedRevisionError && attempt < 5) continue;
          if (batch.length > 1) {
            // One command's events spoil the batch: decide and append each on its own.
            for (const item of batch) await this.runBatch(jobId, [item]);
            return;
          }
          batch[0]!.reject(error);
          return;
        }
      }
      outcomes.forEach((o, i) => (o.ok ? batch[i]!.resolve(o.value) : batch[i]!.reject(o.error)));
      return;
    }
  }

  /** Reads the job's events after `cached` into it; whether there were any. */
  private async advanced(jobId: string, cached: Cached): Promise<boolean> {
    const before = cached.revision;
    const now = await this.refresh(jobId);
    return now !== cached || now.revision !== before;
  }

  private async refresh(jobId: string): Promise<Cached> {
    let cached = this.cache.get(jobId);
    if (!cached) {
      cached = { state: initialJobState(), revision: -1 };
      this.cache.set(jobId, cached);
    }
    const fresh = await this.store.readStream(toJobStreamId(jobId), { fromRevision: cached.revision + 1 });
    for (const e of fresh) this.apply(cached, e as unknown as JobEvent, e.revision);
    return cached;
  }

  /**
   * Folds one event into the cache unless it is already in: a read outside the job's turn
   * (a status query, the dispatcher) may fold an event just appended before the writer does.
   */
  private apply(cached: Cached, event: JobEvent, revision: number): void {
    if (revision <= cached.revision) return;
    const wasRunning = cached.state.status === 'running';
    cached.state = evolveJob(cached.state, event);
    cached.revision = revision;
    if (wasRunning && cached.state.status !== 'running' && cached.state.status !== 'none') this.forgetLater(cached.state.jobId);
  }

  /** Keeps an ended job in memory among the last `keepFinished` ended ones, forgetting the oldest. */
  private forgetLater(jobId: string): void {
    this.finished.delete(jobId);
    this.finished.add(jobId);
    while (this.finished.size > this.keepFinished) {
      const oldest = this.finished.values().next().value!;
      this.finished.delete(oldest);
      // Not while commands for it are queued or running: they hold the cached entry.
      if (!this.pending.has(oldest) && !this.draining.has(oldest)) this.cache.delete(oldest);
    }
  }
}
