import { EntitySchema, In, type DataSource, type EntityManager, type MigrationInterface, type QueryRunner } from 'typeorm';
import { type JobsFamilyEvent, type RewardsFamilyEvent, streamOfFamily } from '@weai/contracts';
import { assertNever } from '@weai/decider';
import type { Projection, ReceivedEvent } from '@weai/messaging';

/** Where a job stands, as the scheduler's `JobStatus` names it. */
export type JobPhase = 'submitted' | 'running' | 'completed' | 'failed' | 'cancelled';

/** One job of one partner: what `GET /v1/jobs` lists. */
export interface PartnerJobRow {
  jobId: string;
  partnerId: string;
  status: JobPhase;
  shardCount: number;
  shardsValidated: number;
  shardsFailed: number;
  submittedAt: string;
  finishedAt: string | null;
  reason: string | null;
}

/** A shard that reached an end: validated, or failed for good. */
interface JobShardRow {
  jobId: string;
  shardIndex: number;
  phase: 'validated' | 'failed';
}

/** What a job's validated shards were paid, summed from `RewardAccrued`: decimal strings of base units. */
export interface JobCostRow {
  jobId: string;
  /** Credited to the nodes' owners. */
  ownerRewards: string;
  /** Retained by the platform. */
  platformFee: string;
  /** Accruals summed (one per accepted replica of a validated shard). */
  accruals: number;
}

/** A job's cost to its partner in base units of WEBI (10^-18 WEBI), as strings: `total` = `ownerRewards` + `platformFee`. */
export interface JobCost {
  readonly total: string;
  readonly ownerRewards: string;
  readonly platformFee: string;
}

export const PartnerJobEntity = new EntitySchema<PartnerJobRow>({
  name: 'GatewayPartnerJob',
  tableName: 'gateway_partner_jobs',
  columns: {
    jobId: { type: String, primary: true, name: 'job_id', length: 128 },
    partnerId: { type: String, name: 'partner_id', length: 128 },
    status: { type: String, length: 16 },
    shardCount: { type: Number, name: 'shard_count' },
    shardsValidated: { type: Number, name: 'shards_validated' },
    shardsFailed: { type: Number, name: 'shards_failed' },
    submittedAt: { type: String, name: 'submitted_at', length: 32 },
    finishedAt: { type: String, name: 'finished_at', length: 32, nullable: true },
    reason: { type: String, length: 1024, nullable: true },
  },
});

export const JobShardEntity = new EntitySchema<JobShardRow>({
  name: 'GatewayJobShard',
  tableName: 'gateway_job_shards',
  columns: {
    jobId: { type: String, primary: true, name: 'job_id', length: 128 },
    shardIndex: { type: Number, primary: true, name: 'shard_index' },
    phase: { type: String, length: 16 },
  },
});

export const JobCostEntity = new EntitySchema<JobCostRow>({
  name: 'GatewayJobCost',
  tableName: 'gateway_job_costs',
  columns: {
    jobId: { type: String, primary: true, name: 'job_id', length: 128 },
    ownerRewards: { type: String, name: 'owner_rewards', length: 80 },
    platformFee: { type: String, name: 'platform_fee', length: 80 },
    accruals: { type: Number },
  },
});

/** The entities of the partner job list, for the gateway's read-model DataSource. */
export const PARTNER_JOB_ENTITIES = [PartnerJobEntity, JobShardEntity, JobCostEntity];

