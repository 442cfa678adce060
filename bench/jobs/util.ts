/** Statistics and timing helpers of the jobs benchmark (bench/jobs.bench.ts); output and cleanup come from bench/support/run.ts. */
import { performance } from 'node:perf_hooks';
import { fmt, log, secondsSince } from '../support/run';

export { Cleanup, UsageError, fmt, log, round1, round3, secondsSince, sleep } from '../support/run';

/** Wall-clock milliseconds with sub-millisecond precision (comparable with JetStream timestamps). */
export const wallMs = () => performance.timeOrigin + performance.now();
export const round2 = (n: number) => Math.round(n * 100) / 100;

/** Nearest-rank percentile of samples (0 when there are none). */
export function percentile(samples: readonly number[], q: number): number {
  if (samples.length === 0) return 0;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

export const median = (samples: readonly number[]) => percentile(samples, 0.5);

/** p50 / p90 / max of some millisecond samples, rounded to 0.01 ms. */
export function spread(samples: readonly number[]): { p50: number; p90: number; max: number; n: number } {
  return { p50: round2(percentile(samples, 0.5)), p90: round2(percentile(samples, 0.9)), max: round2(percentile(samples, 1)), n: samples.length };
}

/** Plain progress lines on stderr, at most one every `everyMs`. */
export class Progress {
  private readonly started = performance.now();
  private lastPrint = this.started;

  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly everyMs = 2000,
  ) {}

  /** Reports `done` (and an optional detail) if it is time to. */
  update(done: number, detail = ''): void {
    const now = performance.now();
    if (now - this.lastPrint < this.everyMs) return;
    this.lastPrint = now;
    this.print(done, detail);
  }

  print(done: number, detail = ''): void {
    const secs = secondsSince(this.started);
    const pct = this.total > 0 ? ` (${Math.round((done / this.total) * 100)}%)` : '';
    log(`  ${this.label}: ${fmt(done)}/${fmt(this.total)}${pct}, ${secs.toFixed(1)} s${detail ? `; ${detail}` : ''}`);
  }
}

/** Resolves with `promise`, or rejects with `what` after `ms`. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${Math.round(ms / 1000)} s: ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
