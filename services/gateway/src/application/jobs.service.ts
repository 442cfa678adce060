import { randomUUID } from 'node:crypto';
import { JOB_RPC, type JobStatus } from '@weai/contracts';
import { type Bus, requestJson } from '@weai/messaging';
import { ApiError } from '../http/api-error';
import type { SubmitJobBody } from '../http/schemas';
import { askScheduler } from './scheduler-errors';

/** The scheduler checks the model in ONNX Runtime before it answers a submission. */
const SUBMIT_TIMEOUT_MS = 60_000;

/** Job commands and queries, forwarded to the scheduler over its request subjects. */
export class JobsService {
  constructor(private readonly bus: Bus) {}

  submit(partnerId: string, body: SubmitJobBody): Promise<JobStatus> {
    const jobId = body.jobId ?? `job-${randomUUID()}`;
    return askScheduler(() => requestJson<JobStatus>(this.bus.nc, JOB_RPC.submit, { ...body, jobId, partnerId }, SUBMIT_TIMEOUT_MS));
  }

  /** The job's status; another partner's job is a 404, exactly as a missing one. */
  status(partnerId: string, jobId: string): Promise<JobStatus> {
    return askScheduler(() => requestJson<JobStatus>(this.bus.nc, JOB_RPC.status, { jobId, partnerId }));
  }

  cancel(partnerId: string, jobId: string, reason: string): Promise<JobStatus> {
    return askScheduler(() => requestJson<JobStatus>(this.bus.nc, JOB_RPC.cancel, { jobId, partnerId, reason }));
  }

  /** The output hash of a completed job; a 409 saying where the job stands otherwise. */
  async outputOf(partnerId: string, jobId: string): Promise<string> {
    const job = await this.status(partnerId, jobId);
    if (job.status === 'completed' && job.outputHash) return job.outputHash;
    if (job.status === 'failed' || job.status === 'cancelled') {
      throw new ApiError(409, `job.${job.status}`, `job ${jobId} is ${job.status}${job.reason ? ` (${job.reason})` : ''}: it has no result`);
    }
    throw new ApiError(409, 'job.not-completed', `job ${jobId} is ${job.status} (${job.shardsValidated} of ${job.shardCount} shards validated): the result is available once it completes`);
  }
}
