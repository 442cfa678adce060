import { type ChildProcess, fork } from 'node:child_process';
import { mkdirSync, rmSync, unlinkSync, writeFileSync, renameSync } from 'node:fs';
import { availableParallelism, constants, setPriority } from 'node:os';
import { join } from 'node:path';
import type { KeyResolver } from '@weai/messaging/src/sealed';
import type { Tensor } from '@weai/tensors';
import type { RunnerReply, RunnerRequest, RunnerSetup } from './runner/protocol';

/** A shard this node cannot run; `retryable` is false when no other node could either (a bad model, a wrong shape). */
export class ShardError extends Error {
  override readonly name = 'ShardError';
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

/** Where models come from (the content store: every get is verified against the hash). */
export interface ModelSource {
  size(hash: string): Promise<number | undefined>;
  get(hash: string): Promise<Uint8Array | undefined>;
  /** A model that may be sealed, opened with the keys of the shard that needs it. */
  getOpened?(hash: string, keys: KeyResolver): Promise<Uint8Array | undefined>;
}

const RUNNER_ENTRY = join(__dirname, 'runner', 'entry.js');
type Request = RunnerRequest extends infer R ? (R extends unknown ? Omit<R, 'id'> : never) : never;
const MiB = 1024 * 1024;

/**
 * Models as files for the runner processes, fetched once, verified, and deleted when more than
 * `keep` are unused. A file is never deleted while a runner may be loading it.
 */
export class ModelFiles {
  private readonly entries = new Map<string, { path: string; refs: number; ready: Promise<void> }>();

  constructor(
    private readonly source: ModelSource,
    private readonly dir: string,
    private readonly options: { maxModelBytes: number; keep?: number },
  ) {
    rmSync(dir, { recursive: true, force: true }); // files of an earlier run are not trusted
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  /**
   * The model's file, fetched if needed (opened with `keys` when it is sealed); call `release` once
   * the runner has loaded it. The file holds the plaintext, 0600 in the agent's own directory: the
   * runner must read it, and this node holds the key while it runs the shard anyway.
   */
  async acquire(hash: string, keys?: KeyResolver): Promise<{ path: string; release: () => void }> {
    let entry = this.entries.get(hash);
    if (!entry) {
      const path = join(this.dir, `${hash}.onnx`);
      entry = { path, refs: 0, ready: this.fetch(hash, path, keys) };
      this.entries.set(hash, entry);
      entry.ready.catch(() => this.entries.delete(hash));
    } else {
      this.entries.delete(hash); // most recently used last
      this.entries.set(hash, entry);
    }
    entry.refs++;
    const e = entry;
    const release = () => {
      e.refs--;
      this.evict();
    };
    try {
      await e.ready;
    } catch (error) {
      release();
      throw error;
    }
    return { path: e.path, release };
  }

  private async fetch(hash: string, path: string, keys?: KeyResolver): Promise<void> {
    const short = hash.slice(0, 12);
    const limit = this.options.maxModelBytes;
    const size = await this.source.size(hash).catch((e: unknown) => {
      throw new ShardError(`model ${short} could not be fetched: ${(e as Error).message}`, true);
    });
    if (size === undefined) throw new ShardError(`model ${short} is not in the object store`, false);
    // Another node, with a higher limit, may run it.
    if (size > limit) throw new ShardError(`model ${short} is ${(size / MiB).toFixed(1)} MiB, above this node's limit of ${(limit / MiB).toFixed(0)} MiB (maxModelMb)`, true);
    const read = keys && this.source.getOpened ? this.source.getOpened(hash, keys) : this.source.get(hash);
    const bytes = await read.catch((e: unknown) => {
      throw new ShardError(`model ${short} could not be fetched: ${(e as Error).message}`, true);
    });
    if (!bytes) throw new ShardError(`model ${short} is not in the object store`, false);
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, bytes, { mode: 0o600 });
    renameSync(tmp, path);
  }

  private evict(): void {
    const keep = this.options.keep ?? 4;
    for (const [hash, e] of this.entries) {
      if (this.entries.size <= keep) return;
      if (e.refs > 0) continue;
      this.entries.delete(hash);
      void e.ready.then(() => unlinkSync(e.path)).catch(() => undefined);
    }
  }

  /** Deletes every file. */
  close(): void {
    this.entries.clear();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** One runner process, seen from the agent. */
class Runner {
  readonly child: ChildProcess;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: RunnerReply) => void; reject: (e: Error) => void }>();
  private stderr = '';
  private exit: string | undefined;
  idleTimer: NodeJS.Timeout | undefined;

