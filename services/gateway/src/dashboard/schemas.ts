import { z } from 'zod';

const Seq = z
  .string()
  .regex(/^[1-9][0-9]{0,14}$/, 'must be a positive integer')
  .transform(Number);

/** `GET /v1/operator/streams/:stream/messages?from=&to=`: a sequence range, at most 100 messages per page. */
export const StreamRangeQuery = z
  .object({
    from: Seq.optional(),
    to: Seq.optional(),
    /** Instead of `from`: start at the first message stored at or after this time (ISO-8601 UTC). */
    since: z
      .string()
      .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?Z$/, 'must be an ISO-8601 UTC time, e.g. 2026-11-26T10:00:00Z')
      .refine((v) => !Number.isNaN(Date.parse(v)), 'must be a real time')
      .transform((v) => new Date(v))
      .optional(),
  })
  .strict()
  .refine((q) => !(q.from !== undefined && q.since !== undefined), 'give from or since, not both');

/** A JetStream stream name in a path. */
export const StreamParam = z.string().regex(/^[A-Z0-9_]{1,64}$/, 'must be a stream name such as WEAI_NODES');
