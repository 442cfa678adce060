import type { SchemaObject } from '@nestjs/swagger';
import { Id, NodeEnrolmentSchema, SubmitJobRequestSchema } from '@weai/contracts';
import { z } from 'zod';

/**
 * What partners send and receive, as zod schemas: the same objects validate requests at run time
 * and describe them in the OpenAPI document, so the two cannot drift apart.
 */

/** `POST /v1/jobs`: the scheduler's request without `partnerId` (that comes from the API key). */
export const SubmitJobBody = SubmitJobRequestSchema.omit({ partnerId: true, jobId: true })
  .extend({
    /** Chosen by the client so that retrying a submission never creates two jobs; a random one if absent. */
    jobId: Id.optional(),
  })
  .strict();
export type SubmitJobBody = z.infer<typeof SubmitJobBody>;

/** `POST /v1/jobs/:jobId/cancel`. */
export const CancelJobBody = z.object({ reason: z.string().min(1).max(512) }).strict();
export type CancelJobBody = z.infer<typeof CancelJobBody>;

/** A SHA-256 content address in a path. */
export const HashParam = z.string().regex(/^[0-9a-f]{64}$/, 'must be a lowercase hex SHA-256');

/** What `POST /v1/objects` answers. */
export const StoredObject = z.object({ hash: HashParam, size: z.number().int().nonnegative() });

/** Base units of WEBI (10^-18 WEBI) as a decimal string: no float ever touches money. */
const BaseUnits = z.string().regex(/^(0|[1-9][0-9]*)$/);

/**
 * What a job's validated shards were paid, summed from the rewards ledger's `RewardAccrued`
 * events: `total` = `ownerRewards` (credited to the nodes' owners) + `platformFee`. Zero until the
 * first reward of the job is recorded. See docs/partner-api.md.
 */
export const JobCostSchema = z.object({ total: BaseUnits, ownerRewards: BaseUnits, platformFee: BaseUnits });

/** The scheduler's view of a job (`JobStatus` in @weai/contracts). */
export const JobStatusSchema = z.object({
  jobId: Id,
  partnerId: Id,
  status: z.enum(['submitted', 'running', 'completed', 'failed', 'cancelled']),
  shardCount: z.number().int(),
  shardsValidated: z.number().int(),
  shardsFailed: z.number().int(),
  outputHash: HashParam.optional(),
  reason: z.string().optional(),
  /** What the job cost so far (`GET /v1/jobs/:jobId` only): see JobCostSchema. */
  cost: JobCostSchema.optional(),
});

/** `GET /v1/jobs`: one page of the partner's own jobs, newest first. */
export const JobListQuery = z
  .object({
    /** Jobs per page, 1 to 100 (default 20). */
    limit: z
      .string()
      .regex(/^[1-9][0-9]{0,2}$/, 'must be an integer from 1 to 100')
      .transform(Number)
      .refine((n) => n <= 100, 'must be an integer from 1 to 100')
      .optional(),
    /** Jobs to skip: the `nextOffset` of the previous page (default 0). */
    offset: z
      .string()
      .regex(/^(0|[1-9][0-9]{0,5})$/, 'must be an integer from 0 to 999999')
      .transform(Number)
      .optional(),
  })
  .strict();

/** One job of `GET /v1/jobs`. */
export const JobSummarySchema = z.object({
  jobId: Id,
  status: z.enum(['submitted', 'running', 'completed', 'failed', 'cancelled']),
  shardCount: z.number().int(),
  shardsValidated: z.number().int(),
  shardsFailed: z.number().int(),
  /** When the job was accepted (ISO-8601 UTC). */
  submittedAt: z.string(),
  /** When it completed, failed or was cancelled. */
  finishedAt: z.string().optional(),
  reason: z.string().optional(),
  cost: JobCostSchema,
});

/** What `GET /v1/jobs` answers: `nextOffset` is the `offset` of the next page, null on the last. */
export const JobListSchema = z.object({ jobs: z.array(JobSummarySchema), nextOffset: z.number().int().nullable() });

/** Every error response. */
export const ErrorSchema = z.object({ error: z.object({ code: z.string(), message: z.string() }) });

/** The OpenAPI schema of every error response. */
export const ERROR_RESPONSE = { schema: openApiSchema(ErrorSchema) };

/** An OpenAPI response whose body is bytes of `mediaType` (not JSON). */
export function bytesResponse(status: number, description: string, mediaType = 'application/octet-stream') {
  const schema: SchemaObject = mediaType === 'application/octet-stream' ? { type: 'string', format: 'binary' } : { type: 'string' };
  return { status, description, content: { [mediaType]: { schema } } };
}

