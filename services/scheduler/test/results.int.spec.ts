import { headers as natsHeaders } from '@nats-io/transport-node';
import { DeliverPolicy, type JsMsg } from '@nats-io/jetstream';
import { DataSource } from 'typeorm';
import { RESULTS_STREAM, RESULT_HEADERS, leaseToken, resultSubject } from '@weai/contracts';
import { type EventStore, openSqlEventStore } from '@weai/eventstore';
import { type Bus, type ContentStore, MalformedMessageError } from '@weai/messaging';
import { encodeTensor, float32Tensor, sha256 } from '@weai/tensors';
import { JobRepository } from '../src/application/job.repository';
import { commandMetadata } from '../src/application/metadata';
import { CreateSchedulerNodes1764400000000, NodeDirectory, NodeRecordEntity } from '../src/application/node-directory';
import { ResultHandler } from '../src/application/results';
import { toJobStreamId } from '../src/domain/job';
import { type TestBus, startTestBus, submitTestJob, testJobSpec } from './support';

/**
 * ResultHandler against a real NATS server and event store: what a result is compared with.
 * A replica can be reported by two nodes (a lease that expired on a slow node, then ran elsewhere);
 * only the first result counts, and the next replica must be compared with that one.
 */
describe('ResultHandler: comparing a replica with the results the job recorded', () => {
  let net: TestBus;
  let bus: Bus;
  let store: EventStore;
  let objects: ContentStore;
  let readModel: DataSource;
  const jobId = 'job-duplicate-replica';

  beforeEach(async () => {
    net = await startTestBus('results-test');
    ({ bus, objects } = net);
    store = await openSqlEventStore({ type: 'sqlite', path: ':memory:' });
    readModel = await new DataSource({ type: 'better-sqlite3', database: ':memory:', entities: [NodeRecordEntity], migrations: [CreateSchedulerNodes1764400000000], migrationsRun: true }).initialize();
    // Three untrusted nodes of three owners.
    for (const n of ['cheater', 'honest-1', 'honest-2']) await readModel.getRepository(NodeRecordEntity).insert({ nodeId: n, ownerId: `owner-${n}`, consecutiveValid: 0, rejected: 0, quarantined: false });
  });
  afterEach(async () => {
    await readModel.destroy();
    await store.close();
    await net.stop();
  });

  const honest = float32Tensor([1, 2], new Float32Array([0.25, 0.5]));
  const shifted = float32Tensor([1, 2], new Float32Array([1.25, 1.5]));

  /** Publishes a node's result of replica 0 or 1 of shard 0 and hands it to the handler, as the results listener does. */
  async function report(handler: ResultHandler, nodeId: string, replica: number, output: typeof honest, token?: string): Promise<void> {
    const bytes = encodeTensor(output);
    const h = natsHeaders();
    if (token) h.set(RESULT_HEADERS.leaseToken, token);
    h.set(RESULT_HEADERS.job, jobId);
    h.set(RESULT_HEADERS.shard, '0');
    h.set(RESULT_HEADERS.replica, String(replica));
    h.set(RESULT_HEADERS.attempt, '1');
    h.set(RESULT_HEADERS.node, nodeId);
    h.set(RESULT_HEADERS.output, sha256(bytes));
    const ack = await bus.js.publish(resultSubject(jobId, 0, replica, nodeId), bytes, { headers: h });
    const consumer = await bus.js.consumers.get(RESULTS_STREAM, { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: ack.seq });
    const msg = (await consumer.next()) as JsMsg;
    await handler.handle(msg);
  }

  it('given a cheater’s first replica and an honest late copy of it, when the verification replica agrees with the copy, then the shard is not validated on the cheater’s output', async () => {
    const jobs = new JobRepository(store);
    await submitTestJob(jobs, jobId, testJobSpec({ redundancy: { replicas: 1, spotCheckRate: 0, tolerance: 1e-5 } }));
    const handler = new ResultHandler(jobs, new NodeDirectory(readModel), bus.jsm, objects);

    await report(handler, 'cheater', 0, shifted); // counts: replica 0, verification replica 1 asked for
    await report(handler, 'honest-1', 0, honest); // the same replica again after its lease expired: ignored
    await report(handler, 'honest-2', 1, honest);

    const events = await store.readStream(toJobStreamId(jobId));
    const completed = events.filter((e) => e.type === 'ShardCompleted').map((e) => e.data as { nodeId: string; agreesWith: number[] });
    expect(completed).toEqual([expect.objectContaining({ nodeId: 'cheater', agreesWith: [] }), expect.objectContaining({ nodeId: 'honest-2', agreesWith: [] })]);
    expect(events.some((e) => e.type === 'ShardValidated')).toBe(false);
    // A third replica settles it.
    expect(events.filter((e) => e.type === 'ShardDispatched').map((e) => (e.data as { replica: number }).replica)).toEqual([1, 2]);
  });

  it('given a job with lease tokens, when a result lacks its work item’s token, then it is refused (parked) and nothing is recorded; with it, it counts', async () => {
    const jobs = new JobRepository(store);
    const secret = 'ab'.repeat(32);
    await jobs.execute(jobId, { type: 'SubmitJob', data: { jobId, partnerId: 'partner-1', spec: testJobSpec({ redundancy: { replicas: 1, spotCheckRate: 0, tolerance: 1e-5 } }), leaseSecret: secret }, metadata: commandMetadata(new Date(), `submit-${jobId}`) });
    const handler = new ResultHandler(jobs, new NodeDirectory(readModel), bus.jsm, objects);
    const parked = (p: Promise<void>) => p.then(() => 'handled', (e: unknown) => (e instanceof MalformedMessageError ? 'parked' : `failed: ${String(e)}`));

    expect(await parked(report(handler, 'honest-1', 0, honest))).toBe('parked');
    expect(await parked(report(handler, 'honest-1', 0, honest, leaseToken(secret, 0, 1, 1)))).toBe('parked'); // another item's token
    expect((await store.readStream(toJobStreamId(jobId))).filter((e) => e.type === 'ShardCompleted')).toEqual([]);

    expect(await parked(report(handler, 'honest-1', 0, honest, leaseToken(secret, 0, 0, 1)))).toBe('handled');
    expect((await store.readStream(toJobStreamId(jobId))).filter((e) => e.type === 'ShardCompleted').map((e) => (e.data as { nodeId: string }).nodeId)).toEqual(['honest-1']);
  });

  it('given two nodes of one owner, when the second reports the verification replica, then it does not confirm the first: another replica is asked for, and no job event names the owner', async () => {
    for (const n of ['sybil-a', 'sybil-b']) await readModel.getRepository(NodeRecordEntity).insert({ nodeId: n, ownerId: 'owner-sybil', consecutiveValid: 0, rejected: 0, quarantined: false });
    const jobs = new JobRepository(store);
    await submitTestJob(jobs, jobId, testJobSpec({ redundancy: { replicas: 1, spotCheckRate: 0, tolerance: 1e-5 } }));
    const handler = new ResultHandler(jobs, new NodeDirectory(readModel), bus.jsm, objects);

    await report(handler, 'sybil-a', 0, shifted);
    await report(handler, 'sybil-b', 1, shifted);

    const events = await store.readStream(toJobStreamId(jobId));
    expect(events.filter((e) => e.type === 'ShardCompleted').map((e) => (e.data as { nodeId: string }).nodeId)).toEqual(['sybil-a']);
    expect(events.some((e) => e.type === 'ShardValidated')).toBe(false);
    expect(events.filter((e) => e.type === 'ShardDispatched').map((e) => (e.data as { replica: number }).replica)).toEqual([1, 2]);
    // Partners read these events: owners are compared through the node directory, never recorded.
    expect(JSON.stringify(events.map((e) => e.data))).not.toContain('owner-');
  });

  it('given a fresh handler (another scheduler replica, or a restart), when it compares, then it reads the recorded replica’s output from the stream, not the subject’s last message', async () => {
    const jobs = new JobRepository(store);
    await submitTestJob(jobs, jobId, testJobSpec({ redundancy: { replicas: 1, spotCheckRate: 0, tolerance: 1e-5 } }));
    await report(new ResultHandler(jobs, new NodeDirectory(readModel), bus.jsm, objects), 'cheater', 0, shifted);
    await report(new ResultHandler(jobs, new NodeDirectory(readModel), bus.jsm, objects), 'honest-1', 0, honest);
    await report(new ResultHandler(new JobRepository(store), new NodeDirectory(readModel), bus.jsm, objects), 'honest-2', 1, honest);

    const events = await store.readStream(toJobStreamId(jobId));
    expect(events.filter((e) => e.type === 'ShardCompleted').map((e) => (e.data as { agreesWith: number[] }).agreesWith)).toEqual([[], []]);
    expect(events.some((e) => e.type === 'ShardValidated')).toBe(false);
  });
});
