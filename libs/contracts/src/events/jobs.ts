import { z } from 'zod';
import { defineEvent } from '../event';
import { Id, Sha256, Timestamp } from '../metadata';

const family = 'jobs' as const;
const scope = (d: { partnerId: string }) => d.partnerId;

/** How a job's results are checked. */
export const RedundancyPolicySchema = z
  .object({
    /** Independent replicas of each shard, run by nodes of different owners (1 = spot-check only). */
    replicas: z.number().int().min(1).max(7),
    /** Probability that a shard run by a trusted node is re-run for checking anyway. */
    spotCheckRate: z.number().min(0).max(1),
    /** Largest absolute difference between two float outputs still taken as equal. */
    tolerance: z.number().nonnegative().finite(),
  })
  .strict();

/** A reference to the shard-related identity shared by shard events. */
const ShardRef = { jobId: Id, partnerId: Id, shardId: Id, shardIndex: z.number().int().nonnegative() };

export const JobSubmitted = defineEvent({
  type: 'JobSubmitted',
  family,
  schema: z
    .object({
      jobId: Id,
      partnerId: Id,
      /** Content address of the ONNX model in the object store. */
      modelHash: Sha256,
      /** Content address of the input dataset in the object store. */
      inputHash: Sha256,
      /** Number of input items. */
      itemCount: z.number().int().positive(),
      /** Items per shard. */
      shardSize: z.number().int().positive(),
      /** Capability class a node must satisfy to run the shards. */
      capability: z.string().regex(/^[a-z0-9]+(\.[a-z0-9]+)*$/),
      deadline: Timestamp,
      redundancy: RedundancyPolicySchema,
      /** Model input fed with the dataset; the model's first input when absent. */
      inputName: z.string().min(1).max(128).optional(),
      /** Model output collected; the model's first output when absent. */
      outputName: z.string().min(1).max(128).optional(),
      /**
       * Random secret each work item's lease token is derived from ({@link leaseToken}): a result
       * or failure counts only with the token of the work item it answers, which only the node
       * that leased that item has (nodes never read job events). Absent in jobs submitted before
       * 2026-11-26, whose results are taken without a token.
       */
      leaseSecret: z.string().regex(/^[0-9a-f]{64}$/).optional(),
    })
    .strict(),
  scope,
});

export const JobPartitioned = defineEvent({
  type: 'JobPartitioned',
  family,
  schema: z.object({ jobId: Id, partnerId: Id, shardCount: z.number().int().positive() }).strict(),
  scope,
});

export const ShardDispatched = defineEvent({
  type: 'ShardDispatched',
  family,
  schema: z
    .object({ ...ShardRef, replica: z.number().int().nonnegative(), attempt: z.number().int().positive() })
    .strict(),
  scope,
});

export const ShardCompleted = defineEvent({
  type: 'ShardCompleted',
  family,
  schema: z
    .object({
      ...ShardRef,
      replica: z.number().int().nonnegative(),
      nodeId: Id,
      /**
       * Owner of the node, in events recorded before 2026-11-26 only. No longer written: partners
       * read their jobs' events, and an owner id (a hash of the payout address) could be matched
       * against the addresses that receive payouts on chain. Replicas of one shard still come from
       * different owners: the scheduler compares owners through its node directory.
       */
      ownerId: Id.optional(),
      outputHash: Sha256,
      /** Wall time spent computing, in milliseconds. */
      computeMs: z.number().nonnegative().finite(),
      /** Earlier replicas of this shard whose outputs agree with this one within the job's tolerance. */
      agreesWith: z.array(z.number().int().nonnegative()).max(16),
    })
    .strict(),
  scope,
});

export const ShardFailed = defineEvent({
  type: 'ShardFailed',
  family,
  schema: z
    .object({
      ...ShardRef,
      replica: z.number().int().nonnegative(),
      nodeId: Id.optional(),
      reason: z.string().min(1).max(1024),
      /** False when running the shard again cannot help (bad model, wrong shapes). */
      retryable: z.boolean(),
    })
    .strict(),
  scope,
});

export const ShardValidated = defineEvent({
  type: 'ShardValidated',
  family,
  schema: z
    .object({
      ...ShardRef,
      outputHash: Sha256,
      /** The replica whose output is integrated. */
      replica: z.number().int().nonnegative(),
      method: z.enum(['redundancy', 'spot-check', 'trusted']),
      /** The nodes whose result was accepted, with their compute time: what rewards are paid on. */
      accepted: z.array(z.object({ nodeId: Id, computeMs: z.number().nonnegative().finite() }).strict()).min(1),
      rejectedNodeIds: z.array(Id),
    })
    .strict(),
  scope,
});

export const ShardResultRejected = defineEvent({
  type: 'ShardResultRejected',
  family,
  schema: z.object({ ...ShardRef, nodeId: Id, reason: z.string().min(1).max(1024) }).strict(),
  scope,
});

export const JobCompleted = defineEvent({
  type: 'JobCompleted',
  family,
  schema: z.object({ jobId: Id, partnerId: Id, outputHash: Sha256, shardCount: z.number().int().positive() }).strict(),
  scope,
});

export const JobFailed = defineEvent({
  type: 'JobFailed',
  family,
  schema: z.object({ jobId: Id, partnerId: Id, reason: z.string().min(1).max(1024) }).strict(),
  scope,
});

export const JobCancelled = defineEvent({
  type: 'JobCancelled',
  family,
  schema: z.object({ jobId: Id, partnerId: Id, reason: z.string().min(1).max(1024), by: Id }).strict(),
  scope,
});

export const JOB_EVENTS = [
  JobSubmitted,
  JobPartitioned,
  ShardDispatched,
  ShardCompleted,
  ShardFailed,
  ShardValidated,
  ShardResultRejected,
  JobCompleted,
  JobFailed,
  JobCancelled,
] as const;
