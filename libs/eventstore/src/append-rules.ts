import { type WeaiEvent, schemaVersionOf, validateEvent } from '@weai/contracts';
import {
  type AppendResult,
  type ExpectedRevision,
  IdempotencyConflictError,
  InvalidArgumentError,
  WrongExpectedRevisionError,
  checkExpected,
  checkStreamId,
  revisionMatches,
} from './port';

/** An append request after validation: events checked against their contracts, ready to write. */
export interface AppendRequest {
  readonly streamId: string;
  readonly events: readonly WeaiEvent[];
  readonly expected: ExpectedRevision;
}

/** A row of the event table, as written. */
export interface EventRow {
  readonly streamId: string;
  readonly revision: number;
  readonly eventId: string;
  readonly type: string;
  readonly schemaVersion: number;
  readonly data: string;
  readonly metadata: string;
  readonly recordedAt: string;
}

/** Where an already stored event id lives. */
export interface StoredId {
  readonly streamId: string;
  readonly revision: number;
  readonly position: number;
}

/**
 * Validates an append before any I/O: stream id, expected revision, every event against its
 * contract, no event id twice. Throws with a message naming the problem; nothing is written.
 */
export function validateAppend(streamId: string, events: readonly WeaiEvent[], expected: ExpectedRevision): AppendRequest {
  checkStreamId(streamId);
  checkExpected(expected);
  if (!Array.isArray(events) || events.length === 0) throw new InvalidArgumentError('an append needs at least one event');
  const validated = events.map((e) => validateEvent(e));
  const ids = new Set(validated.map((e) => e.metadata.eventId));
  if (ids.size !== validated.length) throw new InvalidArgumentError(`append to ${JSON.stringify(streamId)} names one event id twice`);
  return { streamId, events: validated, expected };
}

/** What to do with one append, given the stream's revision and which of its event ids are stored. */
export type AppendDecision =
  | { readonly kind: 'write'; readonly firstRevision: number }
  | { readonly kind: 'already-written'; readonly result: AppendResult };

/**
 * Decides an append. Re-sending an append whose events are all stored, in order, at the end of
 * this stream's history succeeds without writing (idempotence on event ids); reusing only some of
 * them, or ids stored in another stream, is a conflict; otherwise the expected revision must match.
 */
export function decideAppend(req: AppendRequest, actualRevision: number, stored: ReadonlyMap<string, StoredId>): AppendDecision {
  const found = req.events.map((e) => stored.get(e.metadata.eventId));
  const known = found.filter((f): f is StoredId => f !== undefined);
  if (known.length === req.events.length) {
    const first = known[0]!;
    const inOrder = known.every((f, i) => f.streamId === req.streamId && f.revision === first.revision + i);
    if (!inOrder) throw new IdempotencyConflictError(req.streamId, 'the ids are stored, but not as this append in this stream');
    const last = known[known.length - 1]!;
    return { kind: 'already-written', result: { nextExpectedRevision: last.revision, position: last.position } };
  }
  if (known.length > 0) {
    throw new IdempotencyConflictError(req.streamId, `${known.length} of ${req.events.length} event ids are already stored`);
  }
  if (!revisionMatches(req.expected, actualRevision)) {
    throw new WrongExpectedRevisionError(req.streamId, req.expected, actualRevision);
  }
  return { kind: 'write', firstRevision: actualRevision + 1 };
}

/** The rows an append writes, from the stream's next revision on. */
export function toRows(req: AppendRequest, firstRevision: number, recordedAt: string): EventRow[] {
  return req.events.map((e, i) => ({
    streamId: req.streamId,
    revision: firstRevision + i,
    eventId: e.metadata.eventId,
    type: e.type,
    schemaVersion: schemaVersionOf(e.type),
    data: JSON.stringify(e.data),
    metadata: JSON.stringify(e.metadata),
    recordedAt,
  }));
}
