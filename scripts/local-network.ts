import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..');

/** A process of the local network, its output going to a log file. */
export interface LocalProcess {
  readonly name: string;
  readonly log: string;
  readonly child: ChildProcess;
  /** Resolves with the first output line matching; rejects if the process exits first or `timeoutMs` passes. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  stop(): Promise<void>;
}

/** Starts a TypeScript entry point of the repository as a child process, logging to `<dir>/<name>.log`. */
export function startLocal(name: string, entry: string, args: string[], env: NodeJS.ProcessEnv, dir: string): LocalProcess {
  mkdirSync(dir, { recursive: true });
  const log = join(dir, `${name}.log`);
  const file = createWriteStream(log);
  const child = spawn(process.execPath, ['-r', '@swc-node/register', join(ROOT, entry), ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const listeners = new Set<() => void>();
  for (const s of [child.stdout, child.stderr]) {
    s?.on('data', (d: Buffer) => {
      file.write(d);
      out += d.toString();
      listeners.forEach((l) => l());
    });
  }
  return {
    name,
    log,
    child,
    waitFor(pattern, timeoutMs = 120_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = pattern.exec(out);
          if (m) {
            cleanup();
            resolve(m[0]);
          }
        };
        const onExit = (code: number | null) => {
          cleanup();
          reject(new Error(`${name} exited (${code}) before it was ready; see ${log}:\n${out.slice(-2000)}`));
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`${name} was not ready within ${timeoutMs / 1000} s; see ${log}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          listeners.delete(check);
          child.off('exit', onExit);
        };
        listeners.add(check);
        child.once('exit', onExit);
        check();
      });
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      file.end();
    },
  };
}
