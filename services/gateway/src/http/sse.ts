import { once } from 'node:events';
import type { ServerResponse } from 'node:http';
import type { JobEventStream } from '../application/job-events.service';

/** A comment line this often keeps proxies from closing a quiet stream. */
const HEARTBEAT_MS = 15_000;

/**
 * Writes job events as server-sent events (`id` = stream sequence, `event` = type, `data` = the
 * event as JSON) until the stream ends or the client goes away, whichever is first.
 */
export async function writeSse(res: ServerResponse, stream: JobEventStream): Promise<void> {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  res.write('retry: 2000\n\n');
  const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), HEARTBEAT_MS);
  const gone = () => void stream.close();
  res.once('close', gone);
  try {
    for await (const { seq, event } of stream) {
      if (res.destroyed) break;
      // A slow client holds the replay back instead of the gateway buffering it.
      if (!res.write(`id: ${seq}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`)) await drained(res);
    }
  } finally {
    clearInterval(heartbeat);
    res.off('close', gone);
    await stream.close();
    res.end();
  }
}

/** Resolves once the response can take more, or is gone. */
async function drained(res: ServerResponse): Promise<void> {
  const done = new AbortController();
  try {
    await Promise.race([once(res, 'drain', { signal: done.signal }), once(res, 'close', { signal: done.signal })]);
  } finally {
    done.abort();
  }
}
