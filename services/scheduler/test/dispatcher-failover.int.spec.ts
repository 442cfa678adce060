import type { JetStreamClient } from '@nats-io/jetstream';
import { type EventStore, openSqlEventStore } from '@weai/eventstore';
import type { ContentStore } from '@weai/messaging';
import { encodeTensor, float32Tensor, sha256 } from '@weai/tensors';
import { DatasetCache } from '../src/application/datasets';
import { Dispatcher } from '../src/application/dispatcher';
import { JobRepository } from '../src/application/job.repository';
import { submitTestJob, testJobSpec } from './support';

/**
 * During a NATS server's loss every publish of a window times out. The first failure is passed on
 * (the event is redelivered), and the others must not become unhandled rejections: Node ends a
 * process on one, and bench:scale saw a scheduler replica die that way while a server was down.
 */
describe('Dispatcher: a window of publishes failing at once', () => {
  let store: EventStore;
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);

  beforeAll(() => process.on('unhandledRejection', onUnhandled));
  afterAll(() => process.off('unhandledRejection', onUnhandled));
  beforeEach(async () => {
    store = await openSqlEventStore({ type: 'sqlite', path: ':memory:' });
  });
  afterEach(() => store.close());

  it('passes the first failure on and leaves no rejection unhandled', async () => {
    const shards = 400;
    const jobs = new JobRepository(store);
    const dataset = float32Tensor([shards, 4], new Float32Array(shards * 4));
    const inputHash = sha256(encodeTensor(dataset));
    const datasets = new DatasetCache({} as ContentStore);
    datasets.remember(inputHash, dataset);
    await submitTestJob(jobs, 'job-failover', testJobSpec({ inputHash, itemCount: shards }));
    // The JetStream client as it behaves while its server is gone: every publish times out (each a little later than the one before).
    let published = 0;
    const js = { publish: () => new Promise((_, reject) => setTimeout(() => reject(Object.assign(new Error('timeout'), { name: 'TimeoutError' })), 5 + (published++ % 7))) } as unknown as JetStreamClient;
    const dispatcher = new Dispatcher(js, jobs, datasets, { sealing: false, sealInline: (bytes: Uint8Array) => Promise.resolve(bytes) } as unknown as ContentStore, shards);

    await expect(dispatcher.dispatchJob('job-failover')).rejects.toThrow('timeout');
    await new Promise((r) => setTimeout(r, 100));
    expect(published).toBeGreaterThan(128); // more in flight than the part of the window awaited
    expect(unhandled).toEqual([]);
  });
});
