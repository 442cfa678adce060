import { headers as natsHeaders } from '@nats-io/transport-node';
import { DeliverPolicy } from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import { JOB_STATUS_BUCKET, RESULTS_STREAM, RESULT_HEADERS, SHARDS_STREAM, WORK_HEADERS, shardSubject } from '@weai/contracts';
import type { Bus, ContentStore } from '@weai/messaging';
import { type TestBus, startTestBus } from '@weai/messaging/src/testing/test-bus';
import { encodeTensor, float32Tensor, sha256 } from '@weai/tensors';
import type { ShardExecutor } from '../src/executor';
import { type JobStatusWatch, ShardWorker, type WorkerEvent } from '../src/worker';

/**
 * The agent side of the job pipeline's speed (docs/performance.md, "Agent-side changes") against a
 * real NATS server: the input of the next work item is read while a slot computes, and the job
 * status comes from one watch of the bucket instead of a request per work item.
 */
describe('ShardWorker: pipelining work items', () => {
  let net: TestBus;
  let bus: Bus;
  let objects: ContentStore;
  const workers: ShardWorker[] = [];
  const output = float32Tensor([1, 2], new Float32Array([1, 2]));
  const quick = { run: async () => output } as unknown as ShardExecutor;

  beforeEach(async () => {
    net = await startTestBus('worker-pipeline-test');
    ({ bus, objects } = net);
  });
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.stop()));
    await net.stop();
  });

  async function startWorker(options: { executor?: ShardExecutor; store?: ContentStore; jobStatus?: KV; events?: WorkerEvent[] }): Promise<ShardWorker> {
    const { executor = quick, store = objects, jobStatus, events = [] } = options;
    const worker = new ShardWorker({ js: bus.js, jsm: bus.jsm, objects: store, executor, nodeId: 'node-a', classes: ['cpu.generic'], slots: 1, leaseMs: 3000, onEvent: (e) => events.push(e), ...(jobStatus ? { jobStatus } : {}) });
    workers.push(worker);
    await worker.start();
    return worker;
  }

  /** Publishes a work item whose input is `input` inline, or the object of that hash when `inputRef`. */
  async function publishItem(jobId: string, shard: number, input: string | Uint8Array): Promise<void> {
    const h = natsHeaders();
    h.set(WORK_HEADERS.job, jobId);
    h.set(WORK_HEADERS.shard, String(shard));
    h.set(WORK_HEADERS.replica, '0');
    h.set(WORK_HEADERS.attempt, '1');
    h.set(WORK_HEADERS.model, 'a'.repeat(64));
    h.set(WORK_HEADERS.input, typeof input === 'string' ? input : sha256(input));
    if (typeof input === 'string') h.set(WORK_HEADERS.inputRef, 'object');
    h.set(WORK_HEADERS.items, '1');
    await bus.js.publish(shardSubject('cpu.generic'), typeof input === 'string' ? new Uint8Array(0) : input, { headers: h, msgID: `${jobId}.${shard}.0.1` });
  }

  /** The results of a job (`ok` or the error), awaited as they arrive in WEAI_RESULTS. */
  async function resultsOf(jobId: string, n: number): Promise<string[]> {
    const consumer = await bus.js.consumers.get(RESULTS_STREAM, { deliver_policy: DeliverPolicy.All, filter_subjects: `weai.result.${jobId}.>` });
    const messages = await consumer.consume();
    const results: string[] = [];
    for await (const m of messages) {
      results.push(m.headers!.get(RESULT_HEADERS.error) || 'ok');
      if (results.length >= n) break;
    }
    await messages.close();
    return results;
  }

  async function waitFor(condition: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
    for (const end = Date.now() + ms; Date.now() < end && !(await condition()); ) await new Promise((r) => setTimeout(r, 10));
  }

  it('given a 1-slot node computing a shard, when the next work item arrives, then its input is read before the slot frees and it runs on it', async () => {
    const inputs = [1, 2].map((v) => encodeTensor(float32Tensor([1, 2], new Float32Array([v, v]))));
    const hashes = await Promise.all(inputs.map((b) => objects.put(b)));
    const reads: Array<{ hash: string; at: number }> = [];
    const store = Object.assign(Object.create(objects) as ContentStore, {
      getOpened: (hash: string, keys: Parameters<ContentStore['getOpened']>[1]) => {
        reads.push({ hash, at: performance.now() });
        return objects.getOpened(hash, keys);
      },
    });
    const runs: Array<{ input: string; start: number; end: number }> = [];
    const slow = {
      run: async (_model: string, input: Uint8Array) => {
        const start = performance.now();
        await new Promise((r) => setTimeout(r, 200));
        runs.push({ input: sha256(input), start, end: performance.now() });
        return output;
      },
    } as unknown as ShardExecutor;
    await startWorker({ executor: slow, store });
    await publishItem('job-p', 0, hashes[0]!);
    await publishItem('job-p', 1, hashes[1]!);
    expect(await resultsOf('job-p', 2)).toEqual(['ok', 'ok']);
    expect(runs.map((r) => r.input)).toEqual(hashes);
    expect(reads.map((r) => r.hash)).toEqual(hashes); // read once each
    // The second input was read while the first shard computed, not after its slot freed.
    expect(reads[1]!.at).toBeLessThan(runs[0]!.end);
  });

  it('given the input read ahead for a waiting work item fails, when the slot frees, then the shard is reported failed as when read then', async () => {
    const input = encodeTensor(float32Tensor([1, 2], new Float32Array([1, 1])));
    const slow = { run: () => new Promise((r) => setTimeout(() => r(output), 200)) } as unknown as ShardExecutor;
    const events: WorkerEvent[] = [];
    await startWorker({ executor: slow, events });
    await publishItem('job-m', 0, input);
    await publishItem('job-m', 1, 'f'.repeat(64)); // no such object
    expect(await resultsOf('job-m', 2)).toEqual(['ok', 'shard input does not match its hash']);
    expect(events.filter((e) => e.kind === 'failed')).toMatchObject([{ shard: 1, reason: 'shard input does not match its hash' }]);
  });

  /** The bucket, with its `get` calls counted. */
  function counted(kv: KV, overrides: Partial<KV> = {}): { kv: KV; gets: () => number } {
    let gets = 0;
    const wrapped = new Proxy(kv, {
      get(target, name) {
        if (name in overrides) return overrides[name as keyof KV];
        const value = Reflect.get(target, name, target) as unknown;
        if (name === 'get') return (key: string) => (gets++, kv.get(key));
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    return { kv: wrapped, gets: () => gets };
  }

  /** Whether the work queue is empty (a work-queue stream drops what its consumer terminated). */
  async function queueEmpty(): Promise<boolean> {
    return (await bus.jsm.streams.info(SHARDS_STREAM)).state.messages === 0;
  }

  it('given a job that ends while the node works, when its work items arrive, then they leave the queue without running and without a job-status request each', async () => {
    const bucket = await new Kvm(bus.js).create(JOB_STATUS_BUCKET, { history: 1 });
    await bucket.put('job-old', 'completed'); // replayed by the watch when the worker starts
    const { kv, gets } = counted(bucket);
    const events: WorkerEvent[] = [];
    const worker = await startWorker({ jobStatus: kv, events });
    await bucket.put('job-late', 'cancelled');
    const watch = (worker as unknown as { jobs?: JobStatusWatch }).jobs;
    await waitFor(() => !!watch?.knownEnded('job-late') && watch.knownEnded('job-old'));
    const getsBefore = gets();
    const input = encodeTensor(float32Tensor([1, 2], new Float32Array([3, 3])));
    await publishItem('job-old', 0, input);
    await publishItem('job-late', 0, input);
    await publishItem('job-live', 0, input);
    expect(await resultsOf('job-live', 1)).toEqual(['ok']);
    await waitFor(queueEmpty);
    expect(await queueEmpty()).toBe(true);
    expect(events.filter((e) => e.kind === 'started').map((e) => e.kind === 'started' && e.jobId)).toEqual(['job-live']);
    expect(gets() - getsBefore).toBe(0);
  });

  it('given the job-status watch cannot be opened, when an item of an ended job arrives, then the node asks the bucket for it and leaves the item', async () => {
    const bucket = await new Kvm(bus.js).create(JOB_STATUS_BUCKET, { history: 1 });
    await bucket.put('job-ended', 'completed');
    const { kv, gets } = counted(bucket, { watch: () => Promise.reject(new Error('watch refused')) });
    const events: WorkerEvent[] = [];
    await startWorker({ jobStatus: kv, events });
    await publishItem('job-ended', 0, encodeTensor(float32Tensor([1, 2], new Float32Array([4, 4]))));
    await waitFor(queueEmpty);
    expect(await queueEmpty()).toBe(true);
    expect(events.filter((e) => e.kind === 'started')).toEqual([]);
    expect(gets()).toBe(1);
    expect(events).toContainEqual({ kind: 'warning', message: 'cannot watch the job status: watch refused: asking for each job until it is open again' });
  });
});
