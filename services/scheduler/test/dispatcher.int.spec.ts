import { SHARDS_STREAM, WORK_HEADERS } from '@weai/contracts';
import { type EventStore, openSqlEventStore } from '@weai/eventstore';
import type { Bus, ContentStore } from '@weai/messaging';
import { encodeTensor, float32Tensor, sha256 } from '@weai/tensors';
import { DatasetCache } from '../src/application/datasets';
import { Dispatcher } from '../src/application/dispatcher';
import { JobRepository } from '../src/application/job.repository';
import { type TestBus, startTestBus, submitTestJob, testJobSpec } from './support';
import { commandMetadata } from '../src/application/metadata';

describe('Dispatcher: a large job goes out a window at a time', () => {
  let net: TestBus;
  let bus: Bus;
  let store: EventStore;
  let jobs: JobRepository;
  let datasets: DatasetCache;
  let objects: ContentStore;
  const jobId = 'job-window';
  const shards = 300;

  beforeEach(async () => {
    net = await startTestBus('dispatcher-test');
    ({ bus, objects } = net);
    store = await openSqlEventStore({ type: 'sqlite', path: ':memory:' });
    jobs = new JobRepository(store);
    datasets = new DatasetCache(objects);
    const dataset = float32Tensor([shards, 4], new Float32Array(shards * 4));
    const inputHash = sha256(encodeTensor(dataset));
    datasets.remember(inputHash, dataset);
    await submitTestJob(jobs, jobId, testJobSpec({ inputHash, itemCount: shards }));
  });
  afterEach(async () => {
    await store.close();
    await net.stop();
  });

  /** Shard indexes of the work items in the queue, in queue order (a work queue takes no ordered consumer: read by sequence). */
  async function queued(): Promise<number[]> {
    const { state } = await bus.jsm.streams.info(SHARDS_STREAM);
    const out: number[] = [];
    for (let seq = state.first_seq; seq <= state.last_seq && state.messages > 0; seq++) {
      const m = await bus.jsm.streams.getMessage(SHARDS_STREAM, { seq });
      if (m) out.push(Number(m.header.get(WORK_HEADERS.shard)));
    }
    return out;
  }

  /** Records a result of replica 0 for each shard: trusted ones validate it, untrusted ones leave the shard awaiting verification. */
  async function results(indexes: Iterable<number>, trusted: boolean): Promise<void> {
    for (const shardIndex of indexes) {
      const data = { shardIndex, replica: 0, attempt: 1, nodeId: 'node-1', sameOwnerAs: [], outputHash: 'b'.repeat(64), computeMs: 1, agreesWith: [], nodeTrusted: trusted, spotCheckDraw: 0.5 };
      await jobs.execute(jobId, { type: 'RecordResult', data, metadata: commandMetadata(new Date(), `result-${shardIndex}`) });
    }
  }
  const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

  it('publishes the first window, tops up as first replicas come back, and every shard once in shard order', async () => {
    const dispatcher = new Dispatcher(bus.js, jobs, datasets, objects, 100);
    expect(await dispatcher.dispatchJob(jobId)).toBe(100);
    expect(await queued()).toEqual(range(0, 100));
    // Nothing came back: nothing more goes out, however often it is asked.
    expect(await dispatcher.topUp(jobId)).toBe(0);

    await results(range(0, 40), true);
    await results([40], false); // awaiting verification: its first replica is back all the same
    expect(await dispatcher.topUp(jobId)).toBe(41);
    expect(await queued()).toEqual(range(0, 141));

    // A restarted scheduler remembers nothing: it starts again at the first shard still waiting,
    // and JetStream drops what is already queued.
    const restarted = new Dispatcher(bus.js, jobs, datasets, objects, 100);
    await restarted.topUp(jobId);
    expect(await queued()).toEqual(range(0, 141));

    await results(range(41, 141), true);
    expect(await restarted.topUp(jobId)).toBe(100);
    await results(range(141, 241), true);
    expect(await restarted.topUp(jobId)).toBe(59);
    expect(await queued()).toEqual(range(0, shards));
    await results(range(241, shards), true);
    expect(await restarted.topUp(jobId)).toBe(0);
  });

  it('names the nodes whose results it holds on a verification replica, so that only they leave it to others', async () => {
    const dispatcher = new Dispatcher(bus.js, jobs, datasets, objects, 1);
    await dispatcher.dispatchJob(jobId);
    await results([0], false); // node-1's result: replica 1 must come from another node
    await dispatcher.publish([{ jobId, shardIndex: 0, replica: 1, attempt: 1 }]);
    const { state } = await bus.jsm.streams.info(SHARDS_STREAM);
    const first = await bus.jsm.streams.getMessage(SHARDS_STREAM, { seq: state.first_seq });
    const verification = await bus.jsm.streams.getMessage(SHARDS_STREAM, { seq: state.last_seq });
    expect(first!.header.get(WORK_HEADERS.excludeNodes)).toBe('');
    expect([verification!.header.get(WORK_HEADERS.replica), verification!.header.get(WORK_HEADERS.excludeNodes)]).toEqual(['1', 'node-1']);
  });

  it('publishes a job no larger than the window at once', async () => {
    const dispatcher = new Dispatcher(bus.js, jobs, datasets, objects, shards);
    expect(await dispatcher.dispatchJob(jobId)).toBe(shards);
    expect(await queued()).toEqual(range(0, shards));
  });
});
