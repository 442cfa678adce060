import { z } from 'zod';

/** Pattern of an identifier that is safe as a single NATS subject token and as a stream id part. */
export const ID_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;

/** An opaque identifier: letters, digits, `_` and `-`, 1 to 128 characters. */
export const Id = z.string().regex(ID_PATTERN, 'must be 1-128 characters of [A-Za-z0-9_-]');

/** ISO-8601 timestamp in UTC, as produced by `Date.prototype.toISOString()`. */
export const Timestamp = z.iso.datetime({ offset: false });

/** A non-negative integer amount in the smallest unit of WEBI, as a decimal string (no floats touch money). */
export const Amount = z.string().regex(/^(0|[1-9][0-9]{0,77})$/, 'must be a non-negative integer in decimal');

/** SHA-256 content address, lowercase hex. */
export const Sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'must be a lowercase hex SHA-256');

/**
 * Metadata carried by every event, in the store and on the bus.
 * Trace context follows W3C Trace Context (`traceparent`, `tracestate`).
 */
export const EventMetadataSchema = z
  .object({
    /** Unique id of this event; the store and JetStream de-duplicate on it. */
    eventId: z.uuid(),
    /** Id shared by every event and command caused, directly or not, by one outside request. */
    correlationId: Id,
    /** Id of the event or command that directly caused this event. */
    causationId: Id,
    /** When the decision that produced the event was taken (from the command, never the clock of the store). */
    occurredAt: Timestamp,
    /** W3C `traceparent` header of the span that produced the event. */
    traceparent: z
      .string()
      .regex(/^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/)
      .optional(),
    /** W3C `tracestate` header, vendor-specific trace data. */
    tracestate: z.string().max(512).optional(),
  })
  .strict();

/** Metadata carried by every event. */
export type EventMetadata = z.infer<typeof EventMetadataSchema>;
