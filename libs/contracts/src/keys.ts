/**
 * Data keys for sealed objects and payloads (libs/messaging/src/sealed.ts), released by the
 * security service on `keyRequestSubject(requester)`.
 *
 * Objects are content addressed, so one plaintext is one object shared by every job and partner
 * that names it: its key must be a function of the object, not of the job. Models, datasets and
 * shard inputs are sealed under their object key (`o1:<sha256>`); shard outputs, whose address a
 * node only learns by computing them, under the job key (`j1:<jobId>`). `1` is the generation of
 * the key-encryption key the data key derives from.
 */
import { z } from 'zod';
import { DataKeyId } from './events/security';

/** The key id of an object sealed under its own key. */
export const objectKeyId = (sha256: string) => `o1:${sha256}`;
/** The key id of a job's outputs. */
export const jobKeyId = (jobId: string) => `j1:${jobId}`;

/** A request for data keys. A node names the work item (stream sequence in WEAI_SHARDS) it holds the lease of. */
export const KeyRequestSchema = z
  .object({
    keyIds: z.array(DataKeyId).min(1).max(8),
    /** Nodes only: the stream sequence of the leased work item (JsMsg.info.streamSequence). */
    workItem: z.number().int().positive().optional(),
  })
  .strict();
export type KeyRequest = z.infer<typeof KeyRequestSchema>;

/** The keys released, base64; hold them in memory only, never log them. */
export interface KeyReply {
  readonly keys: ReadonlyArray<{ readonly id: string; readonly key: string }>;
}
