import { randomUUID } from 'node:crypto';
import { JOB_RPC, type JobStatus, jobRequestSubject } from '@weai/contracts';
import { type Bus, requestJson } from '@weai/messaging';
import { ApiError } from '../http/api-error';
import type { SubmitJobBody } from '../http/schemas';
import type { ObjectGrants } from './object-grants';
import type { JobCost, PartnerJobs } from './partner-jobs.read-model';
import { askScheduler } from './scheduler-errors';

/** The scheduler checks the model in ONNX Runtime before it answers a submission. */
const SUBMIT_TIMEOUT_MS = 60_000;

/** Job commands and queries, forwarded to the scheduler over its request subjects. */
export class JobsService {
  constructor(
    private readonly bus: Bus,
    private readonly grants: ObjectGrants,
    private readonly partnerJobs: PartnerJobs,
  ) {}

  /**
   * Submits a job on objects this partner uploaded. A hash the partner was not granted is refused
   * with the scheduler's own words for a missing object: running a job on another partner's model
   * would be a way to use (or, through the output, read) data known only by its hash.
   */
  async submit(partnerId: string, body: SubmitJobBody): Promise<JobStatus> {
    for (const [what, hash] of [['model', body.modelHash], ['dataset', body.inputHash]] as const) {
      if (!(await this.grants.has(partnerId, hash))) {
        const error = new ApiError(400, 'job.rejected', `${what} ${hash} is not in the object store: upload it first`);
        error.refusal = { resource: `object:${hash}` };
        throw error;
      }
    }
    const jobId = body.jobId ?? `job-${randomUUID()}`;
    return this.granted(await askScheduler(() => requestJson<JobStatus>(this.bus.nc, jobRequestSubject('submit', partnerId), { ...body, jobId, partnerId }, SUBMIT_TIMEOUT_MS, JOB_RPC.submit)));
  }

  /** The job's status; another partner's job is a 404, exactly as a missing one. */
  async status(partnerId: string, jobId: string): Promise<JobStatus> {
    return this.granted(await askScheduler(() => requestJson<JobStatus>(this.bus.nc, jobRequestSubject('status', partnerId), { jobId, partnerId }, undefined, JOB_RPC.status)));
  }

  /** The status with what the job cost so far, from the gateway's read model of the rewards ledger. */
  async statusWithCost(partnerId: string, jobId: string): Promise<JobStatus & { cost: JobCost }> {
    const status = await this.status(partnerId, jobId);
    return { ...status, cost: await this.partnerJobs.cost(partnerId, jobId) };
  }

  /** One page of the partner's own jobs, newest first. */
  list(partnerId: string, limit: number, offset: number) {
    return this.partnerJobs.list(partnerId, limit, offset);
  }

  async cancel(partnerId: string, jobId: string, reason: string): Promise<JobStatus> {
    return this.granted(await askScheduler(() => requestJson<JobStatus>(this.bus.nc, jobRequestSubject('cancel', partnerId), { jobId, partnerId, reason }, undefined, JOB_RPC.cancel)));
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

  /** A completed job's output becomes readable by its partner by hash as soon as the partner is told the hash. */
  private async granted(job: JobStatus): Promise<JobStatus> {
    if (job.status === 'completed' && job.outputHash) await this.grants.grant(job.partnerId, job.outputHash);
    return job;
  }
}
