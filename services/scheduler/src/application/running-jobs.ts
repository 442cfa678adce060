import type { EventStore } from '@weai/eventstore';
import type { JobEvent } from '../domain/job';

/** A job that has been submitted and has not ended, with the deadline it was submitted with. */
export interface RunningJob {
  readonly jobId: string;
  readonly deadline: string;
}

/**
 * The scheduler's running jobs, read from its own event store's global log: every replica shares
 * that store, so a replica that never touched a job (a leader elected after a fail-over) still
 * finds it. The index follows the log from the position it has read up to: the first call reads
 * the whole log, later ones only what was appended since.
 */
export class RunningJobs {
  private readonly running = new Map<string, string>();
  private position = 0;

  constructor(
    private readonly store: EventStore,
    private readonly pageSize = 1000,
  ) {}

  /** Reads what was appended since the last call and returns the jobs still running. */
  async refresh(): Promise<RunningJob[]> {
    for (;;) {
      const page = await this.store.readAll(this.position, this.pageSize);
      for (const recorded of page) this.apply(recorded as unknown as JobEvent);
      if (page.length > 0) this.position = page[page.length - 1]!.position;
      if (page.length < this.pageSize) break;
    }
    return [...this.running].map(([jobId, deadline]) => ({ jobId, deadline }));
  }

  private apply(event: JobEvent): void {
    if (event.type === 'JobSubmitted') this.running.set(event.data.jobId, event.data.deadline);
    else if (event.type === 'JobCompleted' || event.type === 'JobFailed' || event.type === 'JobCancelled') this.running.delete(event.data.jobId);
  }
}