export class CreatePartnerJobs1764900000001 implements MigrationInterface {
  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE gateway_partner_jobs (job_id VARCHAR(128) PRIMARY KEY, partner_id VARCHAR(128) NOT NULL, status VARCHAR(16) NOT NULL,
      shard_count INTEGER NOT NULL, shards_validated INTEGER NOT NULL, shards_failed INTEGER NOT NULL, submitted_at VARCHAR(32) NOT NULL,
      finished_at VARCHAR(32), reason VARCHAR(1024))`);
    await q.query('CREATE INDEX gateway_partner_jobs_newest ON gateway_partner_jobs (partner_id, submitted_at, job_id)');
    await q.query('CREATE TABLE gateway_job_shards (job_id VARCHAR(128) NOT NULL, shard_index INTEGER NOT NULL, phase VARCHAR(16) NOT NULL, PRIMARY KEY (job_id, shard_index))');
    await q.query('CREATE TABLE gateway_job_costs (job_id VARCHAR(128) PRIMARY KEY, owner_rewards VARCHAR(80) NOT NULL, platform_fee VARCHAR(80) NOT NULL, accruals INTEGER NOT NULL)');
  }
  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE gateway_job_costs');
    await q.query('DROP TABLE gateway_job_shards');
    await q.query('DROP TABLE gateway_partner_jobs');
  }
}

const ENDED: readonly JobPhase[] = ['completed', 'failed', 'cancelled'];

/** Records that a shard reached an end; adjusts the job's counters only when the shard's phase changes. */
async function shardEnded(em: EntityManager, jobId: string, shardIndex: number, phase: JobShardRow['phase']): Promise<void> {
  const jobs = em.getRepository(PartnerJobEntity);
  const job = await jobs.findOneBy({ jobId });
  // A replica reporting after the job ended changes nothing: its counts are final.
  if (!job || ENDED.includes(job.status)) return;
  const shards = em.getRepository(JobShardEntity);
  const before = await shards.findOneBy({ jobId, shardIndex });
  // A validated shard stays validated (its output is integrated); failing twice counts once.
  if (before?.phase === phase || before?.phase === 'validated') return;
  await shards.upsert({ jobId, shardIndex, phase }, ['jobId', 'shardIndex']);
  const validated = job.shardsValidated + (phase === 'validated' ? 1 : 0);
  const failed = job.shardsFailed + (phase === 'failed' ? 1 : 0) - (before?.phase === 'failed' ? 1 : 0);
  await jobs.update({ jobId }, { shardsValidated: validated, shardsFailed: failed, status: job.status === 'submitted' && validated > 0 ? 'running' : job.status });
}

/** The job ended: its counts are final, so its shard rows go (the read model keeps one row per job, not per shard). */
async function ended(em: EntityManager, jobId: string, status: JobPhase, at: string, reason: string | null, shardCount?: number): Promise<void> {
  await em.getRepository(PartnerJobEntity).update({ jobId }, { status, finishedAt: at, reason, ...(shardCount === undefined ? {} : { shardCount }) });
  await em.getRepository(JobShardEntity).delete({ jobId });
}

async function applyJobEvent(e: JobsFamilyEvent, em: EntityManager): Promise<void> {
  const at = e.metadata.occurredAt;
  switch (e.type) {
    case 'JobSubmitted':
      await em.getRepository(PartnerJobEntity).upsert(
        { jobId: e.data.jobId, partnerId: e.data.partnerId, status: 'submitted', shardCount: 0, shardsValidated: 0, shardsFailed: 0, submittedAt: at, finishedAt: null, reason: null },
        ['jobId'],
      );
      return;
    case 'JobPartitioned':
      await em.getRepository(PartnerJobEntity).update({ jobId: e.data.jobId }, { shardCount: e.data.shardCount });
      return;
    case 'ShardValidated':
      return shardEnded(em, e.data.jobId, e.data.shardIndex, 'validated');
    case 'ShardFailed':
      // A retryable failure is run again: the shard has not ended.
      return e.data.retryable ? undefined : shardEnded(em, e.data.jobId, e.data.shardIndex, 'failed');
    case 'JobCompleted':
      return ended(em, e.data.jobId, 'completed', at, null, e.data.shardCount);
    case 'JobFailed':
      return ended(em, e.data.jobId, 'failed', at, e.data.reason);
    case 'JobCancelled':
      return ended(em, e.data.jobId, 'cancelled', at, e.data.reason);
    case 'ShardDispatched':
    case 'ShardCompleted':
    case 'ShardResultRejected':
      return;
    default:
      return assertNever(e, 'jobs event');
  }
}

/**
 * The partner job list: every job with its status and shard counts, from the jobs family, in the
 * gateway's own read model. Partners are told only their own rows (`PartnerJobs`).
 */
export const partnerJobsProjection: Projection = {
  name: 'gateway-partner-jobs',
  streams: [streamOfFamily('jobs')],
  apply: ({ event }: ReceivedEvent, em: EntityManager) => applyJobEvent(event as JobsFamilyEvent, em),
};

/**
 * What each job's validated shards were paid, from the rewards family: the owners' rewards plus
 * the platform fee of every `RewardAccrued` of the job, summed as integers (never a float). The
 * partner revenue share is not added: it is credited to the partner, not charged.
 */
export const jobCostsProjection: Projection = {
  name: 'gateway-job-costs',
  streams: [streamOfFamily('rewards')],
  async apply({ event }: ReceivedEvent, em: EntityManager) {
    const e = event as RewardsFamilyEvent;
    if (e.type !== 'RewardAccrued') return;
    const costs = em.getRepository(JobCostEntity);
    const row = await costs.findOneBy({ jobId: e.data.jobId });
    await costs.upsert(
      {
        jobId: e.data.jobId,
        ownerRewards: String(BigInt(row?.ownerRewards ?? '0') + BigInt(e.data.amount)),
        platformFee: String(BigInt(row?.platformFee ?? '0') + BigInt(e.data.platformFee)),
        accruals: (row?.accruals ?? 0) + 1,
      },
      ['jobId'],
    );
  },
};

/** One job as `GET /v1/jobs` lists it. */
export interface PartnerJobSummary {
  readonly jobId: string;
  readonly status: JobPhase;
  readonly shardCount: number;
  readonly shardsValidated: number;
  readonly shardsFailed: number;
  readonly submittedAt: string;
  readonly finishedAt?: string;
  readonly reason?: string;
  readonly cost: JobCost;
}

const NO_COST: JobCost = { total: '0', ownerRewards: '0', platformFee: '0' };

function costOf(row: JobCostRow | undefined | null): JobCost {
  if (!row) return NO_COST;
  return { total: String(BigInt(row.ownerRewards) + BigInt(row.platformFee)), ownerRewards: row.ownerRewards, platformFee: row.platformFee };
}

/** Queries of the partner job list; every one is scoped to one partner. */
export class PartnerJobs {
  constructor(private readonly readModel: DataSource) {}

  /** The partner's jobs, newest first; `nextOffset` is null on the last page. */
  async list(partnerId: string, limit: number, offset: number): Promise<{ jobs: PartnerJobSummary[]; nextOffset: number | null }> {
    const rows = await this.readModel.getRepository(PartnerJobEntity).find({ where: { partnerId }, order: { submittedAt: 'DESC', jobId: 'DESC' }, skip: offset, take: limit + 1 });
    const page = rows.slice(0, limit);
    const costs = page.length ? await this.readModel.getRepository(JobCostEntity).findBy({ jobId: In(page.map((r) => r.jobId)) }) : [];
    const byJob = new Map(costs.map((c) => [c.jobId, c]));
    return { jobs: page.map((r) => summary(r, byJob.get(r.jobId))), nextOffset: rows.length > limit ? offset + limit : null };
  }

  /** The cost of one of the partner's jobs; zero while nothing was paid (or the job is another partner's). */
  async cost(partnerId: string, jobId: string): Promise<JobCost> {
    const job = await this.readModel.getRepository(PartnerJobEntity).findOneBy({ jobId, partnerId });
    return job ? costOf(await this.readModel.getRepository(JobCostEntity).findOneBy({ jobId })) : NO_COST;
  }
}

function summary(r: PartnerJobRow, cost: JobCostRow | undefined): PartnerJobSummary {
  return {
    jobId: r.jobId,
    status: r.status,
    shardCount: r.shardCount,
    shardsValidated: r.shardsValidated,
    shardsFailed: r.shardsFailed,
    submittedAt: r.submittedAt,
    ...(r.finishedAt && ENDED.includes(r.status) ? { finishedAt: r.finishedAt } : {}),
    ...(r.reason ? { reason: r.reason } : {}),
    cost: costOf(cost),
  };
}
