import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { CLOCK, type Clock, LEADERSHIP, type Leadership } from '@weai/runtime';
import { JobRepository } from '../application/job.repository';
import { commandMetadata } from '../application/metadata';
import { RunningJobs } from '../application/running-jobs';

/**
 * Fails running jobs whose deadline has passed, once a second. The running jobs come from the
 * scheduler's event store (`RunningJobs`), not from this replica's memory, so a replica elected
 * after a fail-over also fails jobs it never touched. Runs on the elected replica only (every
 * replica when election is off).
 */
@Injectable()
export class DeadlineWatcher implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer: NodeJS.Timeout | undefined;
  private pass: Promise<void> | undefined;
  private readonly logger = new Logger('Deadlines');

  constructor(
    private readonly jobs: JobRepository,
    private readonly running: RunningJobs,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(LEADERSHIP) private readonly leadership: Leadership,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.leadership.whileLeader({
      name: 'deadlines',
      start: () => {
        // Elected: look at once (jobs may have passed their deadline while no one was watching).
        void this.check();
        this.timer ??= setInterval(() => void this.check(), 1000);
      },
      stop: () => this.onApplicationShutdown(),
    });
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One pass: every running job past its deadline is failed. While a pass runs, a call waits for it instead of starting another. */
  check(): Promise<void> {
    return (this.pass ??= this.failOverdue().finally(() => (this.pass = undefined)));
  }

  private async failOverdue(): Promise<void> {
    try {
      const now = this.clock.now();
      for (const { jobId, deadline } of await this.running.refresh()) {
        if (Date.parse(deadline) > now.getTime()) continue;
        // Decided on the job's state as stored: a job that ended since the index read it fails nothing.
        await this.jobs
          .executeWith(jobId, async (state) =>
            state.status === 'running'
              ? { type: 'FailJob', data: { reason: `deadline ${deadline} passed with ${state.validated} of ${state.shards.length} shards validated` }, metadata: commandMetadata(now, `deadline-${jobId}`) }
              : undefined,
          )
          .catch((e: unknown) => this.logger.warn(`deadline of ${jobId}: ${(e as Error).message}`));
      }
    } catch (error) {
      this.logger.warn(`deadline check: ${(error as Error).message}`);
    }
  }
}
