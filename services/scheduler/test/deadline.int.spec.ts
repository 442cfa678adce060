import { DataSource } from 'typeorm';
import { type EventStore, openSqlEventStore } from '@weai/eventstore';
import { soleLeadership } from '@weai/runtime';
import { DeadlineWatcher } from '../src/adapters/deadline.watcher';
import { JobRepository } from '../src/application/job.repository';
import { commandMetadata } from '../src/application/metadata';
import { RunningJobs } from '../src/application/running-jobs';
import { toJobStreamId } from '../src/domain/job';
import { submitTestJob, testJobSpec } from './support';

const PG_URL = process.env['POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/**
 * Two scheduler replicas share one PostgreSQL event store. Replica A takes the jobs and dies; B
 * is elected and never saw them (nothing of them in its memory), yet its deadline watcher fails
 * the job whose deadline passed, and only that one.
 */
describe('DeadlineWatcher: a leader elected after a fail-over fails the jobs it never saw', () => {
  const schema = `weai_deadlines_${process.pid}`;
  let storeA: EventStore;
  let storeB: EventStore;
  const t0 = Date.parse('2026-01-01T00:00:00.000Z');
  let now = t0;
  const clock = { now: () => new Date(now) };

  beforeAll(async () => {
    storeA = await openSqlEventStore({ type: 'postgres', url: PG_URL, schema });
    storeB = await openSqlEventStore({ type: 'postgres', url: PG_URL, schema });
  });
  afterAll(async () => {
    await storeA?.close();
    await storeB?.close();
    const ds = await new DataSource({ type: 'postgres', url: PG_URL }).initialize();
    await ds.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await ds.destroy();
  });

  async function submit(jobs: JobRepository, jobId: string, deadline: number): Promise<void> {
    await submitTestJob(jobs, jobId, testJobSpec({ deadline: new Date(deadline).toISOString(), itemCount: 4 }), new Date(now));
  }
  const typesOf = async (jobId: string) => (await storeB.readStream(toJobStreamId(jobId))).map((e) => e.type);

  it('fails every running job past its deadline from the store, on election and on later ticks', async () => {
    const a = new JobRepository(storeA);
    await submit(a, 'job-late', t0 + 60_000);
    await submit(a, 'job-later', t0 + 120_000);
    await submit(a, 'job-done', t0 + 60_000);
    await a.execute('job-done', { type: 'CancelJob', data: { reason: 'no longer needed', by: 'partner-1' }, metadata: commandMetadata(new Date(now), 'cancel-job-done') });

    const b = new DeadlineWatcher(new JobRepository(storeB), new RunningJobs(storeB, 2), clock, soleLeadership());
    try {
      now = t0 + 30_000;
      await b.check();
      expect(await typesOf('job-late')).toEqual(['JobSubmitted', 'JobPartitioned']);

      // Past the first deadline: B is elected (its first pass runs at once) and fails that job only.
      now = t0 + 61_000;
      await b.onApplicationBootstrap();
      await b.check();
      expect(await typesOf('job-late')).toEqual(['JobSubmitted', 'JobPartitioned', 'JobFailed']);
      expect((await storeB.readStream(toJobStreamId('job-late'))).at(-1)!.data).toMatchObject({ reason: expect.stringContaining('deadline') });
      expect(await typesOf('job-later')).toEqual(['JobSubmitted', 'JobPartitioned']);
      expect(await typesOf('job-done')).toEqual(['JobSubmitted', 'JobPartitioned', 'JobCancelled']);

      // A job submitted later, through A, is found by a later pass (the index follows the log), and nothing is failed twice.
      await submit(a, 'job-new', t0 + 62_000);
      now = t0 + 121_000;
      await b.check();
      await b.check();
      expect(await typesOf('job-new')).toEqual(['JobSubmitted', 'JobPartitioned', 'JobFailed']);
      expect(await typesOf('job-later')).toEqual(['JobSubmitted', 'JobPartitioned', 'JobFailed']);
      expect(await typesOf('job-late')).toEqual(['JobSubmitted', 'JobPartitioned', 'JobFailed']);
    } finally {
      b.onApplicationShutdown();
    }
  });
});
