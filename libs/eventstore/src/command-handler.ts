import { createHash } from 'node:crypto';
import { context, propagation, trace } from '@opentelemetry/api';
import type { WeaiEvent } from '@weai/contracts';
import { type Decider, fold } from '@weai/decider';
import { type AppendResult, type EventStore, WrongExpectedRevisionError } from './port';

/** Who asked, when, and why: the context every command carries. Domain code never reads the clock. */
export interface CommandMetadata {
  /** Unique id of this command; the ids of the events it produces derive from it. */
  readonly commandId: string;
  readonly correlationId: string;
  readonly causationId: string;
  /** The time the decision is taken at (ISO-8601). */
  readonly now: string;
  /**
   * W3C trace context of the span that issued the command; its events carry it. Absent: the
   * events take the active span's context when they are decided. Present but undefined: none.
   */
  readonly traceparent?: string;
  readonly tracestate?: string;
}

/** An event as a decider returns it: no metadata yet. */
export type Decided<E extends WeaiEvent = WeaiEvent> = E extends WeaiEvent ? Omit<E, 'metadata'> : never;

/** Options of `handleCommand`. */
export interface HandleOptions {
  /** How many times to re-read and decide again after a concurrent write; default 0 (fail). */
  readonly retryOnConflict?: number;
}

/**
 * Event ids derived from the command id (UUID v5-style over SHA-1): handling the same command
 * twice produces the same ids, so the store treats the second append as already written.
 */
export function deterministicEventId(commandId: string, index: number): string {
  const h = createHash('sha1').update(`weai:${commandId}:${index}`).digest();
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const hex = h.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/**
 * The trace context events are stamped with: the command's own (captured where the command was
 * made), else the active span's, so that events decided inside a traced request or message carry
 * the trace on through the relay. Without telemetry there is no active span and nothing is added.
 */
function traceOf(meta: CommandMetadata): { traceparent?: string; tracestate?: string } {
  // A command that names its trace, even as undefined, keeps it: commands queued from several
  // callers and decided together (the scheduler's job batches) run in only one caller's context.
  if ('traceparent' in meta) return meta;
  const active = context.active();
  if (!trace.getSpanContext(active)) return {};
  const carrier: { traceparent?: string; tracestate?: string } = {};
  propagation.inject(active, carrier);
  return carrier;
}

/** Adds metadata to decided events. */
export function withMetadata<E extends WeaiEvent>(events: readonly Decided<E>[], meta: CommandMetadata): E[] {
  const { traceparent, tracestate } = traceOf(meta);
  return events.map(
    (e, i) =>
      ({
        ...e,
        metadata: {
          eventId: deterministicEventId(meta.commandId, i),
          correlationId: meta.correlationId,
          causationId: meta.causationId,
          occurredAt: meta.now,
          ...(traceparent ? { traceparent } : {}),
          ...(tracestate ? { tracestate } : {}),
        },
      }) as unknown as E,
  );
}

/**
 * The one generic command handler: read the stream, fold `evolve`, `decide`, append with the
 * revision that was read. A concurrent write surfaces as WrongExpectedRevisionError unless
 * `retryOnConflict` allows deciding again on fresh state.
 */
export async function handleCommand<C extends { metadata: CommandMetadata }, E extends WeaiEvent, S>(
  store: EventStore,
  decider: Decider<C, E, S>,
  streamId: string,
  command: C,
  options: HandleOptions = {},
): Promise<{ events: E[]; result: AppendResult | undefined; state: S }> {
  for (let attempt = 0; ; attempt++) {
    const recorded = await store.readStream(streamId);
    const state = fold(decider, recorded as unknown as E[]);
    const decided = decider.decide(command, state) as unknown as Decided<E>[];
    const events = withMetadata<E>(decided, command.metadata);
    const after = fold(decider, events, state);
    if (events.length === 0) return { events, result: undefined, state: after };
    const expected = recorded.length === 0 ? 'no_stream' : recorded[recorded.length - 1]!.revision;
    try {
      const result = await store.append(streamId, events, expected);
      return { events, result, state: after };
    } catch (error) {
      if (!(error instanceof WrongExpectedRevisionError) || attempt >= (options.retryOnConflict ?? 0)) throw error;
    }
  }
}
