import { headers as natsHeaders } from '@nats-io/transport-node';
import { RESULT_HEADERS, resultSubject } from '@weai/contracts';
import { type EventStore, openSqlEventStore } from '@weai/eventstore';
import type { Bus, ContentStore } from '@weai/messaging';
import { concatItems, decodeTensor, encodeTensor, float32Tensor, sha256 } from '@weai/tensors';
import { Integrator } from '../src/application/integration';
import { JobRepository } from '../src/application/job.repository';
import { commandMetadata } from '../src/application/metadata';
import { toJobStreamId } from '../src/domain/job';
import { type TestBus, startTestBus, submitTestJob, testJobSpec } from './support';

/**
 * Two scheduler replicas share one event store, each with its job state in memory. The replica
 * that records a job's last validation is not always the one JetStream hands that ShardValidated
 * event to: the other one's memory is older than the event, and it must integrate all the same.
 */
describe('Integrator: the last ShardValidated, handled by a replica that did not write it', () => {
  let net: TestBus;
  let bus: Bus;
  let store: EventStore;
  let objects: ContentStore;
  const jobId = 'job-two-replicas';
  const shards = 3;

  beforeEach(async () => {
    net = await startTestBus('integration-test');
    ({ bus, objects } = net);
    store = await openSqlEventStore({ type: 'sqlite', path: ':memory:' });
  });
  afterEach(async () => {
    await store.close();
    await net.stop();
  });

  const outputOf = (shardIndex: number) => float32Tensor([1, 2], new Float32Array([shardIndex, shardIndex + 0.5]));

  async function submit(jobs: JobRepository): Promise<void> {
    await submitTestJob(jobs, jobId, testJobSpec({ itemCount: shards }));
  }

  /** What an agent and the replica that takes its result do: the output stored and published, the result recorded (a trusted node: validated at once). */
  async function resultOf(jobs: JobRepository, shardIndex: number): Promise<void> {
    const bytes = encodeTensor(outputOf(shardIndex));
    const outputHash = await objects.put(bytes);
    const h = natsHeaders();
    h.set(RESULT_HEADERS.output, outputHash);
    h.set(RESULT_HEADERS.outputRef, 'object');
    await bus.js.publish(resultSubject(jobId, shardIndex, 0, 'node-1'), new Uint8Array(0), { headers: h });
    const data = { shardIndex, replica: 0, attempt: 1, nodeId: 'node-1', sameOwnerAs: [], outputHash, computeMs: 1, agreesWith: [], nodeTrusted: true, spotCheckDraw: 0.5 };
    await jobs.execute(jobId, { type: 'RecordResult', data, metadata: commandMetadata(new Date(), `result-${shardIndex}`) });
  }

  const lastValidatedRevision = async () => (await store.readStream(toJobStreamId(jobId))).filter((e) => e.type === 'ShardValidated').at(-1)!.revision;

  it('given replica B read the job before replica A validated its shards, when B gets the last ShardValidated, then B integrates and completes the job', async () => {
    const a = new JobRepository(store);
    const b = new JobRepository(store);
    await submit(a);
    await resultOf(b, 0); // B has the job in memory, with one shard validated
    await resultOf(a, 1);
    await resultOf(a, 2);
    expect(b.peek(jobId)?.status).toBe('running'); // B's memory: still shards to go

    const outputHash = await new Integrator(bus.js, bus.jsm, b, objects).integrateIfDone(jobId, await lastValidatedRevision());

    const expected = encodeTensor(concatItems([0, 1, 2].map(outputOf)));
    expect(outputHash).toBe(sha256(expected));
    expect(encodeTensor(decodeTensor((await objects.get(outputHash!))!))).toEqual(expected);
    const events = await store.readStream(toJobStreamId(jobId));
    expect(events.filter((e) => e.type === 'JobCompleted')).toHaveLength(1);
  });

  it('given a replica whose memory already holds the event, when a ShardValidated arrives before the last shard, then it reads nothing and does nothing', async () => {
    let reads = 0;
    const counting: EventStore = Object.create(store, { readStream: { value: (...args: Parameters<EventStore['readStream']>) => (reads++, store.readStream(...args)) } });
    const a = new JobRepository(counting);
    await submit(a);
    await resultOf(a, 0);
    const revision = await lastValidatedRevision();
    reads = 0;
    const integrator = new Integrator(bus.js, bus.jsm, a, objects);

    expect(await integrator.integrateIfDone(jobId, revision)).toBeUndefined();
    expect(reads).toBe(0);
    expect((await store.readStream(toJobStreamId(jobId))).some((e) => e.type === 'JobCompleted')).toBe(false);
  });
});
