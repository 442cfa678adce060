/** Small pieces every bench run needs: output, cleanup on any exit, percentiles. */
import { performance } from 'node:perf_hooks';

/** A mistake in how the bench was run (argument, environment variable); it exits with 2 and no stack. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** A whole number with thousands separators. */
export const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
/** Human progress: stderr, so that stdout ends with the JSON line alone. */
export const log = (line: string) => process.stderr.write(`${line}\n`);
/** Seconds since a `performance.now()` reading. */
export const secondsSince = (since: number) => (performance.now() - since) / 1000;
export const round1 = (n: number) => Math.round(n * 10) / 10;
export const round3 = (n: number) => Math.round(n * 1000) / 1000;
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Median, 99th percentile (nearest rank) and maximum of some samples, rounded to whole units. */
export function distribution(samples: readonly number[]): { median: number; p99: number; max: number; samples: number } {
  if (samples.length === 0) return { median: 0, p99: 0, max: 0, samples: 0 };
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = (q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
  return { median: Math.round(rank(0.5)), p99: Math.round(rank(0.99)), max: Math.round(sorted.at(-1)!), samples: sorted.length };
}

/** Things to release at the end, last added first; each runs once, however the run ends. */
export class Cleanup {
  private readonly steps: Array<{ what: string; run: () => Promise<unknown> | unknown }> = [];

  add(what: string, run: () => Promise<unknown> | unknown): void {
    this.steps.push({ what, run });
  }

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

/**
 * Runs `main` with a cleanup list that is run however the run ends: success, failure, Ctrl-C,
 * SIGTERM, an uncaught error. A usage error prints the usage and exits with 2.
 */
export function runBench<O>(parse: (argv: readonly string[]) => O | 'help', usage: string, main: (options: O, cleanup: Cleanup) => Promise<void>): void {
  let options: O | 'help';
  try {
    options = parse(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`error: ${error.message}\n\n${usage}\n`);
    process.exitCode = 2;
    return;
  }
  if (options === 'help') {
    process.stdout.write(`${usage}\n`);
    return;
  }
  const cleanup = new Cleanup();
  let aborted = false;
  const abort = (why: string, code: number) => {
    if (aborted) return;
    aborted = true;
    log(why);
    void cleanup.run().finally(() => process.exit(code));
  };
  process.once('SIGINT', () => abort('\ninterrupted; cleaning up…', 130));
  process.once('SIGTERM', () => abort('\nterminated; cleaning up…', 143));
  process.on('uncaughtException', (error) => abort(`benchmark failed: ${error.stack ?? String(error)}`, 1));
  process.on('unhandledRejection', (error) => abort(`benchmark failed: ${(error as Error)?.stack ?? String(error)}`, 1));
  void main(options, cleanup)
    .catch((error: unknown) => {
      if (aborted) return;
      if (error instanceof UsageError) {
        log(`error: ${error.message}`);
        process.exitCode = 2;
        return;
      }
      log(`benchmark failed: ${(error as Error)?.stack ?? String(error)}`);
      process.exitCode = 1;
    })
    .finally(async () => {
      if (aborted) return;
      await cleanup.run();
      // Anything still holding the event loop (a timer of a client library) must not keep the run alive.
      setTimeout(() => process.exit(), 2000).unref();
    });
}
