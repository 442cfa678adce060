/**
 * A TypeScript entry point of the repository run as its own node process, as `npm run` scripts
 * run it, with only the tail of its output kept (a long run must not grow the bench's memory).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';

/** The repository root. */
export const ROOT = join(__dirname, '..', '..');

const TAIL_CHARS = 64 * 1024;

export interface ChildService {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** The last 64 KiB of its stdout and stderr. */
  output(): string;
  /** Resolves when the output matches; rejects if the process exits first or the time runs out. */
  waitFor(pattern: RegExp, timeoutMs: number): Promise<string>;
  /** SIGTERM, then SIGKILL if it has not exited after `graceMs`; resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
  readonly exited: Promise<number | null>;
}

/**
 * Starts `node [nodeArgs] -r @swc-node/register <entry>` with `env` added to this process's
 * environment. Output lines are passed to `onLine` (for progress) and kept as a tail.
 */
export function startChild(name: string, entry: string, env: NodeJS.ProcessEnv, options: { nodeArgs?: string[]; onLine?: (line: string) => void } = {}): ChildService {
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), '-r', '@swc-node/register', join(ROOT, entry)], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error(`${name}: could not start ${entry}`);
  let tail = '';
  let partial = '';
  const listeners = new Set<() => void>();
  const onData = (d: Buffer) => {
    const text = d.toString();
    tail = (tail + text).slice(-TAIL_CHARS);
    const lines = (partial + text).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) options.onLine?.(line);
    listeners.forEach((l) => l());
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const running = () => child.exitCode === null && child.signalCode === null;
  return {
    name,
    pid: child.pid,
    child,
    exited,
    output: () => tail,
    waitFor(pattern, timeoutMs) {
      return new Promise<string>((resolve, reject) => {
        const check = () => {
          const m = pattern.exec(tail);
          if (m) {
            done();
            resolve(m[0]);
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`${name}: no output matching ${pattern} within ${timeoutMs} ms. Output:\n${tail}`));
        }, timeoutMs);
        const onExit = (code: number | null) => {
          done();
          reject(new Error(`${name} exited (${code}) before printing ${pattern}. Output:\n${tail}`));
        };
        const done = () => {
          clearTimeout(timer);
          listeners.delete(check);
          child.off('exit', onExit);
        };
        listeners.add(check);
        child.once('exit', onExit);
        check();
      });
    },
    async stop(graceMs = 10_000) {
      if (!running()) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => {
        if (running()) child.kill('SIGKILL');
      }, graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}
