import { headers as natsHeaders } from '@nats-io/transport-node';
import { DeliverPolicy } from '@nats-io/jetstream';
import { JOB_STATUS_BUCKET, RESULTS_STREAM, RESULT_HEADERS, SHARDS_STREAM, WORK_HEADERS, shardSubject } from '@weai/contracts';
import { Kvm } from '@nats-io/kv';
import type { Bus, ContentStore } from '@weai/messaging';
import { type TestBus, startTestBus } from '@weai/messaging/src/testing/test-bus';
import { encodeTensor, float32Tensor, sha256 } from '@weai/tensors';
import type { ShardExecutor } from '../src/executor';
import { ShardLedger, ShardWorker, type WorkerEvent } from '../src/worker';

/**
 * ShardWorker against a real NATS server. The executor is a stand-in (ONNX Runtime is not what is
 * under test here; test/agent.e2e.spec.ts runs real models): it returns the input as the output.
 */
describe('ShardWorker: taking work items', () => {
  let net: TestBus;
  let bus: Bus;
  let objects: ContentStore;
  const workers: ShardWorker[] = [];
  const input = encodeTensor(float32Tensor([1, 2], new Float32Array([1, 2])));
  const executor = { run: async () => float32Tensor([1, 2], new Float32Array([1, 2])) } as unknown as ShardExecutor;

  beforeEach(async () => {
    net = await startTestBus('worker-test');
    ({ bus, objects } = net);
  });
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.stop()));
    await net.stop();
  });

  async function startWorker(nodeId: string, ledger = new ShardLedger(), events: WorkerEvent[] = [], run = executor, slots = 1): Promise<ShardWorker> {
    const worker = new ShardWorker({ js: bus.js, jsm: bus.jsm, objects, executor: run, nodeId, classes: ['cpu.generic'], slots, leaseMs: 3000, ledger, onEvent: (e) => events.push(e) });
    workers.push(worker);
    await worker.start();
    return worker;
  }

  async function publishItem(jobId: string, shard: number, replica: number, excludeNodes?: string): Promise<void> {
    const h = natsHeaders();
    h.set(WORK_HEADERS.job, jobId);
    h.set(WORK_HEADERS.shard, String(shard));
    h.set(WORK_HEADERS.replica, String(replica));
    h.set(WORK_HEADERS.attempt, '1');
    h.set(WORK_HEADERS.model, 'a'.repeat(64));
    h.set(WORK_HEADERS.input, sha256(input));
    h.set(WORK_HEADERS.items, '1');
    if (excludeNodes !== undefined) h.set(WORK_HEADERS.excludeNodes, excludeNodes);
    await bus.js.publish(shardSubject('cpu.generic'), input, { headers: h, msgID: `${jobId}.${shard}.${replica}.1` });
  }

  /** The node that reported each result of a job (with its error, if any), awaited as they arrive in WEAI_RESULTS. */
  async function resultsOf(jobId: string, n: number, withErrors = false): Promise<string[]> {
    const consumer = await bus.js.consumers.get(RESULTS_STREAM, { deliver_policy: DeliverPolicy.All, filter_subjects: `weai.result.${jobId}.>` });
    const messages = await consumer.consume();
    const nodes: string[] = [];
    for await (const m of messages) {
      const error = m.headers!.get(RESULT_HEADERS.error);
      nodes.push(withErrors && error ? `${m.headers!.get(RESULT_HEADERS.node)}: ${error}` : m.headers!.get(RESULT_HEADERS.node));
      if (nodes.length >= n) break;
    }
    await messages.close();
    return nodes;
  }

  it('given a node that ran a shard whose result did not count, when the verification replica excludes only the other node, then this node runs it', async () => {
    const ledger = new ShardLedger();
    ledger.begin('job-v.0');
    ledger.end('job-v.0', true); // node-a ran replica 0 (its lease expired; node-b's result counted)
    await startWorker('node-a', ledger);
    await publishItem('job-v', 0, 1, 'node-b');
    expect(await resultsOf('job-v', 1)).toEqual(['node-a']);
  });

  it('given a node the scheduler holds a result of, when the verification replica names it, then it leaves it to another node', async () => {
    const events: WorkerEvent[] = [];
    await startWorker('node-b', new ShardLedger(), events);
    await publishItem('job-x', 0, 1, 'node-b');
    await startWorker('node-c');
    expect(await resultsOf('job-x', 1)).toEqual(['node-c']);
    expect(events.filter((e) => e.kind === 'started')).toEqual([]);
  });

  it('given two verification replicas that each exclude one of two nodes, when both arrive together, then each runs on the other node (refusals do not fall into step)', async () => {
    const a: WorkerEvent[] = [];
    const b: WorkerEvent[] = [];
    await Promise.all([startWorker('node-a', new ShardLedger(), a, executor, 2), startWorker('node-b', new ShardLedger(), b, executor, 2)]);
    for (let round = 0; round < 5; round++) {
      const jobId = `job-pair-${round}`;
      await Promise.all([publishItem(jobId, 0, 1, 'node-a'), publishItem(jobId, 1, 1, 'node-b')]);
      // Shard 0 excludes node-a, shard 1 node-b: one result each means each ran on the other node.
      expect((await resultsOf(jobId, 2)).sort()).toEqual(['node-a', 'node-b']);
    }
    expect([...a, ...b].filter((e) => e.kind === 'skipped').every((e) => e.kind === 'skipped' && /holds this node/.test(e.reason))).toBe(true);
  }, 90_000);

  it('given a work item of a job that has ended, when a node takes it, then it leaves the queue for good without running', async () => {
    const jobStatus = await new Kvm(bus.js).create(JOB_STATUS_BUCKET, { history: 1 });
    await jobStatus.put('job-ended', 'completed');
    const events: WorkerEvent[] = [];
    const worker = new ShardWorker({ js: bus.js, jsm: bus.jsm, objects, executor, nodeId: 'node-a', classes: ['cpu.generic'], slots: 1, leaseMs: 1000, jobStatus, onEvent: (e) => events.push(e) });
    workers.push(worker);
    await worker.start();
    await publishItem('job-ended', 0, 0);
    // Gone from the work queue (a work-queue stream drops what its consumer terminated), not held or handed out again.
    for (let i = 0; i < 300 && (await bus.jsm.streams.info(SHARDS_STREAM)).state.messages > 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect((await bus.jsm.streams.info(SHARDS_STREAM)).state.messages).toBe(0);
    expect(events.filter((e) => e.kind === 'started')).toEqual([]);
  });

  it('given the work queue subscription ends under it (as the client library does on some fail-over errors), when work arrives, then the node subscribes again and runs it', async () => {
    const events: WorkerEvent[] = [];
    const worker = await startWorker('node-a', new ShardLedger(), events);
    await publishItem('job-r', 0, 0);
    expect(await resultsOf('job-r', 1)).toEqual(['node-a']);
    // End the live subscription from outside, the way the library stops an iterator.
    for (const s of (worker as unknown as { subscriptions: Array<{ stop(): void }> }).subscriptions) s.stop();
    await publishItem('job-r', 1, 0);
    expect(await resultsOf('job-r', 2)).toEqual(['node-a', 'node-a']);
    expect(events.some((e) => e.kind === 'warning' && /subscribing again/.test(e.message))).toBe(true);
  });

  it('given the bus failing under a shard (not the shard’s fault), when it runs, then the lease goes back and the shard runs again instead of being reported failed', async () => {
    let calls = 0;
    const flaky = {
      run: async () => {
        if (++calls === 1) throw new Error('jetstream is not enabled');
        return float32Tensor([1, 2], new Float32Array([1, 2]));
      },
    } as unknown as ShardExecutor;
    const events: WorkerEvent[] = [];
    await startWorker('node-a', new ShardLedger(), events, flaky);
    await publishItem('job-f', 0, 0);
    expect(await resultsOf('job-f', 1, true)).toEqual(['node-a']);
    expect(calls).toBe(2);
    expect(events.find((e) => e.kind === 'released')).toMatchObject({ reason: 'could not run it: jetstream is not enabled' });
  });
});
