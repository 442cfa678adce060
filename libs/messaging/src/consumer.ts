import { AckPolicy, DeliverPolicy, type JetStreamClient, type JetStreamManager, type JsMsg } from '@nats-io/jetstream';
import { EVENT_HEADERS } from '@weai/contracts';
import { MalformedMessageError } from './codec';
import { consumerMetrics } from './metrics';
import { isNotFound } from './nats';
import { park } from './parking';
import { SpanKind, extractTrace, inSpan } from './tracing';

/** Options of a durable pull consumer. */
export interface DurableConsumerOptions<T> {
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly stream: string;
  /** Durable name; replicas of a service share it and so share the work. */
  readonly durable: string;
  /** Only messages on this subject (wildcards allowed). */
  readonly filterSubject?: string;
  /** Turns a message into the handler's input; throw MalformedMessageError to park it at once. */
  readonly decode: (msg: JsMsg) => T;
  /** Handles one message; resolve to ack, throw to retry later (MalformedMessageError: park it at once, as no retry can help). */
  readonly handler: (input: T, msg: JsMsg) => Promise<void>;
  /** Messages acknowledged without calling the handler (not the types it handles): no span, counted as skipped. */
  readonly skip?: (input: T) => boolean;
  /** Deliveries before a failing message is parked; default 5. */
  readonly maxDeliver?: number;
  /** Lease on a delivered message, extended while the handler runs; default 30 s. */
  readonly ackWaitMs?: number;
  /** Delay before a failed message is redelivered, by delivery count; default 250 ms × 2^(n-1), at most 30 s. */
  readonly backoffMs?: (deliveryCount: number) => number;
  /** Messages handled at once; default 1 (in order). */
  readonly concurrency?: number;
  /** Unacknowledged messages the server hands out at once; default 1000. */
  readonly maxAckPending?: number;
  /** Called when a message is parked. */
  readonly onParked?: (msg: JsMsg, reason: string) => void;
  /** Called when a handler fails (before retry or park). */
  readonly onError?: (error: unknown, msg: JsMsg) => void;
}

/** A running consumer. */
export interface RunningConsumer {
  /** Stops pulling; resolves when handlers in progress are done. */
  stop(): Promise<void>;
  /** Settles when the consumer ends. */
  readonly done: Promise<void>;
}

const NS = 1_000_000;

/** Creates the durable consumer if missing, or updates it. */
export async function ensureDurable(jsm: JetStreamManager, stream: string, durable: string, options: { filterSubject?: string; ackWaitMs?: number; maxAckPending?: number }): Promise<void> {
  const config = {
    durable_name: durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: (options.ackWaitMs ?? 30_000) * NS,
    // Parking is done by the consumer itself (it knows why), so the server never drops a message.
    max_deliver: -1,
    max_ack_pending: options.maxAckPending ?? 1000,
    ...(options.filterSubject ? { filter_subject: options.filterSubject } : {}),
  };
  try {
    await jsm.consumers.info(stream, durable);
    await jsm.consumers.update(stream, durable, config);
  } catch (error) {
    if (!isNotFound(error)) throw error;
    await jsm.consumers.add(stream, config);
  }
}

/**
 * Runs a durable pull consumer with explicit acks. While a handler runs the message's lease is
 * extended (in-progress acks). A failing message is retried with backoff and parked with its last
 * error after `maxDeliver` deliveries; a message that cannot be decoded is parked at once. Neither
 * ever blocks the messages behind it.
 */
/**
 * How long each pull request of a consumer lives (`expires`); the server sends idle heartbeats
 * every half of it, and the client pulls again after two missed ones. The library's 30 s default
 * left a consumer silent for ~30 s whenever its leader moved to another server (a NATS server
 * died; the pull request died with it): measured as 30 s stalls in the scale-out test. 10 s costs
 * one small request per consumer every 10 s when idle.
 */
export const PULL_EXPIRES_MS = 10_000;

