/**
 * How partners, the scheduler and agents exchange jobs outside the event log:
 * - job commands on `weai.rpc.jobs.*` (core NATS request/reply, answered by the scheduler);
 * - data as content-addressed objects (SHA-256 names) in the `weai-objects` object store;
 * - work items on `weai.shard.<capability class>` (stream WEAI_SHARDS, work queue: one agent
 *   takes each; the ack wait is the lease, extended while the shard runs);
 * - results on `weai.result.<jobId>.<shard>.<replica>.<nodeId>` (stream WEAI_RESULTS; a node's
 *   credential may publish only on subjects that end with its own id).
 * Small shard inputs and outputs travel inside the work item and the result (they are not events);
 * larger ones are objects referenced by hash.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { RedundancyPolicySchema } from './events/jobs';
import { Id, Sha256, Timestamp } from './metadata';

/**
 * The job requests. Each is sent to `<subject>.<partnerId>` ({@link jobRequestSubject}): the partner
 * is the last token, and a partner's credential may publish only to its own, so the scheduler knows
 * whose jobs a request is about from the subject, not from a body any sender writes.
 */
export const JOB_RPC = {
  submit: 'weai.rpc.jobs.submit',
  cancel: 'weai.rpc.jobs.cancel',
  status: 'weai.rpc.jobs.status',
} as const;

/** The subject of a job request about `partnerId`'s jobs. */
export function jobRequestSubject(request: keyof typeof JOB_RPC, partnerId: string): string {
  return `${JOB_RPC[request]}.${partnerId}`;
}

/** The object store bucket holding models, datasets and outputs under their SHA-256. */
export const OBJECT_BUCKET = 'weai-objects';
/** The key-value bucket where agents look up whether a job is still wanted. */
export const JOB_STATUS_BUCKET = 'weai-job-status';
/** Results stream. */
export const RESULTS_STREAM = 'WEAI_RESULTS';
/**
 * Subject of one node's result for a replica. The node is the last token: NATS permissions let a
 * node publish only its own (`weai.result.*.*.*.<own id>`), so a result cannot claim another node.
 */
export function resultSubject(jobId: string, shardIndex: number, replica: number, nodeId: string): string {
  return `weai.result.${jobId}.${shardIndex}.${replica}.${nodeId}`;
}
/** Inputs and outputs up to this size travel inline; larger ones go through the object store. */
export const INLINE_LIMIT_BYTES = 256 * 1024;

/** A partner's job. */
export const SubmitJobRequestSchema = z
  .object({
    /** Chosen by the client so that a retried submission is the same job. */
    jobId: Id,
    partnerId: Id,
    modelHash: Sha256,
    inputHash: Sha256,
    shardSize: z.number().int().positive().max(1_000_000),
    capability: z.string().regex(/^[a-z0-9]+(\.[a-z0-9]+)*$/),
    deadline: Timestamp,
    redundancy: RedundancyPolicySchema,
    inputName: z.string().min(1).max(128).optional(),
    outputName: z.string().min(1).max(128).optional(),
  })
  .strict();
export type SubmitJobRequest = z.infer<typeof SubmitJobRequestSchema>;

export const CancelJobRequestSchema = z.object({ jobId: Id, partnerId: Id, reason: z.string().min(1).max(512) }).strict();

/** Headers of a work item. */
export const WORK_HEADERS = {
  job: 'Weai-Job',
  shard: 'Weai-Shard',
  replica: 'Weai-Replica',
  attempt: 'Weai-Attempt',
  model: 'Weai-Model',
  /** SHA-256 of the shard input (inline body, or the object it names). */
  input: 'Weai-Input',
  /** Set when the body is empty and the input is the object named by Weai-Input. */
  inputRef: 'Weai-Input-Ref',
  inputName: 'Weai-Input-Name',
  outputName: 'Weai-Output-Name',
  items: 'Weai-Items',
  /**
   * "true" when the shard's data is sealed (libs/messaging/src/sealed.ts): the agent asks the
   * security service for the item's keys and seals its output under the job key.
   */
  sealed: 'Weai-Sealed',
  /**
   * Node ids, comma-separated, whose results for this shard the scheduler already holds: they must
   * not run this replica (a node cannot confirm its own result). Any other node may, including one
   * that ran the shard before without its result being recorded (its lease had expired). Absent on
   * a shard's first replica.
   */
  excludeNodes: 'Weai-Exclude-Nodes',
  /** This item's lease token ({@link leaseToken}); the agent copies it into its result. Absent for jobs without a lease secret. */
  leaseToken: 'Weai-Lease-Token',
} as const;

/** Headers of a result. */
export const RESULT_HEADERS = {
  job: 'Weai-Job',
  shard: 'Weai-Shard',
  replica: 'Weai-Replica',
  attempt: 'Weai-Attempt',
  node: 'Weai-Node',
  /** SHA-256 of the output (inline body, or the object it names). */
  output: 'Weai-Output',
  outputRef: 'Weai-Output-Ref',
  computeMs: 'Weai-Compute-Ms',
  /** Set instead of an output when the shard failed on the node. */
  error: 'Weai-Error',
  /** "true" when running it again elsewhere could help. */
  retryable: 'Weai-Retryable',
  /** "true" when the output (inline body or object) is sealed under the job key (`j1:<jobId>`). */
  sealed: 'Weai-Sealed',
  /** The lease token of the work item answered (`Weai-Lease-Token` of the item, copied). */
  leaseToken: 'Weai-Lease-Token',
} as const;

/**
 * The lease token of one work item (a replica's attempt of a shard): HMAC-SHA-256 under the job's
 * `leaseSecret`. Only the node that leased the item reads it, so only that node can report its
 * result or its failure: a node of a second owner cannot confirm a colluder's result uninvited.
 */
export function leaseToken(leaseSecret: string, shardIndex: number, replica: number, attempt: number): string {
  return createHmac('sha256', Buffer.from(leaseSecret, 'hex')).update(`${shardIndex}.${replica}.${attempt}`).digest('hex');
}

/** Whether `token` is the lease token of that work item (compared in constant time). */
export function holdsLease(token: string | undefined, leaseSecret: string, shardIndex: number, replica: number, attempt: number): boolean {
  const expected = Buffer.from(leaseToken(leaseSecret, shardIndex, replica, attempt), 'utf8');
  const given = Buffer.from(token ?? '', 'utf8');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** The scheduler's view of one job, as `weai.rpc.jobs.status` answers it. */
export interface JobStatus {
  jobId: string;
  partnerId: string;
  status: 'submitted' | 'running' | 'completed' | 'failed' | 'cancelled';
  shardCount: number;
  shardsValidated: number;
  shardsFailed: number;
  outputHash?: string;
  reason?: string;
}