  constructor(setup: RunnerSetup, env: NodeJS.ProcessEnv) {
    this.child = fork(RUNNER_ENTRY, [], {
      serialization: 'advanced',
      execArgv: [],
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      env: { ...process.env, ...env, WEAI_RUNNER: JSON.stringify(setup) },
    });
    try {
      // Below the owner's programs, and below the agent's own loop that must notice them.
      if (this.child.pid !== undefined) setPriority(this.child.pid, constants.priority.PRIORITY_BELOW_NORMAL);
    } catch {
      // not permitted here: run at normal priority
    }
    this.child.stderr?.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-2000);
    });
    this.child.on('message', (reply: RunnerReply) => {
      const p = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      p?.resolve(reply);
    });
    this.child.on('error', (error) => this.fail(`the ONNX Runtime process failed: ${error.message}`));
    this.child.on('exit', (code, signal) => {
      const tail = this.stderr.trim().split('\n').slice(-3).join(' | ');
      this.fail(`the ONNX Runtime process stopped (${signal ?? `exit ${code}`}) during the shard${tail ? `: ${tail}` : ''}`);
    });
  }

  get alive(): boolean {
    return this.exit === undefined;
  }

  private fail(reason: string): void {
    this.exit ??= reason;
    for (const p of this.pending.values()) p.reject(new ShardError(reason, true));
    this.pending.clear();
  }

  /** Sends a request; the reply, or a ShardError when the process dies, overruns `timeoutMs` or `signal` aborts. */
  request(req: Request, timeoutMs: number, signal?: AbortSignal): Promise<RunnerReply> {
    if (!this.alive) return Promise.reject(new ShardError(this.exit!, true));
    const id = this.nextId++;
    return new Promise<RunnerReply>((resolve, reject) => {
      const settle = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      const stop = (error: ShardError) => {
        if (!this.pending.delete(id)) return;
        settle();
        this.kill();
        reject(error);
      };
      const timer = setTimeout(() => stop(new ShardError(`shard ran past the time limit of ${timeoutMs / 1000} s and was stopped`, true)), timeoutMs);
      const onAbort = () => stop(new ShardError(`shard stopped: ${String(signal?.reason ?? 'aborted')}`, true));
      this.pending.set(id, {
        resolve: (r) => {
          settle();
          resolve(r);
        },
        reject: (e) => {
          settle();
          reject(e);
        },
      });
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      this.child.send({ ...req, id } as RunnerRequest, (error) => error && this.fail(`the ONNX Runtime process cannot be reached: ${error.message}`));
    });
  }

  /** Stops the process at once (SIGKILL: ONNX Runtime does not return to the event loop mid-run). */
  kill(): void {
    clearTimeout(this.idleTimer);
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    this.fail('the ONNX Runtime process was stopped');
  }
}

/** How a lane's shards are run. */
export interface ExecutorOptions {
  /** `cuda` runs on the GPU named by `gpuUuid`. */
  readonly provider: 'cuda' | 'cpu';
  /** The GPU of a CUDA executor (set as CUDA_VISIBLE_DEVICES: CUDA's own numbering need not match NVML's). */
  readonly gpuUuid?: string;
  /** Model sessions each runner keeps loaded. Default 4. */
  readonly maxModels?: number;
  /** A shard running longer is stopped and reported as a retryable failure. Default 10 minutes. */
  readonly timeLimitMs?: number;
  /** An idle runner process exits after this long, giving its memory back. Default 60 s. */
  readonly idleExitMs?: number;
  /**
   * Runner processes alive at once; shards beyond wait for one. ONNX Runtime computes on the
   * runner's thread, so more CPU runners than cores only adds context switches (measured: 32
   * runners on 2 cores ran a noop job 5x slower). Default: the machine's cores for `cpu`, 2 for `cuda`.
   */
  readonly maxRunners?: number;
}

/**
 * Runs shards with ONNX Runtime in runner processes (`runner/runner.ts`), one shard per process
 * at a time, so that the agent's own event loop never blocks and a shard can be stopped at once:
 * when the owner wants the machine back (`signal`), when it overruns its time limit, or when the
 * agent stops. Models are fetched once from the object store (verified against their hash) into
 * files; each runner keeps its sessions.
 */
export class ShardExecutor {
  private readonly idle: Runner[] = [];
  private readonly all = new Set<Runner>();
  private readonly waiting: Array<(runner: Runner | undefined) => void> = [];
  private readonly maxRunners: number;
  private closed = false;

  constructor(
    private readonly models: ModelFiles,
    private readonly options: ExecutorOptions,
  ) {
    this.maxRunners = Math.max(1, options.maxRunners ?? (options.provider === 'cuda' ? 2 : availableParallelism()));
  }

  /** PIDs of the runner processes alive now (their GPU use is the agent's, not the owner's). */
  pids(): number[] {
    return [...this.all].filter((r) => r.alive && r.child.pid !== undefined).map((r) => r.child.pid!);
  }

