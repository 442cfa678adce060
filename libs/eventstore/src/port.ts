import type { EventMetadata, WeaiEvent } from '@weai/contracts';

/**
 * What the writer expects the stream's current revision to be:
 * a revision number (0 = the stream holds exactly one event), `no_stream`, `stream_exists` or `any`.
 */
export type ExpectedRevision = number | 'no_stream' | 'stream_exists' | 'any';

/** An event as the store recorded it. */
export interface RecordedEvent {
  /** Stream (aggregate) id, e.g. `job-42`. */
  readonly streamId: string;
  /** Revision of the event within its stream, from 0. */
  readonly revision: number;
  /**
   * Position in the store's global log: strictly increasing in log order, from 1. Gaps may occur.
   * Bounded by Number.MAX_SAFE_INTEGER (9 PB of EventStoreDB log), which the adapters enforce.
   */
  readonly position: number;
  /** Event type name. */
  readonly type: string;
  /** Schema version of `data` as returned (after upcasting: the current one). */
  readonly schemaVersion: number;
  /** Payload. */
  readonly data: unknown;
  /** Ids, time and trace context. */
  readonly metadata: EventMetadata;
  /** When the store recorded the event (store clock, ISO-8601). */
  readonly recordedAt: string;
}

/** Outcome of a successful append. */
export interface AppendResult {
  /** Revision of the stream's last event; pass it as the next expected revision. */
  readonly nextExpectedRevision: number;
  /** Global position of the last appended event. */
  readonly position: number;
}

/** Options of `readStream`. */
export interface ReadStreamOptions {
  /** First revision to read (inclusive); default 0. */
  readonly fromRevision?: number;
  /** Most events to return; default all. */
  readonly maxCount?: number;
}

/** A running catch-up subscription. */
export interface Subscription {
  /** Stops delivering; resolves once the handler is no longer running. */
  stop(): Promise<void>;
  /** Settles when the subscription ends: resolves after `stop()`, rejects with the handler's or store's error. */
  readonly done: Promise<void>;
}

/** Options of `subscribe`. */
export interface SubscribeOptions {
  /** Events per read while catching up; default 1000. */
  readonly batchSize?: number;
  /** Longest wait before looking for new events when no append signal arrives; default 200 ms. */
  readonly pollIntervalMs?: number;
}

/**
 * The event store: the system of record. Appends are atomic per call, checked against the expected
 * revision (optimistic concurrency) and idempotent on event ids; every event is validated against
 * its contract before anything is written.
 */
export interface EventStore {
  /** Appends events to a stream atomically. Throws WrongExpectedRevisionError, EventSchemaError or IdempotencyConflictError. */
  append(streamId: string, events: readonly WeaiEvent[], expected: ExpectedRevision): Promise<AppendResult>;
  /** Reads a stream forward; an empty array when it does not exist. */
  readStream(streamId: string, options?: ReadStreamOptions): Promise<RecordedEvent[]>;
  /** Reads the global log forward from after `fromPosition` (exclusive; 0 = from the start), up to `maxCount` events (default 1000). */
  readAll(fromPosition: number, maxCount?: number): Promise<RecordedEvent[]>;
  /** Position of the last event in the global log; 0 when empty. */
  headPosition(): Promise<number>;
  /** Delivers every event after `fromPosition`, in log order, one at a time, then new ones as they are appended. */
  subscribe(fromPosition: number, handler: (event: RecordedEvent) => Promise<void> | void, options?: SubscribeOptions): Subscription;
  /** Releases connections. */
  close(): Promise<void>;
}

/** The stream was not at the revision the writer expected; nothing was written. */
export class WrongExpectedRevisionError extends Error {
  override readonly name = 'WrongExpectedRevisionError';
  constructor(
    readonly streamId: string,
    readonly expected: ExpectedRevision,
    /** The stream's actual revision, -1 when it does not exist. */
    readonly actual: number,
  ) {
    super(
      `stream ${JSON.stringify(streamId)} is at revision ${actual === -1 ? '(none)' : actual}, ` +
        `but the append expected ${typeof expected === 'number' ? `revision ${expected}` : expected}; nothing was written`,
    );
  }
}

/** Some, but not all, of the appended event ids were already stored, or stored in another stream; nothing was written. */
export class IdempotencyConflictError extends Error {
  override readonly name = 'IdempotencyConflictError';
  constructor(readonly streamId: string, detail: string) {
    super(`append to ${JSON.stringify(streamId)} reuses event ids inconsistently (${detail}); nothing was written`);
  }
}

/** Bad arguments to a store call (an empty stream id, a negative position); nothing was written. */
export class InvalidArgumentError extends Error {
  override readonly name = 'InvalidArgumentError';
}

/** Stream ids: 1-255 printable characters without whitespace; `$` is reserved for the store. */
export function checkStreamId(streamId: string): void {
  if (typeof streamId !== 'string' || !/^[^\s$][^\s]{0,254}$/.test(streamId)) {
    throw new InvalidArgumentError(`stream id ${JSON.stringify(streamId)} must be 1-255 non-space characters, not starting with $`);
  }
}

/** Positions are non-negative safe integers. */
export function checkPosition(position: number, what = 'position'): void {
  if (!Number.isSafeInteger(position) || position < 0) {
    throw new InvalidArgumentError(`${what} must be a non-negative integer, got ${String(position)}`);
  }
}

/** Checks an expected revision before anything touches the store. */
export function checkExpected(expected: ExpectedRevision): void {
  if (typeof expected === 'number' ? !Number.isSafeInteger(expected) || expected < 0 : !['no_stream', 'stream_exists', 'any'].includes(expected)) {
    throw new InvalidArgumentError(`expected revision must be a revision >= 0, 'no_stream', 'stream_exists' or 'any'; got ${String(expected)}`);
  }
}

/** Whether a stream at `actual` (-1 = none) satisfies `expected`. */
export function revisionMatches(expected: ExpectedRevision, actual: number): boolean {
  switch (expected) {
    case 'any':
      return true;
    case 'no_stream':
      return actual === -1;
    case 'stream_exists':
      return actual >= 0;
    default:
      return expected === actual;
  }
}
