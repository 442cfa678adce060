import { once } from 'node:events';
import type { ServerResponse } from 'node:http';
import { DeliverPolicy } from '@nats-io/jetstream';
import type { Bus } from '@weai/messaging';

/** One server-sent event of a dashboard's live feed. */
export interface LiveMessage {
  readonly event: string;
  readonly data: unknown;
}

/** A push source: `start` gets the sink and resolves to the function that stops it. */
export type LiveSource = (push: (message: LiveMessage) => void) => Promise<() => Promise<void>>;

const HEARTBEAT_MS = 15_000;
/** Messages queued for one slow client before it is cut off (it reconnects and reloads). */
const MAX_QUEUED = 1_000;

/**
 * Writes the messages of several sources as server-sent events until the client goes away or the
 * gateway shuts down (`signal`). A client too slow to take them is disconnected rather than
 * buffered without bound: the page reconnects and reloads its state.
 */
export async function writeLive(res: ServerResponse, sources: readonly LiveSource[], signal: AbortSignal): Promise<void> {
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache, no-transform', connection: 'keep-alive', 'x-accel-buffering': 'no' });
  res.write('retry: 2000\n\n');
  let queued = 0;
  const push = (m: LiveMessage) => {
    if (res.destroyed) return;
    if (queued > MAX_QUEUED) {
      res.destroy();
      return;
    }
    const flushed = res.write(`event: ${m.event}\ndata: ${JSON.stringify(m.data)}\n\n`);
    // Counted from the first write the socket could not take until it drains.
    if (queued > 0) queued++;
    else if (!flushed) {
      queued = 1;
      res.once('drain', () => (queued = 0));
    }
  };
  const stops: Array<() => Promise<void>> = [];
  const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), HEARTBEAT_MS);
  try {
    for (const source of sources) stops.push(await source(push));
    push({ event: 'ready', data: {} });
    const done = new AbortController();
    if (!signal.aborted) await Promise.race([once(res, 'close', { signal: done.signal }), once(signal, 'abort', { signal: done.signal })]).catch(() => undefined);
    done.abort();
  } finally {
    clearInterval(heartbeat);
    await Promise.all(stops.map((stop) => stop().catch(() => undefined)));
    res.end();
  }
}

/**
 * A source of the new messages on `subject` in `stream` (from now on, through an ordered consumer
 * deleted when it stops), each turned into a live message by `map` (null: not sent).
 */
export function streamSource(bus: Bus, stream: string, subject: string, map: (subject: string, data: Uint8Array, seq: number) => LiveMessage | null): LiveSource {
  return async (push) => {
    const consumer = await bus.js.consumers.get(stream, { filter_subjects: subject, deliver_policy: DeliverPolicy.New });
    const messages = await consumer.consume();
    const pump = (async () => {
      for await (const m of messages) {
        const message = map(m.subject, m.data, m.seq);
        if (message) push(message);
      }
    })().catch(() => undefined);
    return async () => {
      await messages.close();
      await pump;
      await consumer.delete().catch(() => undefined);
    };
  };
}
