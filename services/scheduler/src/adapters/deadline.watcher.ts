import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { CLOCK, type Clock, LEADERSHIP, type Leadership } from '@weai/runtime';
import { JobRepository } from '../application/job.repository';
import { commandMetadata } from '../application/metadata';

/**
 * Fails running jobs whose deadline has passed, once a second. It looks at the jobs this replica
 * holds in memory: every job with activity since the replica started (a job resumed after a
 * restart is loaded by its next result). Runs on the elected replica only (every replica when
 * election is off).
 */
@Injectable()
export class DeadlineWatcher implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer: NodeJS.Timeout | undefined;
  private readonly logger = new Logger('Deadlines');

  constructor(
    private readonly jobs: JobRepository,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(LEADERSHIP) private readonly leadership: Leadership,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.leadership.whileLeader({
      name: 'deadlines',
      start: () => void (this.timer ??= setInterval(() => void this.check(), 1000)),
      stop: () => this.onApplicationShutdown(),
    });
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  async check(): Promise<void> {
    const now = this.clock.now();
    for (const [jobId, { state }] of this.jobs.cached()) {
      if (state.status !== 'running' || Date.parse(state.spec.deadline) > now.getTime()) continue;
      await this.jobs
        .execute(jobId, { type: 'FailJob', data: { reason: `deadline ${state.spec.deadline} passed with ${state.validated} of ${state.shards.length} shards validated` }, metadata: commandMetadata(now, `deadline-${jobId}`) })
        .catch((e: unknown) => this.logger.warn(`deadline of ${jobId}: ${(e as Error).message}`));
    }
  }
}
