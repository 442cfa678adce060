import {
  ANY,
  BACKWARDS,
  END,
  EventStoreDBClient,
  FORWARDS,
  NO_STREAM,
  STREAM_EXISTS,
  START,
  StreamNotFoundError,
  WrongExpectedVersionError,
  jsonEvent,
  type AllStreamResolvedEvent,
  type AppendExpectedRevision,
  type ResolvedEvent,
} from '@eventstore/db-client';
import { type EventMetadata, type WeaiEvent, schemaVersionOf, upcast } from '@weai/contracts';
import { validateAppend, type AppendRequest } from '../append-rules';
import { pollingSubscription } from '../catch-up';
import {
  type AppendResult,
  type EventStore,
  type ExpectedRevision,
  IdempotencyConflictError,
  type ReadStreamOptions,
  type RecordedEvent,
  type SubscribeOptions,
  type Subscription,
  WrongExpectedRevisionError,
  checkPosition,
  checkStreamId,
} from '../port';

/**
 * EventStoreDB, the production store named in the design, through `@eventstore/db-client`.
 *
 * Positions: the port's position is the event's prepare position in the transaction log, which
 * is unique and increases in `$all` order for ordinary appends (WE-AI never uses the deprecated
 * explicit transactions). Reading "after p" starts `$all` at {commit: p, prepare: p} and drops
 * what is not strictly after p.
 *
 * Idempotence: EventStoreDB de-duplicates a re-sent append itself; when it reports a wrong
 * expected version, the tail of the stream is searched for the ids so the caller gets the same
 * answers as from the SQL adapters. Event ids are unique per stream here, not per store.
 */
export class EsdbEventStore implements EventStore {
  private readonly listeners = new Set<() => void>();

  private constructor(private readonly client: EventStoreDBClient) {}

  /** Connects with a connection string such as `esdb://localhost:2113?tls=false`. */
  static connect(url: string): EsdbEventStore {
    return new EsdbEventStore(EventStoreDBClient.connectionString(url));
  }

  async append(streamId: string, events: readonly WeaiEvent[], expected: ExpectedRevision): Promise<AppendResult> {
    const request = validateAppend(streamId, events, expected);
    const data = request.events.map((e) =>
      jsonEvent({
        id: e.metadata.eventId,
        type: e.type,
        data: e.data as Record<string, unknown>,
        metadata: { ...e.metadata, schemaVersion: schemaVersionOf(e.type) },
      }),
    );
    try {
      const result = await this.client.appendToStream(streamId, data, { expectedRevision: toEsdbExpected(expected) });
      this.listeners.forEach((l) => l());
      const position = result.position ? toPosition(result.position.prepare) : await this.positionOfLast(streamId);
      return { nextExpectedRevision: Number(result.nextExpectedRevision), position };
    } catch (error) {
      if (!(error instanceof WrongExpectedVersionError)) throw error;
      return this.explainConflict(request, error);
    }
  }

  private async explainConflict(request: AppendRequest, error: WrongExpectedVersionError): Promise<AppendResult> {
    const ids = request.events.map((e) => e.metadata.eventId);
    const tail = await this.readTail(request.streamId, Math.max(ids.length * 4, 64));
    const found = tail.filter((e) => ids.includes(e.metadata.eventId));
    if (found.length === ids.length && found.every((e, i) => e.metadata.eventId === ids[i] && e.revision === found[0]!.revision + i)) {
      const last = found[found.length - 1]!;
      return { nextExpectedRevision: last.revision, position: last.position };
    }
    if (found.length > 0) throw new IdempotencyConflictError(request.streamId, `${found.length} of ${ids.length} event ids are already stored`);
    const current = error.actualVersion;
    const actual = typeof current === 'bigint' ? Number(current) : -1;
    throw new WrongExpectedRevisionError(request.streamId, request.expected, actual);
  }

  private async readTail(streamId: string, count: number): Promise<RecordedEvent[]> {
    const out: RecordedEvent[] = [];
    try {
      for await (const resolved of this.client.readStream(streamId, { direction: BACKWARDS, fromRevision: END, maxCount: count })) {
        const e = fromResolved(resolved);
        if (e) out.unshift(e);
      }
    } catch (error) {
      if (!(error instanceof StreamNotFoundError)) throw error;
    }
    return out;
  }