/** A zod schema as an OpenAPI 3.0 schema object. */
export function openApiSchema(schema: z.ZodType): SchemaObject {
  const { $schema: _s, ...rest } = z.toJSONSchema(schema, { target: 'openapi-3.0', io: 'input' }) as Record<string, unknown>;
  return rest as SchemaObject;
}

/** A 0x-prefixed 20-byte address (checksummed or not). */
export const EthAddressSchema = z.string().regex(/^0x[0-9a-fA-F]{40}$/, 'must be a 0x-prefixed 20-byte hex address');

/** What every token endpoint answers. */
export const TokenResponse = z.object({
  token: z.string(),
  tokenType: z.literal('Bearer'),
  expiresAt: z.string(),
  role: z.enum(['partner', 'owner', 'operator']),
  subject: Id,
});

/** `POST /v1/auth/owner/challenge`. */
export const OwnerChallengeBody = z.object({ address: EthAddressSchema }).strict();
export type OwnerChallengeBody = z.infer<typeof OwnerChallengeBody>;

/** What `POST /v1/auth/owner/challenge` answers: sign `message` with the address's key (EIP-191 personal_sign). */
export const OwnerChallengeResponse = z.object({ challenge: z.string(), message: z.string(), expiresAt: z.string() });

/** `POST /v1/auth/owner/token`. */
export const OwnerTokenBody = z
  .object({
    /** The `challenge` answered by `/v1/auth/owner/challenge`, unchanged. */
    challenge: z.string().min(1).max(4096),
    /** The EIP-191 signature of the challenge's `message`: 65 bytes, 0x-prefixed hex. */
    signature: z.string().regex(/^0x[0-9a-fA-F]{130}$/, 'must be a 65-byte 0x-prefixed hex signature'),
  })
  .strict();
export type OwnerTokenBody = z.infer<typeof OwnerTokenBody>;

/** `POST /v1/owner/withdrawals`. */
export const WithdrawBody = z
  .object({
    /** Base units of WEBI, a decimal string. */
    amount: z.string().regex(/^[1-9][0-9]{0,77}$/, 'must be a positive integer of base units, in decimal'),
    /** Your idempotency key: sending the same request again pays once. A random one if absent. */
    withdrawalId: Id.optional(),
  })
  .strict();
export type WithdrawBody = z.infer<typeof WithdrawBody>;

/** `GET /v1/owner/earnings` query. */
export const EarningsQuery = z
  .object({ limit: z.string().regex(/^\d{1,4}$/, 'must be an integer from 1 to 1000').transform(Number).pipe(z.number().int().min(1, 'must be at least 1').max(1000, 'must be at most 1000')).optional() })
  .strict();

/** `POST /v1/operator/nodes/:nodeId/quarantine` and `/release`. */
export const NodeActionBody = z.object({ reason: z.string().min(1).max(512) }).strict();
export type NodeActionBody = z.infer<typeof NodeActionBody>;

/** A node as owners and operators see it. */
export const NodeSchema = z.object({
  nodeId: Id,
  ownerId: Id,
  capabilityClasses: z.array(z.string()),
  benchmarkScore: z.number(),
  online: z.boolean(),
  available: z.boolean(),
  quarantineReason: z.string().nullable(),
  lastChangeAt: z.string(),
});

/** An owner's balances, withdrawals and history (base units of WEBI as decimal strings). */
export const EarningsSchema = z.object({
  ownerId: Id,
  available: z.string(),
  inFlight: z.string(),
  withdrawals: z.array(
    z.object({
      withdrawalId: Id,
      amount: z.string(),
      status: z.enum(['requested', 'submitted', 'settled', 'failed']),
      txHash: z.string().nullable(),
      reason: z.string().nullable(),
      requestedAt: z.string(),
      updatedAt: z.string(),
    }),
  ),
  history: z.array(
    z.object({
      at: z.string(),
      kind: z.enum(['reward', 'withdrawal', 'withdrawal-released']),
      amount: z.string(),
      nodeId: Id.optional(),
      withdrawalId: Id.optional(),
    }),
  ),
});

/** `POST /v1/owner/nodes`: the node key `weai-agent init` printed and the capability classes it may pull. */
export const EnrolNodeBody = NodeEnrolmentSchema;
export type EnrolNodeBody = z.infer<typeof EnrolNodeBody>;

/** What an enrolment answers: the node's id, its credential and inbox prefix (no secret: the seed stays on the node). */
export const EnrolledNodeSchema = z.object({ nodeId: Id, credentialId: Id, publicKey: z.string(), inboxPrefix: z.string(), capabilityClasses: z.array(z.string()) });
