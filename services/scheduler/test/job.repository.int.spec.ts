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
