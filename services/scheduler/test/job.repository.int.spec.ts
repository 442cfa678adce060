import { type EventStore, openSqlEventStore } from '@weai/eventstore';
import { JobRepository } from '../src/application/job.repository';
import { commandMetadata } from '../src/application/metadata';
import { submitTestJob, testJobSpec } from './support';

/** The scheduler's jobs in memory against a real (SQLite) event store: ended jobs do not pile up. */
describe('JobRepository: memory of ended jobs is bounded', () => {
  let store: EventStore;
  beforeEach(async () => {
    store = await openSqlEventStore({ type: 'sqlite', path: ':memory:' });
  });
  afterEach(() => store.close());

  const submit = (jobs: JobRepository, jobId: string) => submitTestJob(jobs, jobId, testJobSpec({ itemCount: 2 }));
  const cancel = (jobs: JobRepository, jobId: string) => jobs.execute(jobId, { type: 'CancelJob', data: { reason: 'test', by: 'partner-1' }, metadata: commandMetadata(new Date(), `cancel-${jobId}`) });

  it('given more ended jobs than it keeps, when another ends, then the oldest ended one is forgotten (and read again on demand); running jobs stay', async () => {
    const jobs = new JobRepository(store, 2);
    await submit(jobs, 'job-running');
    for (const id of ['job-1', 'job-2', 'job-3']) {
      await submit(jobs, id);
      await cancel(jobs, id);
    }
    expect(jobs.peek('job-1')).toBeUndefined();
    expect(jobs.peek('job-2')?.status).toBe('cancelled');
    expect(jobs.peek('job-3')?.status).toBe('cancelled');
    expect(jobs.peek('job-running')?.status).toBe('running');

    expect((await jobs.load('job-1')).status).toBe('cancelled'); // read again: now the newest remembered
    expect(jobs.peek('job-2')).toBeUndefined();
    expect((await cancel(jobs, 'job-1')).events).toEqual([]); // and decided on as before: nothing twice
  });
});

/** Two scheduler replicas deciding on one job in one store, each from its own memory. */
describe('JobRepository: a decision of "nothing to do" is confirmed against the store', () => {
  let store: EventStore;
  beforeEach(async () => {
    store = await openSqlEventStore({ type: 'sqlite', path: ':memory:' });
  });
  afterEach(() => store.close());

  const result = (replica: number, nodeId: string) => ({
    type: 'RecordResult' as const,
    data: { shardIndex: 0, replica, attempt: 1, nodeId, sameOwnerAs: [], outputHash: 'b'.repeat(64), computeMs: 1, agreesWith: replica === 0 ? [] : [0], nodeTrusted: false, spotCheckDraw: 0.5 },
    metadata: commandMetadata(new Date(), `result-${replica}-${nodeId}`),
  });

  it('given replica B last read the job before A dispatched a verification replica, when B gets that replica’s result, then B reads the dispatch and records it (it was dropped as "never dispatched")', async () => {
    const a = new JobRepository(store);
    const b = new JobRepository(store);
    await submitTestJob(a, 'job-1', testJobSpec({ redundancy: { replicas: 1, spotCheckRate: 0, tolerance: 0 } }));
    await b.load('job-1'); // B's memory: replica 0 dispatched, nothing else
    await a.execute('job-1', result(0, 'n1')); // A: ShardCompleted, ShardDispatched replica 1

    const { state } = await b.execute('job-1', result(1, 'n2'));
    expect(state.status === 'completed' || (state.status === 'running' && state.shards[0]?.phase === 'validated')).toBe(true);
    expect((await store.readStream('job-job-1')).map((e) => e.type)).toEqual(['JobSubmitted', 'JobPartitioned', 'ShardCompleted', 'ShardDispatched', 'ShardCompleted', 'ShardValidated']);
  });
});
