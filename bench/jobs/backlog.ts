/**
 * Backlogs of the pipeline's durable consumers while a job runs, sampled from the server
 * (consumer info: messages not yet delivered + delivered but not acknowledged). Where a backlog
 * stays high the stage behind it is the slow one; when it drains says how long that stage lagged.
 */
import type { JetStreamManager } from '@nats-io/jetstream';
import { RESULTS_STREAM, SHARDS_STREAM, streamOfFamily } from '@weai/contracts';
import { round3, wallMs } from './util';

/** The durable consumers a job goes through: [stream, durable, what it does]. */
export const PIPELINE_CONSUMERS: ReadonlyArray<readonly [string, string, string]> = [
  [SHARDS_STREAM, 'shards-cpu_generic', 'agents take work items'],
  [RESULTS_STREAM, 'scheduler-results', 'scheduler records results'],
  [streamOfFamily('jobs'), 'scheduler-dispatch-replica', 'scheduler publishes re-dispatched replicas'],
  [streamOfFamily('jobs'), 'scheduler-integrate', 'scheduler checks for integration on each ShardValidated'],
];

export interface BacklogSummary {
  /** Largest backlog seen. */
  max: number;
  /** When it was largest, seconds after `since`. */
  max_at_s: number | null;
  /** The last sample with a backlog, seconds after `since` (about when it drained). */
  last_nonzero_s: number | null;
}

export class BacklogSampler {
  private readonly samples = new Map<string, Array<{ at: number; backlog: number }>>();
  private timer: NodeJS.Timeout | undefined;
  private busy = false;

  constructor(
    private readonly jsm: JetStreamManager,
    private readonly everyMs = 250,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.sample(), this.everyMs);
  }

  private async sample(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      await Promise.all(
        PIPELINE_CONSUMERS.map(async ([stream, durable]) => {
          const info = await this.jsm.consumers.info(stream, durable).catch(() => undefined);
          if (!info) return;
          const list = this.samples.get(durable) ?? [];
          list.push({ at: wallMs(), backlog: info.num_pending + info.num_ack_pending });
          this.samples.set(durable, list);
        }),
      );
    } finally {
      this.busy = false;
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Each consumer's backlog over the samples from `since` (wall ms), times relative to it. */
  summary(since: number): Record<string, BacklogSummary> {
    const out: Record<string, BacklogSummary> = {};
    for (const [durable, list] of this.samples) {
      let max = 0;
      let maxAt: number | null = null;
      let lastNonzero: number | null = null;
      for (const s of list) {
        if (s.at < since) continue;
        if (s.backlog > max) {
          max = s.backlog;
          maxAt = s.at;
        }
        if (s.backlog > 0) lastNonzero = s.at;
      }
      const rel = (at: number | null) => (at === null ? null : round3((at - since) / 1000));
      out[durable] = { max, max_at_s: rel(maxAt), last_nonzero_s: rel(lastNonzero) };
    }
    return out;
  }
}
