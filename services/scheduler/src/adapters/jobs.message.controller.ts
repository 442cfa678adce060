import { randomBytes } from 'node:crypto';
import { Controller, Inject } from '@nestjs/common';
import { Ctx, Payload } from '@nestjs/microservices';
import { CancelJobRequestSchema, Id, JOB_RPC, type JobStatus, SubmitJobRequestSchema } from '@weai/contracts';
import { DomainError } from '@weai/decider';
import { type ContentStore, OnRequest, type RequestContext, requestPrincipal } from '@weai/messaging';
import { CLOCK, type Clock } from '@weai/runtime';
import { z } from 'zod';
import { DatasetCache } from '../application/datasets';
import { JobRepository } from '../application/job.repository';
import { commandMetadata } from '../application/metadata';
import { DEFAULT_LIMITS, type SubmissionLimits, checkSubmission } from '../application/submission';

/** Submission limits: SCHEDULER_MAX_MODEL_BYTES, SCHEDULER_MAX_INPUT_BYTES, SCHEDULER_MAX_SHARDS. */
export function limitsFromEnv(env: NodeJS.ProcessEnv): SubmissionLimits {
  const read = (name: string, fallback: number) => {
    const v = Number(env[name] ?? fallback);
    if (!Number.isSafeInteger(v) || v < 1) throw new Error(`${name} must be a positive integer`);
    return v;
  };
  return {
    maxModelBytes: read('SCHEDULER_MAX_MODEL_BYTES', DEFAULT_LIMITS.maxModelBytes),
    maxInputBytes: read('SCHEDULER_MAX_INPUT_BYTES', DEFAULT_LIMITS.maxInputBytes),
    maxShards: read('SCHEDULER_MAX_SHARDS', DEFAULT_LIMITS.maxShards),
  };
}
import type { JobState } from '../domain/job';
import { jobsSubmitted } from './metrics';
import { CONTENT_STORE } from './tokens';

const StatusRequest = z.object({ jobId: Id, partnerId: Id }).strict();

/**
 * Job commands and queries from partners (through the gateway or the SDK), each on
 * `weai.rpc.jobs.<request>.<partnerId>`: the partner is the one the subject names (its credential
 * may publish there only), and the body must name the same one.
 */
@Controller()
export class JobsMessageController {
  constructor(
    private readonly jobs: JobRepository,
    private readonly datasets: DatasetCache,
    @Inject(CONTENT_STORE) private readonly objects: ContentStore,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  @OnRequest(`${JOB_RPC.submit}.*`, { queue: 'scheduler' })
  async submit(@Payload() body: unknown, @Ctx() ctx: RequestContext): Promise<JobStatus> {
    // Whose job it is, before the model and the dataset are fetched and checked.
    requestPrincipal(ctx, SubmitJobRequestSchema.parse(body).partnerId);
    const now = this.clock.now();
    const { request, spec, dataset } = await checkSubmission(body, this.objects, now, limitsFromEnv(process.env));
    // Dispatch slices this decoded dataset instead of fetching and decoding it again.
    this.datasets.remember(request.inputHash, dataset);
    const { state } = await this.jobs.execute(request.jobId, {
      type: 'SubmitJob',
      data: { jobId: request.jobId, partnerId: request.partnerId, spec, leaseSecret: randomBytes(32).toString('hex') },
      metadata: commandMetadata(now, `submit-${request.jobId}`),
    });
    jobsSubmitted.inc();
    return toStatus(state);
  }

  @OnRequest(`${JOB_RPC.cancel}.*`, { queue: 'scheduler' })
  async cancel(@Payload() body: unknown, @Ctx() ctx: RequestContext): Promise<JobStatus> {
    const { jobId, partnerId, reason } = CancelJobRequestSchema.parse(body);
    await this.owned(jobId, requestPrincipal(ctx, partnerId));
    const { state } = await this.jobs.execute(jobId, { type: 'CancelJob', data: { reason, by: partnerId }, metadata: commandMetadata(this.clock.now()) });
    return toStatus(state);
  }

  @OnRequest(`${JOB_RPC.status}.*`, { queue: 'scheduler' })
  async status(@Payload() body: unknown, @Ctx() ctx: RequestContext): Promise<JobStatus> {
    const { jobId, partnerId } = StatusRequest.parse(body);
    return toStatus(await this.owned(jobId, requestPrincipal(ctx, partnerId)));
  }

  /** A job seen only by the partner that submitted it: others are told it does not exist. */
  private async owned(jobId: string, partnerId: string): Promise<JobState> {
    const state = await this.jobs.load(jobId);
    if (state.status === 'none' || state.partnerId !== partnerId) throw new DomainError(`no job ${jobId}`, 'job.not-found');
    return state;
  }
}

export function toStatus(state: JobState): JobStatus {
  if (state.status === 'none') throw new DomainError('no such job', 'job.not-found');
  return {
    jobId: state.jobId,
    partnerId: state.partnerId,
    status: state.status === 'running' && state.validated === 0 ? 'submitted' : state.status,
    shardCount: state.shards.length,
    shardsValidated: state.validated,
    shardsFailed: state.shards.filter((s) => s.phase === 'failed').length,
    ...(state.outputHash ? { outputHash: state.outputHash } : {}),
    ...(state.reason ? { reason: state.reason } : {}),
  };
}
