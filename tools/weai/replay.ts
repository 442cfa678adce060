import { createWriteStream, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { DeliverPolicy } from '@nats-io/jetstream';
import { eventStoreConfigFromEnv, openStoredLog, type StoredLog } from '@weai/eventstore';
import type { Bus } from '@weai/messaging';
import { BUS_HELP, BUS_OPTIONS, connectCliBus } from './bus';
import { CannotRunError, type CliIo, type Command, EXIT, type Flags, UsageError, positiveInt } from './cli';

const STREAM = /^[A-Za-z0-9_-]{1,64}$/;
const LOG_NAME = /^[a-z][a-z0-9-]{0,62}$/;
/** Progress is reported at most this often on stderr. */
const PROGRESS_MS = 1000;

/** Where replayed lines go: stdout, or a file (written as it goes, so a long replay needs no memory). */
interface Sink {
  line(text: string): Promise<void>;
  close(): Promise<void>;
}

function sinkOf(flags: Flags, io: CliIo): Sink {
  const out = flags['out'];
  if (out === undefined) return { line: async (t) => io.stdout(t), close: async () => undefined };
  if (typeof out !== 'string' || out === '') throw new UsageError('--out must name a file');
  const file: WriteStream = createWriteStream(out, { flags: 'w' });
  const opened = new Promise<void>((resolve, reject) => file.once('open', () => resolve()).once('error', reject));
  return {
    async line(text) {
      await opened;
      if (!file.write(`${text}\n`)) await new Promise<void>((r) => file.once('drain', () => r()));
    },
    close: () =>
      opened.then(
        () => new Promise<void>((resolve, reject) => file.end((error?: Error | null) => (error ? reject(error) : resolve()))),
        (error: Error) => Promise.reject(new CannotRunError(`cannot write ${out}: ${error.message}`)),
      ),
  };
}

/** Reports "replayed n of m" on stderr, at most once a second and once at the end. */
function progress(io: CliIo, total: number, unit: string) {
  let last = 0;
  return (done: number, at: number, final = false) => {
    const now = Date.now();
    if (!final && now - last < PROGRESS_MS) return;
    last = now;
    io.stderr(`replayed ${done} of ${total} (${unit} ${at})`);
  };
}

/** One stream message as a JSON line: sequence, subject, time, headers, and the body (JSON, or base64). */
function messageLine(seq: number, subject: string, timeMs: number, headerPairs: Iterable<[string, string[]]>, body: { json(): unknown; data: Uint8Array }): string {
  const headers: Record<string, string> = {};
  for (const [k, v] of headerPairs) headers[k] = v.join(',');
  let data: unknown;
  try {
    data = body.json();
  } catch {
    data = { base64: Buffer.from(body.data).toString('base64') };
  }
  return JSON.stringify({ seq, subject, time: new Date(timeMs).toISOString(), headers, data });
}

/**
 * The messages `from`..`to` of a JetStream stream. Through an ordered consumer (no state left on
 * the server), or — `bySequence`, for an operator's credential, which may read event streams but
 * create no consumer — one get per sequence, skipping the deleted ones.
 */
async function replayStream(bus: Bus, stream: string, from: number, toFlag: number | undefined, sink: Sink, io: CliIo, bySequence: boolean): Promise<number> {
  let state;
  try {
    state = (await bus.jsm.streams.info(stream)).state;
  } catch (error) {
    throw new CannotRunError(`no stream ${stream}: ${(error as Error).message}`);
  }
  const first = Math.max(from, state.first_seq);
  const to = Math.min(toFlag ?? state.last_seq, state.last_seq);
  if (state.messages === 0 || first > to) {
    io.stderr(`nothing to replay: ${stream} holds sequences ${state.first_seq}..${state.last_seq}`);
    return 0;
  }
  const report = progress(io, to - first + 1, 'sequence');
  if (bySequence) {
    let count = 0;
    for (let seq = first; seq <= to; seq++) {
      const m = await bus.jsm.streams.getMessage(stream, { seq }).catch((error: unknown) => {
        if (/no message found|not found/i.test((error as Error).message)) return null; // deleted inside the range
        throw new CannotRunError(`${stream} sequence ${seq}: ${(error as Error).message}`);
      });
      if (!m) continue;
      await sink.line(messageLine(m.seq, m.subject, m.time.getTime(), m.header ?? [], m));
      count++;
      report(count, seq);
    }
    report(count, to, true);
    return count;
  }
  const consumer = await bus.js.consumers.get(stream, { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: first });
  const messages = await consumer.consume({ max_messages: 512 });
  let count = 0;
  let at = first;
  try {
    for await (const m of messages) {
      if (m.seq > to) break;
      await sink.line(messageLine(m.seq, m.subject, Math.floor(m.info.timestampNanos / 1e6), m.headers ?? [], m));
      count++;
      at = m.seq;
      report(count, at);
      // Messages deleted inside the range leave gaps: the last one may come before `to`.
      if (m.seq >= to || m.info.pending === 0) break;
    }
  } finally {
    await messages.close();
    await consumer.delete().catch(() => undefined);
  }
  report(count, at, true);
  return count;
}

/** The rows at positions `from`..`to` of an event store's global log, as stored. */
async function replayLog(log: StoredLog, from: number, toFlag: number | undefined, sink: Sink, io: CliIo): Promise<number> {
  const head = await log.headPosition();
  const to = Math.min(toFlag ?? head, head);
  if (from > to) {
    io.stderr(`nothing to replay: the log's head is at position ${head}`);
    return 0;
  }
  const report = progress(io, to - from + 1, 'position');
  let count = 0;
  let at = from - 1;
  for (;;) {
    const page = await log.readAfter(at, 1000);
    if (page.length === 0) break;
    for (const row of page) {
      if (row.position > to) break;
      await sink.line(JSON.stringify({ ...row, data: JSON.parse(row.data) as unknown, metadata: JSON.parse(row.metadata) as unknown }));
      count++;
      at = row.position;
    }
    report(count, at);
    if (at >= to || page[page.length - 1]!.position > to) break;
  }
  // Positions may have gaps (EventStoreDB, rolled-back PostgreSQL sequences), so the total is an upper bound.
  report(count, at, true);
  return count;
}

export const replay: Command = {
  path: ['replay'],
  summary: "print a range of a JetStream stream or of an event store's global log, one JSON line per event",
  help: `usage: weai replay --stream <STREAM> [--from N] [--to M] [--out FILE]
       weai replay --log <context> [--from N] [--to M] [--out FILE]

--stream reads a JetStream stream (WEAI_NODES, WEAI_JOBS, …) by sequence, with the bus connection
below: through an ordered consumer, or, under a credential (an operator's may read the event
streams and WEAI_PARKED but create no consumer), one message at a time. Each line: { seq, subject,
time, headers, data }.

--log reads the global log of a context's event store (EVENT_STORE_URL, or
sqlite:<WEAI_DATA_DIR>/<context>.sqlite) by position, read-only, rows as stored. Each line:
{ position, streamId, revision, type, schemaVersion, data, metadata, recordedAt }.

--from and --to are inclusive (default: the whole stream or log). Lines go to stdout, or to FILE
with --out; progress goes to stderr once a second.

${BUS_HELP}`,
  options: { stream: { type: 'string' }, log: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' }, out: { type: 'string' }, ...BUS_OPTIONS },
  async run(flags, io) {
    const stream = flags['stream'];
    const logName = flags['log'];
    if ((stream === undefined) === (logName === undefined)) throw new UsageError('name either --stream <STREAM> or --log <context>');
    const from = positiveInt(flags, 'from', 1);
    const to = flags['to'] === undefined ? undefined : positiveInt(flags, 'to');
    if (to !== undefined && to < from) throw new UsageError(`--to (${to}) is before --from (${from})`);
    if (typeof stream === 'string' && !STREAM.test(stream)) throw new UsageError(`--stream must be a stream name such as WEAI_NODES, got ${JSON.stringify(stream)}`);
    if (typeof logName === 'string' && !LOG_NAME.test(logName)) throw new UsageError(`--log must be a context name such as nodes, got ${JSON.stringify(logName)}`);
    let count: number;
    if (typeof stream === 'string') {
      const bus: Bus = await connectCliBus(flags, io, 'weai-replay');
      const sink = sinkOf(flags, io);
      try {
        // Under a credential the caller is an operator, whose row allows reading event streams but no consumer.
        const credential = typeof flags['nkey-seed-file'] === 'string' || !!io.env['NATS_NKEY_SEED_FILE'];
        count = await replayStream(bus, stream, from, to, sink, io, credential);
      } finally {
        await sink.close();
        await bus.close();
      }
    } else {
      let config;
      try {
        config = eventStoreConfigFromEnv(io.env, join(io.env['WEAI_DATA_DIR'] ?? '.data', `${String(logName)}.sqlite`));
      } catch (error) {
        throw new UsageError((error as Error).message);
      }
      let log: StoredLog;
      try {
        log = await openStoredLog(config);
      } catch (error) {
        throw new CannotRunError((error as Error).message);
      }
      const sink = sinkOf(flags, io);
      try {
        count = await replayLog(log, from, to, sink, io);
      } finally {
        await sink.close();
        await log.close();
      }
    }
    if (typeof flags['out'] === 'string') io.stderr(`wrote ${count} events to ${flags['out']}`);
    return EXIT.ok;
  },
};