  /** Runs one shard: WEAT input bytes in, WEAT output tensor out; `keys` open a sealed model. Throws ShardError. */
  async run(modelHash: string, input: Uint8Array, names: { input?: string; output?: string }, signal?: AbortSignal, keys?: KeyResolver): Promise<Tensor> {
    const model = await this.models.acquire(modelHash, keys);
    try {
      if (signal?.aborted) throw new ShardError(`shard stopped: ${String(signal.reason)}`, true);
      const runner = await this.take(signal);
      try {
        const reply = await runner.request(
          { kind: 'run', modelHash, modelPath: model.path, input, ...(names.input ? { inputName: names.input } : {}), ...(names.output ? { outputName: names.output } : {}) },
          this.options.timeLimitMs ?? 600_000,
          signal,
        );
        if (!reply.ok) throw new ShardError(reply.message, reply.retryable);
        if (reply.kind !== 'run') throw new ShardError(`the runner answered ${reply.kind} to a run`, true);
        return reply.output;
      } finally {
        this.give(runner);
      }
    } finally {
      model.release();
    }
  }

  /** An idle runner, a new one while fewer than `maxRunners` live, or the next one given back. */
  private take(signal?: AbortSignal): Promise<Runner> {
    if (this.closed) return Promise.reject(new ShardError('the agent is stopping', true));
    for (let r = this.idle.pop(); r; r = this.idle.pop()) {
      clearTimeout(r.idleTimer);
      if (r.alive) return Promise.resolve(r);
      this.all.delete(r);
    }
    if (this.all.size < this.maxRunners) return Promise.resolve(this.spawn());
    return new Promise<Runner>((resolve, reject) => {
      const onAbort = (): void => {
        const at = this.waiting.indexOf(wake);
        if (at >= 0) this.waiting.splice(at, 1);
        reject(new ShardError(`shard stopped: ${String(signal?.reason)}`, true));
      };
      const wake = (runner: Runner | undefined): void => {
        signal?.removeEventListener('abort', onAbort);
        if (runner) resolve(runner);
        else reject(new ShardError('the agent is stopping', true));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(wake);
    });
  }

  private spawn(): Runner {
    const env: NodeJS.ProcessEnv = this.options.provider === 'cuda' && this.options.gpuUuid ? { CUDA_VISIBLE_DEVICES: this.options.gpuUuid } : {};
    const runner = new Runner({ provider: this.options.provider, maxModels: this.options.maxModels ?? 4 }, env);
    this.all.add(runner);
    return runner;
  }

  private give(runner: Runner): void {
    if (!runner.alive || this.closed) {
      runner.kill();
      this.all.delete(runner);
      // A dead runner frees a place: a waiting shard gets a fresh one.
      const next = this.waiting.shift();
      if (next) next(this.closed ? undefined : this.spawn());
      return;
    }
    const next = this.waiting.shift();
    if (next) {
      next(runner);
      return;
    }
    runner.idleTimer = setTimeout(() => {
      const at = this.idle.indexOf(runner);
      if (at >= 0) this.idle.splice(at, 1);
      this.all.delete(runner);
      runner.kill();
    }, this.options.idleExitMs ?? 60_000);
    runner.idleTimer.unref();
    this.idle.push(runner);
  }

  /** Stops every runner process (a shard still running fails with a retryable ShardError). */
  async close(): Promise<void> {
    this.closed = true;
    for (const wake of this.waiting.splice(0)) wake(undefined);
    const exits = [...this.all].map((r) => new Promise<void>((resolve) => (r.child.exitCode !== null || r.child.signalCode !== null ? resolve() : r.child.once('exit', () => resolve()))));
    for (const r of this.all) r.kill();
    this.all.clear();
    this.idle.length = 0;
    await Promise.all(exits);
  }
}

/**
 * Measures the node in a runner process: whether ONNX Runtime can use CUDA here (`tryCuda`: a
 * GPU was detected) and the benchmark score on the provider it will use.
 */
export async function probeRuntime(tryCuda: boolean, timeoutMs = 120_000): Promise<{ cuda: { usable: boolean; reason?: string }; score: number }> {
  const runner = new Runner({ provider: 'cpu', maxModels: 1 }, {});
  try {
    const reply = await runner.request({ kind: 'probe', tryCuda }, timeoutMs);
    if (!reply.ok) throw new Error(`measuring this node failed: ${reply.message}`);
    if (reply.kind !== 'probe') throw new Error(`the runner answered ${reply.kind} to a probe`);
    return { cuda: reply.cuda, score: reply.score };
  } finally {
    runner.kill();
  }
}
