/**
 * The executor against the real things: models from the JetStream object store of a real
 * nats-server, ONNX Runtime in real runner processes, stopped with real signals.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstream } from '@nats-io/jetstream';
import { setSha256Backend } from '@nats-io/obj';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { ContentStore } from '@weai/messaging/src/objects';
import { type TestNatsServer, startNatsServer } from '@weai/messaging/src/testing/nats-server';
import { encodeTensor, float32Tensor, sha256 } from '@weai/tensors';
import { ModelFiles, ShardError, ShardExecutor } from '../src/executor';
import { referenceChain, referenceMlp } from '../src/onnx/reference-model';

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
const input = (items: number, width: number) => encodeTensor(float32Tensor([items, width], Array.from({ length: items * width }, (_, i) => Math.sin(i) / 2)));
const failure = async (p: Promise<unknown>): Promise<ShardError> => {
  const error = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ShardError);
  return error as ShardError;
};
/** Resolves once the executor has a runner process, i.e. the shard is under way. */
const runnerOf = async (executor: ShardExecutor): Promise<number> => {
  for (let i = 0; i < 500 && executor.pids().length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  return executor.pids()[0]!;
};

describe('ShardExecutor: ONNX Runtime in runner processes', () => {
  let nats: TestNatsServer;
  let nc: NatsConnection;
  let store: ContentStore;
  let dir: string;
  let models: ModelFiles;
  let mlp: string;
  let slow: string;
  const executors: ShardExecutor[] = [];
  const executor = (options: Partial<ConstructorParameters<typeof ShardExecutor>[1]> = {}) => {
    const e = new ShardExecutor(models, { provider: 'cpu', ...options });
    executors.push(e);
    return e;
  };

  beforeAll(async () => {
    // The object store's native SHA-256 loads node:crypto with a dynamic import, which Jest's
    // module sandbox refuses without --experimental-vm-modules; the JS backend gives the same hashes.
    setSha256Backend('js');
    nats = await startNatsServer();
    nc = await connect({ servers: nats.url });
    store = await ContentStore.open(jetstream(nc));
    dir = mkdtempSync(join(tmpdir(), 'weai-executor-'));
    models = new ModelFiles(store, join(dir, 'models'), { maxModelBytes: 8 * 1024 * 1024 });
    mlp = await store.put(referenceMlp());
    slow = await store.put(referenceChain({ width: 512, depth: 400 }));
  });
  afterEach(async () => {
    await Promise.all(executors.splice(0).map((e) => e.close()));
  });
  afterAll(async () => {
    models?.close();
    await nc?.close();
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs a shard outside the agent process, and the same shard gives the same bytes every time', async () => {
    const a = executor();
    const out = await a.run(mlp, input(8, 64), {});
    expect(out.dtype).toBe('float32');
    expect(out.dims).toEqual([8, 16]);
    expect(a.pids()).toHaveLength(1);
    expect(a.pids()[0]).not.toBe(process.pid);
    const again = await executor().run(mlp, input(8, 64), {});
    expect(sha256(encodeTensor(again))).toBe(sha256(encodeTensor(out)));
    // The runner is kept for the next shard.
    await a.run(mlp, input(2, 64), {});
    expect(a.pids()).toHaveLength(1);
  });

  it('never runs more runner processes than maxRunners: further shards wait for one, and a waiting shard can be stopped', async () => {
    const e = executor({ maxRunners: 1 });
    let most = 0;
    const watch = setInterval(() => (most = Math.max(most, e.pids().length)), 2);
    const outs = await Promise.all([1, 2, 3].map((n) => e.run(mlp, input(n, 64), {})));
    clearInterval(watch);
    expect(outs.map((o) => o.dims)).toEqual([
      [1, 16],
      [2, 16],
      [3, 16],
    ]);
    expect(most).toBe(1);
    expect(e.pids()).toHaveLength(1);

    // Handled from the start: under load `busy` may reach the runner queue only after close() below.
    const busy = failure(e.run(slow, input(256, 512), {}));
    const abort = new AbortController();
    const waiting = e.run(mlp, input(1, 64), {}, abort.signal);
    abort.abort('the owner started a game');
    const error = await failure(waiting);
    expect(error.message).toBe('shard stopped: the owner started a game');
    expect(error.retryable).toBe(true);
    expect(e.pids()).toHaveLength(1);
    await e.close();
    await busy;
  });

  it('stops a shard that overruns its time limit, kills its runner, and says it may be retried', async () => {
    const e = executor({ timeLimitMs: 300 });
    const started = performance.now();
    const running = e.run(slow, input(256, 512), {});
    const pid = await runnerOf(e);
    const error = await failure(running);
    expect(error.message).toBe('shard ran past the time limit of 0.3 s and was stopped');
    expect(error.retryable).toBe(true);
    expect(performance.now() - started).toBeLessThan(2000);
    for (let i = 0; i < 100 && alive(pid); i++) await new Promise((r) => setTimeout(r, 10));
    expect(alive(pid)).toBe(false);
    // The next shard gets a fresh runner.
    const ok = executor({ timeLimitMs: 60_000 });
    await expect(ok.run(mlp, input(1, 64), {})).resolves.toMatchObject({ dims: [1, 16] });
  });

  it('stops a shard at once when it is aborted (the owner wants the machine back)', async () => {
    const e = executor();
    const abort = new AbortController();
    const running = e.run(slow, input(256, 512), {}, abort.signal);
    const pid = await runnerOf(e);
    await new Promise((r) => setTimeout(r, 300)); // inside ONNX Runtime by now
    const at = performance.now();
    abort.abort('game.exe (pid 4242) is using the GPU');
    const error = await failure(running);
    expect(performance.now() - at).toBeLessThan(100);
    expect(error.message).toBe('shard stopped: game.exe (pid 4242) is using the GPU');
    for (let i = 0; i < 100 && alive(pid); i++) await new Promise((r) => setTimeout(r, 10));
    expect(alive(pid)).toBe(false);
  });

  it('a runner that dies mid-shard fails that shard (retryable), and the agent goes on', async () => {
    const e = executor();
    const running = e.run(slow, input(256, 512), {});
    const pid = await runnerOf(e);
    process.kill(pid, 'SIGKILL');
    const error = await failure(running);
    expect(error.message).toMatch(/^the ONNX Runtime process stopped \(SIGKILL\) during the shard/);
    expect(error.retryable).toBe(true);
    await expect(e.run(mlp, input(1, 64), {})).resolves.toMatchObject({ dims: [1, 16] });
  });

  it('refuses a model above its size limit before fetching it; another node may take it', async () => {
    const small = new ModelFiles(store, join(dir, 'small'), { maxModelBytes: 1024 });
    try {
      const error = await failure(new ShardExecutor(small, { provider: 'cpu' }).run(mlp, input(1, 64), {}));
      expect(error.message).toMatch(/^model [0-9a-f]{12} is 0\.\d MiB, above this node's limit of 0 MiB \(maxModelMb\)$/);
      expect(error.retryable).toBe(true);
    } finally {
      small.close();
    }
  });

  it('bad input never crashes anything: each is a ShardError saying whether another node could do better', async () => {
    const e = executor();
    const garbage = await store.put(new TextEncoder().encode('this is not an ONNX model'));
    const notLoading = await failure(e.run(garbage, input(1, 64), {}));
    expect(notLoading.message).toMatch(/^model does not load: /);
    expect(notLoading.retryable).toBe(false);
    const malformed = await failure(e.run(mlp, new TextEncoder().encode('WEAT?'), {}));
    expect(malformed.message).toMatch(/^shard input is malformed: /);
    expect(malformed.retryable).toBe(false);
    const wrongShape = await failure(e.run(mlp, input(2, 32), {}));
    expect(wrongShape.message).toMatch(/^model failed on this shard: /);
    const missing = await failure(e.run('0'.repeat(64), input(1, 64), {}));
    expect(missing).toMatchObject({ message: 'model 000000000000 is not in the object store', retryable: false });
    await expect(e.run(mlp, input(1, 64), {})).resolves.toMatchObject({ dims: [1, 16] });
  });

  it('an idle runner exits, giving its memory back', async () => {
    const e = executor({ idleExitMs: 200 });
    await e.run(mlp, input(1, 64), {});
    const [pid] = e.pids();
    for (let i = 0; i < 200 && alive(pid!); i++) await new Promise((r) => setTimeout(r, 10));
    expect(alive(pid!)).toBe(false);
    expect(e.pids()).toEqual([]);
  });
});
