import { z } from 'zod';
import { EventMetadataSchema, Id } from './metadata';

/**
 * The JSON body of an event message on JetStream: the stored event with its position in the
 * store's log. Consumers validate it (and then the event's own schema) before handling it.
 */
export const EventEnvelopeSchema = z
  .object({
    /** Event type name. */
    type: z.string().min(1).max(128),
    /** Schema version the data was written with. */
    schemaVersion: z.number().int().positive(),
    /** Stream (aggregate) the event belongs to, e.g. `job-<id>`. */
    streamId: z.string().min(1).max(255),
    /** Revision of the event within its stream, from 0. */
    revision: z.number().int().nonnegative(),
    /** Position in the store's global log, from 1. */
    position: z.number().int().positive(),
    data: z.unknown(),
    metadata: EventMetadataSchema,
  })
  .strict();

/** The JSON body of an event message on JetStream. */
export type EventEnvelope = z.infer<typeof EventEnvelopeSchema>;

/** Builds the stream id of one aggregate: `<category>-<id>`. */
export function streamId(category: string, id: string): string {
  return `${category}-${Id.parse(id)}`;
}
