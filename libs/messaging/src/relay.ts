import { type JetStreamClient, type JetStreamManager, type PubAck, PubHeaders } from '@nats-io/jetstream';
import type { MsgHdrs, NatsConnection } from '@nats-io/transport-node';
import { EVENT_HEADERS, type EventFamily, streamOfFamily } from '@weai/contracts';
import type { EventStore, RecordedEvent, Subscription } from '@weai/eventstore';
import { encodeEvent } from './codec';
import { isNotFound } from './nats';

/** Options of the relay. */
export interface RelayOptions {
  readonly store: EventStore;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  /**
   * The connection `js` publishes on. Given it, the relay asks JetStream to acknowledge only the
   * last event of each group of `ackEvery` (and of each run of events the store hands over); the
   * events before it in the group go out as plain publishes with the same id and expectation
   * headers. The server still checks every one of them, and an acknowledged publish whose
   * predecessor must be the stream's last message proves the whole group was stored, in order
   * (see `relayFrom`). Without it every event is its own request, as before.
   */
  readonly nc?: NatsConnection;
  /** The family this store holds; its events go to that family's stream. */
  readonly family: EventFamily;
  /** Events published and not yet acknowledged at once; default 256. */
  readonly maxInFlight?: number;
  /** With `nc`: events per acknowledged publish; default `maxInFlight / 4` (at most half of it). */
  readonly ackEvery?: number;
  /** Wait before re-synchronising after a failure; default 500 ms. */
  readonly retryDelayMs?: number;
  /** Called with each failure the relay recovers from. */
  readonly onError?: (error: unknown) => void;
  /**
   * Called for each event whose storing JetStream confirmed (tests, metrics), in log order. For an
   * event sent as a plain publish, `ack` is its group's acknowledgement with the event's own
   * sequence (the group is contiguous in the stream). An event stored without a confirmation (its
   * group's acknowledged publish was refused after it, or the acknowledgement was lost) is not
   * reported: the stream, not these calls, is the record.
   */
  readonly onPublished?: (event: RecordedEvent, ack: PubAck) => void;
}

/** Where the relay stands: the store position of the last event JetStream holds, and its sequence. */
export interface RelayCheckpoint {
  readonly position: number;
  readonly sequence: number;
}

/**
 * Forwards one store's global log, in order, to its family's JetStream stream. There is no
 * separate checkpoint to keep in step: the checkpoint is the `Weai-Position` header of the last
 * message in the stream, read back on every (re)start. Each publish carries the event id as
 * `Nats-Msg-Id` and what it expects to follow (the last sequence read, then the previous event's id), so
 * a second relay, a lost acknowledgement or a server that lost its tail can never leave a gap or
 * reorder the stream: the publish is refused and the relay re-reads the stream and resumes.
 * A crash anywhere between append and publish therefore loses nothing, and publishes nothing
 * twice except what JetStream's de-duplication window drops.
 */
export class EventRelay {
  private readonly stream: string;
  private subscription: Subscription | undefined;
  private stopped = false;
  private running: Promise<void> | undefined;
  private wakeRetry: (() => void) | undefined;

  constructor(private readonly options: RelayOptions) {
    this.stream = streamOfFamily(options.family);
  }

  /**
   * Reads the relay's checkpoint from the stream itself: the position header of the last message
   * that has one. Messages without it can only come from a publisher that should not have been
   * allowed on this stream; they are stepped over (and permissions should stop them, see security).
   */
  async checkpoint(): Promise<RelayCheckpoint> {
    const info = await this.options.jsm.streams.info(this.stream);
    const last = info.state.last_seq;
    for (let seq = last; seq >= Math.max(1, info.state.first_seq); seq--) {
      let position: number;
      try {
        const msg = await this.options.jsm.streams.getMessage(this.stream, { seq });
        position = Number(msg?.header.get(EVENT_HEADERS.position) || NaN);
      } catch (error) {
        if (isNotFound(error)) continue;
        throw error;
      }
      if (Number.isSafeInteger(position) && position > 0) return { position, sequence: last };
      this.options.onError?.(new Error(`message ${seq} of ${this.stream} has no ${EVENT_HEADERS.position} header; stepping over it`));
    }
    return { position: 0, sequence: last };
  }

  /** Starts relaying in the background; resolves once the first checkpoint has been read. */
  async start(): Promise<void> {
    this.stopped = false;
    const first = await this.checkpoint();
    const head = await this.options.store.headPosition();
    if (first.position > head) {
      throw new Error(
        `stream ${this.stream} already holds position ${first.position} but the event store ends at ${head}: ` +
          'the store was reset or belongs to another deployment. Point the service at its own store, or at a NATS server whose stream matches it.',
      );
    }
    this.running = this.loop(first);
  }

