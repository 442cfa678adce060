import { type EventStore, WrongExpectedRevisionError, withMetadata, type Decided } from '@weai/eventstore';
import type { JobEvent, JobState } from '../domain/job';
import { evolveJob, initialJobState, toJobStreamId } from '../domain/job';
import { type JobCommand, decideJob } from '../domain/job.decide';

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
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(private readonly store: EventStore) {}

  /** Current state of a job (refreshed from the store). */
  async load(jobId: string): Promise<JobState> {
    return (await this.refresh(jobId)).state;
  }

  /** The state held in memory, without asking the store (undefined when the job is not held). */
  peek(jobId: string): JobState | undefined {
    return this.cache.get(jobId)?.state;
  }

  /** Jobs held in memory, for timers such as the deadline check. */
  cached(): IterableIterator<[string, { state: JobState }]> {
    return this.cache.entries();
  }

  /** Decides and appends one command, one at a time per job, re-deciding on a concurrent write. */
  execute(jobId: string, command: JobCommand): Promise<{ events: JobEvent[]; state: JobState }> {
    return this.executeWith(jobId, async () => command);
  }

  /**
   * Like `execute`, but the command is built from the job's state inside the job's turn, so what
   * it is built from (the other results of a shard) cannot change before it is decided.
   */
  executeWith(jobId: string, build: (state: JobState) => Promise<JobCommand | undefined>): Promise<{ events: JobEvent[]; state: JobState }> {
    const previous = this.queues.get(jobId) ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(() => this.executeNow(jobId, build));
    this.queues.set(jobId, run);
    void run.finally(() => this.queues.get(jobId) === run && this.queues.delete(jobId)).catch(() => undefined);
    return run;
  }

  private async executeNow(jobId: string, build: (state: JobState) => Promise<JobCommand | undefined>): Promise<{ events: JobEvent[]; state: JobState }> {
    for (let attempt = 0; ; attempt++) {
      const cached = await this.refresh(jobId);
      const command = await build(cached.state);
      if (!command) return { events: [], state: cached.state };
      const decided = decideJob(command, cached.state) as unknown as Decided<JobEvent>[];
      if (decided.length === 0) return { events: [], state: cached.state };
      const events = withMetadata<JobEvent>(decided, command.metadata);
      try {
        const result = await this.store.append(toJobStreamId(jobId), events, cached.revision === -1 ? 'no_stream' : cached.revision);
        const first = result.nextExpectedRevision - events.length + 1;
        events.forEach((e, i) => this.apply(cached, e, first + i));
        return { events, state: cached.state };
      } catch (error) {
        if (!(error instanceof WrongExpectedRevisionError) || attempt >= 5) throw error;
      }
    }
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
    cached.state = evolveJob(cached.state, event);
    cached.revision = revision;
  }
}
