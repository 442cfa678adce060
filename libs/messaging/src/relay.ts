import type { JetStreamClient, JetStreamManager, PubAck } from '@nats-io/jetstream';
import { EVENT_HEADERS, type EventFamily, streamOfFamily } from '@weai/contracts';
import type { EventStore, RecordedEvent, Subscription } from '@weai/eventstore';
import { encodeEvent } from './codec';
import { isNotFound } from './nats';

/** Options of the relay. */
export interface RelayOptions {
  readonly store: EventStore;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  /** The family this store holds; its events go to that family's stream. */
  readonly family: EventFamily;
  /** Publishes awaiting their acknowledgement at once; default 256. */
  readonly maxInFlight?: number;
  /** Wait before re-synchronising after a failure; default 500 ms. */
  readonly retryDelayMs?: number;
  /** Called with each failure the relay recovers from. */
  readonly onError?: (error: unknown) => void;
  /** Called after each acknowledged publish (tests, metrics). */
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

  /** Publishes from the checkpoint on until stopped or until a publish fails. */
  private async relayFrom(from: RelayCheckpoint): Promise<void> {
    const { store, js, family } = this.options;
    const maxInFlight = this.options.maxInFlight ?? 256;
    const inFlight: Array<Promise<void>> = [];
    // The first publish expects the stream's last sequence as read; each later one expects the
    // previous event's id to be the last message. Once one publish is refused, every later one in
    // flight is refused too, so the stream never skips an event.
    let expectation: { lastSequence: number } | { lastMsgID: string } = { lastSequence: from.sequence };
    let failure: unknown;
    let fail!: (error: unknown) => void;
    const failed = new Promise<never>((_, reject) => (fail = reject));
    failed.catch(() => undefined);

    const subscription = store.subscribe(from.position, (event) => {
      if (failure) throw failure;
      const { subject, body, headers } = encodeEvent(family, event);
      const publish = js
        .publish(subject, body, { msgID: event.metadata.eventId, headers, expect: expectation })
        .then((ack) => {
          if (ack.duplicate) throw new Error(`event ${event.metadata.eventId} at position ${event.position} was already in ${this.stream}`);
          this.options.onPublished?.(event, ack);
        })
        .catch((error: unknown) => {
          failure ??= error;
          fail(error);
        });
      expectation = { lastMsgID: event.metadata.eventId };
      inFlight.push(publish);
      // Returning nothing keeps the subscription in the same turn, so publishes share socket writes.
      return inFlight.length >= maxInFlight ? inFlight.splice(0, maxInFlight / 2).at(-1) : undefined;
    });
    this.subscription = subscription;
    try {
      await Promise.race([subscription.done, failed]);
    } finally {
      await subscription.stop();
      await Promise.all(inFlight);
    }
    if (failure) throw failure;
  }
}
