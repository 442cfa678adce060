/** Output, cleanup and statistics helpers of the jobs benchmark (bench/jobs.bench.ts). */
import { performance } from 'node:perf_hooks';

/** A mistake on the command line: printed with the usage, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** A whole number with thousands separators. */
export const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
/** Progress and findings go to stderr, so that stdout ends with the JSON line alone. */
export const log = (line: string) => process.stderr.write(`${line}\n`);
/** Seconds since a `performance.now()` reading. */
export const secondsSince = (since: number) => (performance.now() - since) / 1000;
/** Wall-clock milliseconds with sub-millisecond precision (comparable with JetStream timestamps). */
export const wallMs = () => performance.timeOrigin + performance.now();
export const round1 = (n: number) => Math.round(n * 10) / 10;
export const round2 = (n: number) => Math.round(n * 100) / 100;
export const round3 = (n: number) => Math.round(n * 1000) / 1000;
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

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

/** Things to release at the end, last added first; each runs once, also on Ctrl-C or failure. */
export class Cleanup {
  private readonly steps: Array<{ what: string; run: () => Promise<unknown> | unknown }> = [];

  add(what: string, run: () => Promise<unknown> | unknown): void {
    this.steps.push({ what, run });
  }

  /** Runs (and forgets) every step, newest first; a failing step is reported and the rest still run. */
  async run(): Promise<void> {
    while (this.steps.length > 0) {
      const step = this.steps.pop()!;
      try {
        await step.run();
      } catch (error) {
        log(`cleanup: ${step.what} failed: ${(error as Error).message}`);
      }
    }
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