  private async positionOfLast(streamId: string): Promise<number> {
    const [last] = (await this.readTail(streamId, 1)).slice(-1);
    return last?.position ?? 0;
  }

  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    checkStreamId(streamId);
    checkPosition(options.fromRevision ?? 0, 'fromRevision');
    const out: RecordedEvent[] = [];
    if (options.maxCount === 0) return out;
    try {
      const reading = this.client.readStream(streamId, {
        direction: FORWARDS,
        fromRevision: options.fromRevision ? BigInt(options.fromRevision) : START,
        ...(options.maxCount !== undefined ? { maxCount: options.maxCount } : {}),
      });
      for await (const resolved of reading) {
        const e = fromResolved(resolved);
        if (e) out.push(e);
      }
    } catch (error) {
      if (!(error instanceof StreamNotFoundError)) throw error;
    }
    return out;
  }

  async readAll(fromPosition: number, maxCount = 1000): Promise<RecordedEvent[]> {
    checkPosition(fromPosition, 'fromPosition');
    checkPosition(maxCount, 'maxCount');
    const out: RecordedEvent[] = [];
    let from = fromPosition;
    // System events are skipped, so one read may return fewer than asked: read again until full or at the end.
    while (out.length < maxCount) {
      let seen = 0;
      const reading = this.client.readAll({
        direction: FORWARDS,
        fromPosition: from === 0 ? START : { commit: BigInt(from), prepare: BigInt(from) },
        maxCount: maxCount + 1,
      });
      for await (const resolved of reading) {
        seen++;
        const e = fromAll(resolved);
        if (!e || e.position <= from) continue;
        from = e.position;
        if (isUserEvent(e)) out.push(e);
        if (out.length === maxCount) break;
      }
      if (seen <= 1) break;
    }
    return out;
  }

  async headPosition(): Promise<number> {
    for await (const resolved of this.client.readAll({ direction: BACKWARDS, fromPosition: END, maxCount: 256 })) {
      const e = fromAll(resolved);
      if (e && isUserEvent(e)) return e.position;
    }
    return 0;
  }

  subscribe(fromPosition: number, handler: (event: RecordedEvent) => Promise<void> | void, options?: SubscribeOptions): Subscription {
    // Appends made through this instance wake the subscription at once; others are found by polling.
    return pollingSubscription(
      {
        readAll: (from, max) => this.readAll(from, max),
        onAppended: (listener) => {
          this.listeners.add(listener);
          return () => this.listeners.delete(listener);
        },
      },
      fromPosition,
      handler,
      options,
    );
  }

  async close(): Promise<void> {
    await this.client.dispose();
  }
}

function isUserEvent(e: RecordedEvent): boolean {
  return !e.type.startsWith('$') && !e.streamId.startsWith('$');
}

function toEsdbExpected(expected: ExpectedRevision): AppendExpectedRevision {
  switch (expected) {
    case 'any':
      return ANY;
    case 'no_stream':
      return NO_STREAM;
    case 'stream_exists':
      return STREAM_EXISTS;
    default:
      return BigInt(expected);
  }
}

function toPosition(value: bigint): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`log position ${value} exceeds the port's safe integer range`);
  return Number(value);
}

type AnyRecorded = NonNullable<ResolvedEvent['event'] | AllStreamResolvedEvent['event']>;

function convert(event: AnyRecorded): RecordedEvent | undefined {
  if (!event.isJson || !event.position) return undefined;
  const rawMeta = (event.metadata ?? {}) as Record<string, unknown>;
  const { schemaVersion, ...metadata } = rawMeta;
  const stored = typeof schemaVersion === 'number' ? schemaVersion : 1;
  const system = event.type.startsWith('$') || event.streamId.startsWith('$');
  return {
    streamId: event.streamId,
    revision: Number(event.revision),
    position: toPosition(event.position.prepare),
    type: event.type,
    schemaVersion: system ? stored : schemaVersionOf(event.type),
    data: system || stored === schemaVersionOf(event.type) ? event.data : upcast(event.type, stored, event.data),
    metadata: metadata as EventMetadata,
    recordedAt: new Date(event.created).toISOString(),
  };
}

function fromResolved(resolved: ResolvedEvent): RecordedEvent | undefined {
  return resolved.event ? convert(resolved.event) : undefined;
}

function fromAll(resolved: AllStreamResolvedEvent): RecordedEvent | undefined {
  return resolved.event ? convert(resolved.event) : undefined;
}
