import type { JobRepository } from '../src/application/job.repository';
import { commandMetadata } from '../src/application/metadata';
import type { JobSpec } from '../src/domain/job';

/** The scheduler tests' job: one-item shards of a stand-in model on cpu.generic, due in an hour, one replica; `overrides` change any of it. */
export function testJobSpec(overrides: Partial<JobSpec> = {}): JobSpec {
  return {
    modelHash: 'a'.repeat(64),
    inputHash: 'c'.repeat(64),
    shardSize: 1,
    capability: 'cpu.generic',
    deadline: new Date(Date.now() + 3_600_000).toISOString(),
    redundancy: { replicas: 1, spotCheckRate: 0, tolerance: 0 },
    itemCount: 1,
    ...overrides,
  };
}

/** Submits a job as partner-1 (`at`: the command's time, default now). */
export function submitTestJob(jobs: JobRepository, jobId: string, spec: JobSpec, at = new Date()) {
  return jobs.execute(jobId, { type: 'SubmitJob', data: { jobId, partnerId: 'partner-1', spec }, metadata: commandMetadata(at, `submit-${jobId}`) });
}

/** A nats-server of the test's own, with the streams and the object store. */
export { type TestBus, startTestBus } from '@weai/messaging/src/testing/test-bus';