  /** Stops after the publishes in flight settle. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wakeRetry?.();
    await this.subscription?.stop();
    await this.running;
  }

  private async loop(first: RelayCheckpoint): Promise<void> {
    let checkpoint: RelayCheckpoint | undefined = first;
    while (!this.stopped) {
      try {
        checkpoint ??= await this.checkpoint();
        // stop() came while the checkpoint was read: it stopped no subscription, so start none.
        if (this.stopped) break;
        await this.relayFrom(checkpoint);
      } catch (error) {
        if (this.stopped) break;
        this.options.onError?.(error);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, this.options.retryDelayMs ?? 500);
          this.wakeRetry = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      checkpoint = undefined;
    }
  }

  /**
   * Publishes from the checkpoint on until stopped or until a publish fails.
   *
   * Every message says what must precede it: the first the stream's last sequence as read, each
   * later one the previous event's id (`Nats-Expected-Last-Msg-Id`). The server refuses a message
   * whose predecessor is not the stream's last, so the stream only ever grows by the log's next
   * event, whichever publishes are acknowledged. Hence an acknowledgement (not a duplicate) of a
   * group's last event proves the events before it in the group are stored directly before it;
   * if any of them was refused or lost, every later one of the group is refused too, the group's
   * acknowledged publish fails and the relay re-reads its checkpoint from the stream and resumes.
   */
  private async relayFrom(from: RelayCheckpoint): Promise<void> {
    const { store, js, family, nc } = this.options;
    const maxInFlight = Math.max(2, this.options.maxInFlight ?? 256);
    const ackEvery = nc ? Math.max(1, Math.min(this.options.ackEvery ?? Math.floor(maxInFlight / 4), Math.floor(maxInFlight / 2))) : 1;
    let expectation: { lastSequence: number } | { lastMsgID: string } = { lastSequence: from.sequence };
    let failure: unknown;
    let fail!: (error: unknown) => void;
    const failed = new Promise<never>((_, reject) => (fail = reject));
    failed.catch(() => undefined);
    const setFailure = (error: unknown) => {
      failure ??= error;
      fail(error);
    };

    interface Outgoing {
      readonly event: RecordedEvent;
      readonly subject: string;
      readonly body: Uint8Array;
      readonly headers: MsgHdrs;
    }
    /** Groups awaiting their acknowledgement, oldest first; each settles (never rejects) and leaves the list. */
    const groups: Array<{ size: number; settled: Promise<void> }> = [];
    let unacknowledged = 0;
    let pending: Outgoing[] = [];

    const publishGroup = (group: readonly Outgoing[]) => {
      const n = group.length;
      for (let i = 0; i < n - 1; i++) {
        const { event, subject, body, headers } = group[i]!;
        headers.set(PubHeaders.MsgIdHdr, event.metadata.eventId);
        if ('lastSequence' in expectation) headers.set(PubHeaders.ExpectedLastSeqHdr, String(expectation.lastSequence));
        else headers.set(PubHeaders.ExpectedLastMsgIdHdr, expectation.lastMsgID);
        nc!.publish(subject, body, { headers });
        expectation = { lastMsgID: event.metadata.eventId };
      }
      const last = group[n - 1]!;
      const entry = { size: n, settled: Promise.resolve() };
      entry.settled = js
        .publish(last.subject, last.body, { msgID: last.event.metadata.eventId, headers: last.headers, expect: expectation })
        .then((ack) => {
          if (ack.duplicate) throw new Error(`event ${last.event.metadata.eventId} at position ${last.event.position} was already in ${this.stream}`);
          if (this.options.onPublished) for (let i = 0; i < n; i++) this.options.onPublished(group[i]!.event, i === n - 1 ? ack : { ...ack, seq: ack.seq - (n - 1 - i) });
        })
        .catch(setFailure)
        .finally(() => {
          unacknowledged -= n;
          // Forget it, so a relay that runs for months keeps no list of settled publishes.
          const i = groups.indexOf(entry);
          if (i >= 0) groups.splice(i, 1);
        });
      expectation = { lastMsgID: last.event.metadata.eventId };
      groups.push(entry);
      unacknowledged += n;
    };

    // Publishes what the store has handed over, in groups; called once the store's synchronous
    // run of events ends (a microtask), or at once when the window is full.
    const flush = () => {
      const batch = pending;
      pending = [];
      if (failure) return;
      try {
        for (let i = 0; i < batch.length; i += ackEvery) publishGroup(batch.slice(i, i + ackEvery));
      } catch (error) {
        // A publish refused by the client (closed connection, payload too large): nothing after it goes out.
        setFailure(error);
      }
    };

    const subscription = store.subscribe(from.position, (event) => {
      if (failure) throw failure;
      const { subject, body, headers } = encodeEvent(family, event);
      if (pending.push({ event, subject, body, headers }) === 1) queueMicrotask(flush);
      if (unacknowledged + pending.length < maxInFlight) return undefined;
      // The window is full: publish, then wait until half of it is acknowledged. Returning nothing
      // otherwise keeps the subscription in the same turn, so publishes share socket writes.
      flush();
      let toFree = unacknowledged - maxInFlight / 2;
      let k = 0;
      while (toFree > 0 && k < groups.length) toFree -= groups[k++]!.size;
      return k > 0 ? groups.splice(0, k).at(-1)!.settled : undefined;
    });
    this.subscription = subscription;
    try {
      await Promise.race([subscription.done, failed]);
    } finally {
      await subscription.stop();
      flush();
      await Promise.all(groups.map((g) => g.settled));
    }
    if (failure) throw failure;
  }
}