export async function runDurableConsumer<T>(options: DurableConsumerOptions<T>): Promise<RunningConsumer> {
  const ackWaitMs = options.ackWaitMs ?? 30_000;
  const maxDeliver = options.maxDeliver ?? 5;
  const backoff = options.backoffMs ?? ((n: number) => Math.min(250 * 2 ** (n - 1), 30_000));
  const concurrency = options.concurrency ?? 1;
  await ensureDurable(options.jsm, options.stream, options.durable, options);
  const consumer = await options.js.consumers.get(options.stream, options.durable);
  const messages = await consumer.consume({ max_messages: Math.max(64, concurrency * 4), expires: PULL_EXPIRES_MS });

  const metrics = consumerMetrics(options.durable);
  // A message that carries a trace context (an event decided inside a traced request, a result of
  // a traced shard) is handled in a CONSUMER span, child of that context; what the handler appends
  // or publishes carries this span on. Messages without one get no span, so untraced traffic
  // (heartbeats, a job's untraced shards) costs no spans.
  const run = (input: T, msg: JsMsg) => {
    const parent = extractTrace(msg.headers);
    if (!parent) return options.handler(input, msg);
    const type = msg.headers?.get(EVENT_HEADERS.type);
    const attributes = {
      'messaging.system': 'nats',
      'messaging.operation.type': 'process',
      'messaging.destination.name': msg.subject,
      'messaging.consumer.group.name': options.durable,
      'weai.delivery': msg.info.deliveryCount,
      ...(type ? { 'weai.event.type': type } : {}),
    };
    return inSpan(`${options.durable} process`, { kind: SpanKind.CONSUMER, parent, attributes }, () => options.handler(input, msg));
  };

  const parkIt = async (msg: JsMsg, reason: string) => {
    try {
      await park(options.js, options.durable, msg, reason);
      metrics.parked();
      options.onParked?.(msg, reason);
    } catch (error) {
      options.onError?.(error, msg);
      msg.nak(backoff(msg.info.deliveryCount));
    }
  };

  const handle = async (msg: JsMsg) => {
    if (msg.info.deliveryCount > maxDeliver) {
      await parkIt(msg, `gave up after ${maxDeliver} deliveries without an acknowledgement`);
      return;
    }
    let input: T;
    try {
      input = options.decode(msg);
    } catch (error) {
      await parkIt(msg, error instanceof MalformedMessageError ? error.message : `cannot decode: ${(error as Error).message}`);
      return;
    }
    if (options.skip?.(input)) {
      metrics.skipped();
      ackSoon(msg);
      return;
    }
    const started = performance.now();
    inProgress.set(msg, started);
    try {
      await run(input, msg);
      inProgress.delete(msg);
      metrics.handled((performance.now() - started) / 1000);
      ackSoon(msg);
    } catch (error) {
      inProgress.delete(msg);
      metrics.failed((performance.now() - started) / 1000);
      options.onError?.(error, msg);
      if (error instanceof MalformedMessageError) await parkIt(msg, error.message);
      else if (msg.info.deliveryCount >= maxDeliver) await parkIt(msg, `failed ${maxDeliver} times, last: ${(error as Error)?.message ?? String(error)}`);
      else msg.nak(backoff(msg.info.deliveryCount));
    }
  };

  // Acks of handlers that finished in one turn of the event loop go out together, in one socket
  // write, instead of one write each. An ack delayed this way and lost in a crash only means a
  // redelivery, which handlers are written for.
  let acks: JsMsg[] = [];
  const sendAcks = () => {
    const batch = acks;
    acks = [];
    for (const msg of batch) {
      try {
        msg.ack();
      } catch {
        // The connection closed first: the server redelivers after the ack wait.
      }
    }
  };
  const ackSoon = (msg: JsMsg) => {
    if (acks.push(msg) === 1) setImmediate(sendAcks);
  };

  // One timer for the consumer, not one per message: it extends the lease of every message whose
  // handler has run for a third of the ack wait.
  const inProgress = new Map<JsMsg, number>();
  const keepAlive = setInterval(() => {
    const due = performance.now() - ackWaitMs / 3;
    for (const [msg, since] of inProgress) {
      if (since <= due) {
        msg.working();
        inProgress.set(msg, performance.now());
      }
    }
  }, Math.max(50, ackWaitMs / 6));

  const active = new Set<Promise<void>>();
  const done = (async () => {
    for await (const msg of messages) {
      const p = handle(msg).finally(() => active.delete(p));
      active.add(p);
      if (active.size >= concurrency) await Promise.race(active);
    }
    await Promise.all(active);
  })().finally(() => {
    clearInterval(keepAlive);
    sendAcks();
  });

  return {
    done,
    async stop() {
      await messages.close();
      await done;
    },
  };
}
