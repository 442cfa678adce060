import type { SchemaObject } from '@nestjs/swagger';
import { Id, SubmitJobRequestSchema } from '@weai/contracts';
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
});

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
