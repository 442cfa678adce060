/**
 * Event store and relay benchmark, SQLite and PostgreSQL, in one run:
 *
 *   - append throughput: one writer (sequential awaits, one event per append) and 8 concurrent
 *     writers (each its own stream, one event per append);
 *   - replay: the whole global log read with `readAll(from, 10000)` pages from position 0;
 *   - relay: EventRelay forwarding N already-appended events to JetStream while a durable
 *     consumer (decodeEvent) acks them, timed from relay start until the last ack is recorded; the
 *     consumer runs in its own process, as the consuming service does in the system (with both on
 *     one Node thread the bench measured the consumer's cost as the relay's);
 *   - raw JetStream async publish rate of envelope-sized messages, at most 256 in flight, the
 *     yardstick for the relay: refilled by halves as the relay does (`raw_jetstream_publish_per_s`,
 *     the one relay_vs_raw divides by) and, for comparison, one at a time (a sliding window).
 *
 * Progress goes to stderr; the last line of stdout is one JSON object with the numbers.
 *
 *   npm run bench:eventstore                      # 1,000,000-event replay, 50,000-event relay
 *   npm run bench:eventstore -- --quick           # smoke run: 20,000-event replay, 5,000-event relay
 *   npm run bench:eventstore -- --events 200000   # replay size
 *   npm run bench:eventstore -- --quick --relay-events 20000   # relay and raw publish size
 *
 * Needs /usr/sbin/nats-server (a private one is started) and PostgreSQL at
 * BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/postgres); it works in its own
 * schema, dropped at the end, and a temporary SQLite folder, removed at the end.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { arch, cpus, loadavg, platform, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { RetentionPolicy, StorageType, type PubAck } from '@nats-io/jetstream';
import { streamOfFamily } from '@weai/contracts';
import { type EventStore, type ExpectedRevision, type RecordedEvent, openSqlEventStore } from '@weai/eventstore';
import { nodeCameOnline, someEvents } from '@weai/eventstore/src/testing/fixtures';
import { type Bus, EventRelay, connectBus, encodeEvent, ensureStreams, isNotFound } from '@weai/messaging';
import { type TestNatsServer, startNatsServer } from '@weai/messaging/src/testing/nats-server';
import { startChild } from './support/child';
import { Cleanup, UsageError, fmt, log, round3, runBench, secondsSince } from './support/run';
import { DataSource } from 'typeorm';

// ---------------------------------------------------------------------------------------------
// Options

interface BenchOptions {
  readonly quick: boolean;
  /** Events in the log that the replay reads. */
  readonly replayEvents: number;
  /** Events the relay forwards, per backend. */
  readonly relayEvents: number;
  /** Messages of the raw JetStream publish run. */
  readonly rawMessages: number;
  /** Duration of each append run. */
  readonly appendSeconds: number;
}

const USAGE = `usage: npm run bench:eventstore [-- [--quick] [--events N] [--relay-events N]]

  --quick      small smoke run: 20,000-event replay, 5,000-event relay, 1 s append runs
  --events N   events in the replayed log (default 1,000,000; with --quick 20,000);
               a whole number from 1,000 to 50,000,000 (underscores allowed: 1_000_000)
  --relay-events N
               events the relay forwards per backend, and messages of the raw publish runs
               (default 50,000; with --quick 5,000)
  --help       this text`;

const MIN_EVENTS = 1_000;
const MAX_EVENTS = 50_000_000;

function parseCount(flag: string, value: string | undefined): number {
  if (value === undefined || value === '' || value.startsWith('--')) throw new UsageError(`${flag} needs a value, e.g. ${flag} 1000000`);
  const digits = value.replace(/_/g, '');
  if (!/^\d+$/.test(digits)) throw new UsageError(`${flag} must be a whole number of events, got ${JSON.stringify(value)}`);
  const n = Number(digits);
  if (!Number.isSafeInteger(n) || n < MIN_EVENTS || n > MAX_EVENTS) {
    throw new UsageError(`${flag} must be from ${MIN_EVENTS.toLocaleString('en-US')} to ${MAX_EVENTS.toLocaleString('en-US')}, got ${value}`);
  }
  return n;
}

function parseArgs(argv: readonly string[]): BenchOptions | 'help' {
  let quick = false;
  let events: number | undefined;
  let relayEvents: number | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') return 'help';
    if (arg === '--quick') {
      if (quick) throw new UsageError('--quick given twice');
      quick = true;
    } else if (arg === '--events' || arg.startsWith('--events=')) {
      if (events !== undefined) throw new UsageError('--events given twice');
      events = parseCount('--events', arg === '--events' ? argv[++i] : arg.slice('--events='.length));
    } else if (arg === '--relay-events' || arg.startsWith('--relay-events=')) {
      if (relayEvents !== undefined) throw new UsageError('--relay-events given twice');
      relayEvents = parseCount('--relay-events', arg === '--relay-events' ? argv[++i] : arg.slice('--relay-events='.length));
    } else {
      throw new UsageError(`unknown argument ${JSON.stringify(arg)}`);
    }
  }
  return quick
    ? { quick, replayEvents: events ?? 20_000, relayEvents: relayEvents ?? 5_000, rawMessages: relayEvents ?? 5_000, appendSeconds: 1 }
    : { quick, replayEvents: events ?? 1_000_000, relayEvents: relayEvents ?? 50_000, rawMessages: relayEvents ?? 50_000, appendSeconds: 4 };
}

// ---------------------------------------------------------------------------------------------
// Output helpers

/** Microseconds of this process's CPU time (user + system) per item since `since`: steadier than rates on a busy machine. */
const cpuMicrosPer = (since: NodeJS.CpuUsage, items: number) => {
  const used = process.cpuUsage(since);
  return items > 0 ? Math.round(((used.user + used.system) / items) * 10) / 10 : 0;
};

/** Plain progress lines on stderr, at most one a second. */
class Progress {
  private readonly started = performance.now();
  private lastPrint = this.started;
  private done = 0;

  constructor(
    private readonly label: string,
    private readonly total: number,
  ) {}

  tick(n = 1): void {
    this.done += n;
    const now = performance.now();
    if (now - this.lastPrint >= 1000) {
      this.lastPrint = now;
      this.print();
    }
  }

  set(done: number): void {
    this.tick(done - this.done);
  }

  finish(): void {
    this.print();
  }

  private print(): void {
    const secs = secondsSince(this.started);
    const pct = this.total > 0 ? ` (${Math.round((this.done / this.total) * 100)}%)` : '';
    const of = this.total > 0 ? `/${fmt(this.total)}` : '';
    log(`  ${this.label}: ${fmt(this.done)}${of}${pct}, ${fmt(secs > 0 ? this.done / secs : 0)}/s, ${secs.toFixed(1)} s`);
  }
}

// ---------------------------------------------------------------------------------------------
// Store side

/** A store that counts the events appended through it, so the replay knows what to expect. */
interface CountedStore {
  readonly store: EventStore;
  appended: number;
}

async function append(target: CountedStore, streamId: string, events: ReturnType<typeof someEvents>, expected: ExpectedRevision): Promise<number> {
  const result = await target.store.append(streamId, events, expected);
  target.appended += events.length;
  return result.nextExpectedRevision;
}

/** One writer, one event per append, sequential awaits, for `secs` seconds. */
async function appendSingle(target: CountedStore, secs: number, label: string): Promise<number> {
  const node = `bench-single-${randomUUID().slice(0, 8)}`;
  let expected: ExpectedRevision = 'no_stream';
  for (let i = 0; i < 20; i++) expected = await append(target, `warmup-${node}`, [nodeCameOnline(node)], expected);
  const progress = new Progress(`${label} append, 1 writer`, 0);
  expected = 'no_stream';
  let count = 0;
  const started = performance.now();
  const deadline = started + secs * 1000;
  while (performance.now() < deadline) {
    expected = await append(target, node, [nodeCameOnline(node)], expected);
    count++;
    progress.tick();
  }
  const rate = count / secondsSince(started);
  log(`${label}: append, 1 writer: ${fmt(rate)} events/s (${fmt(count)} appends)`);
  return rate;
}

/** `writers` concurrent loops, each appending one event per append to its own stream, for `secs` seconds. */
async function appendConcurrent(target: CountedStore, writers: number, secs: number, label: string): Promise<number> {
  const progress = new Progress(`${label} append, ${writers} writers`, 0);
  const run = randomUUID().slice(0, 8);
  let count = 0;
  const started = performance.now();
  const deadline = started + secs * 1000;
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      const node = `bench-w${w}-${run}`;
      let expected: ExpectedRevision = 'no_stream';
      while (performance.now() < deadline) {
        expected = await append(target, node, [nodeCameOnline(node)], expected);
        count++;
        progress.tick();
      }
    }),
  );
  const rate = count / secondsSince(started);
  log(`${label}: append, ${writers} writers: ${fmt(rate)} events/s (${fmt(count)} appends)`);
  return rate;
}

/** Appends `total` events fast (untimed): 1000-event appends from 4 concurrent writers, 20 appends per stream. */
async function seed(target: CountedStore, total: number, label: string): Promise<number> {
  const started = performance.now();
  const progress = new Progress(`${label} seeding`, total);
  let remaining = total;
  const run = randomUUID().slice(0, 8);
  await Promise.all(
    Array.from({ length: 4 }, async (_, w) => {
      for (let s = 0; remaining > 0; s++) {
        const node = `seed-${run}-${w}-${s}`;
        let expected: ExpectedRevision = 'no_stream';
        for (let a = 0; a < 20 && remaining > 0; a++) {
          const n = Math.min(1000, remaining);
          remaining -= n;
          expected = await append(target, node, someEvents(n, node), expected);
          progress.tick(n);
        }
      }
    }),
  );
  progress.finish();
  return total / secondsSince(started);
}

/** Reads the whole global log in pages of 10,000 from position 0. */
async function replay(store: EventStore, expected: number, label: string): Promise<{ rate: number; events: number; secs: number; cpuMicros: number }> {
  const page = 10_000;
  const progress = new Progress(`${label} replay`, expected);
  let from = 0;
  let events = 0;
  const cpu = process.cpuUsage();
  const started = performance.now();
  for (;;) {
    const batch = await store.readAll(from, page);
    if (batch.length > 0) {
      const last = batch[batch.length - 1]!.position;
      if (last <= from) throw new Error(`replay went backwards: page after ${from} ended at ${last}`);
      from = last;
    }
    events += batch.length;
    progress.tick(batch.length);
    if (batch.length < page) break;
  }
  const secs = secondsSince(started);
  const cpuMicros = cpuMicrosPer(cpu, events);
  if (events !== expected) throw new Error(`${label}: replay read ${events} events, but ${expected} were appended`);
  const rate = events / secs;
  log(`${label}: replay: ${fmt(rate)} events/s (${fmt(events)} events in ${secs.toFixed(2)} s; ${cpuMicros} µs of this process's CPU per event)`);
  return { rate, events, secs, cpuMicros };
}

// ---------------------------------------------------------------------------------------------
// JetStream side

const NODES_STREAM = streamOfFamily('nodes');
const RAW_STREAM = 'BENCH_RAW';
const IN_FLIGHT = 256;

/** Size in bytes of the body the relay publishes for one of the benchmark's events. */
function envelopeSize(): number {
  const event = nodeCameOnline('bench-node-00000000');
  const recorded: RecordedEvent = { ...event, streamId: 'bench-node-00000000', revision: 12, position: 123_456, schemaVersion: 1, recordedAt: new Date().toISOString() };
  return encodeEvent('nodes', recorded).body.length;
}

/**
 * How the raw publisher keeps IN_FLIGHT publishes outstanding:
 *  - `halves`: as the relay does: once IN_FLIGHT are unacknowledged, wait for the oldest half;
 *  - `sliding`: once IN_FLIGHT are unacknowledged, wait for the oldest one, then publish one more.
 * The NATS client writes to its socket in a microtask after each synchronous run of publishes, so
 * `sliding` costs a socket write per message and `halves` one per half window.
 */
type RawWindow = 'halves' | 'sliding';

/** Publishes `count` messages of `size` bytes to a scratch stream, IN_FLIGHT at most unacknowledged; messages/s. */
async function rawPublish(bus: Bus, count: number, size: number, mode: RawWindow): Promise<{ rate: number; cpuMicros: number }> {
  await bus.jsm.streams.add({
    name: RAW_STREAM,
    subjects: ['bench.raw.>'],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    duplicate_window: 120 * 1_000_000_000,
  });
  try {
    const payload = new Uint8Array(size).fill(0x78);
    const publishAll = async (n: number, progress?: Progress) => {
      const window: Array<Promise<PubAck>> = [];
      for (let i = 0; i < n; i++) {
        window.push(bus.js.publish('bench.raw.node.NodeCameOnline', payload));
        if (window.length >= IN_FLIGHT) await (mode === 'sliding' ? window.shift() : window.splice(0, IN_FLIGHT / 2).at(-1));
        progress?.tick();
      }
      await Promise.all(window);
    };
    const warmup = Math.min(1000, count);
    await publishAll(warmup);
    const progress = new Progress(`raw JetStream publish (${mode})`, count);
    const cpu = process.cpuUsage();
    const started = performance.now();
    await publishAll(count, progress);
    const rate = count / secondsSince(started);
    const cpuMicros = cpuMicrosPer(cpu, count);
    const { state } = await bus.jsm.streams.info(RAW_STREAM);
    if (state.messages !== count + warmup) throw new Error(`${RAW_STREAM} holds ${state.messages} messages, expected ${count + warmup}`);
    log(
      `raw JetStream publish (${mode} window): ${fmt(rate)} msgs/s (${fmt(count)} messages of ${size} bytes, at most ${IN_FLIGHT} in flight; ` +
        `${cpuMicros} µs of this process's CPU per message)`,
    );
    return { rate, cpuMicros };
  } finally {
    await bus.jsm.streams.delete(RAW_STREAM);
  }
}

/**
 * Relays the whole log of `store` (exactly `count` events) to an empty WEAI_NODES stream while a
 * durable consumer in its own process (`bench/support/event-consumer.ts`: decodeEvent, acks one
 * by one, in order) handles every message, as the consuming service does in the system; returns
 * events/s from relay start until the server has recorded the last ack.
 */
async function relay(bus: Bus, natsUrl: string, store: EventStore, count: number, label: string): Promise<RelayRun> {
  const durable = `bench-relay-${label}`;
  await bus.jsm.streams.purge(NODES_STREAM);
  await bus.jsm.consumers.delete(NODES_STREAM, durable).catch((error: unknown) => {
    if (!isNotFound(error)) throw error;
  });

  const progress = new Progress(`${label} relay → consumer acks`, count);
  const consumer = startChild(`${label} consumer`, 'bench/support/event-consumer.ts', {
    BENCH_NATS_URL: natsUrl,
    BENCH_STREAM: NODES_STREAM,
    BENCH_DURABLE: durable,
    BENCH_COUNT: String(count),
  });
  let errors = 0;
  let published = 0;
  let started = 0;
  let publishSecs = 0;
  const eventRelay = new EventRelay({
    store,
    nc: bus.nc,
    js: bus.js,
    jsm: bus.jsm,
    family: 'nodes',
    onPublished: () => {
      if (++published === count) publishSecs = secondsSince(started);
    },
    onError: (error) => {
      errors++;
      log(`${label} relay error: ${(error as Error).message}`);
    },
  });

  const timeoutMs = Math.max(60_000, count * 2);
  try {
    await consumer.waitFor(/^ready$/m, 30_000);
    const cpu = process.cpuUsage();
    started = performance.now();
    await eventRelay.start();
    // The consumer says when its handler has seen every event; then wait until the server has
    // recorded every ack (a handler runs before its ack is sent).
    let handled: string | undefined;
    const allHandled = consumer.waitFor(/^done .*$/m, timeoutMs).then((line) => (handled = line));
    allHandled.catch(() => undefined);
    const deadline = started + timeoutMs;
    for (;;) {
      // Until the consumer is done, ask the server only for progress, rarely: the questions cost
      // the relay's process CPU.
      if (!handled) await Promise.race([allHandled, new Promise((resolve) => setTimeout(resolve, 250))]).catch(() => undefined);
      const info = await bus.jsm.consumers.info(NODES_STREAM, durable);
      // Purging keeps sequence numbers: count acks by delivery, not by stream sequence.
      progress.set(info.ack_floor.consumer_seq);
      if (handled && info.num_ack_pending === 0 && info.num_pending === 0 && info.ack_floor.stream_seq >= info.delivered.stream_seq) break;
      if (performance.now() > deadline) {
        await allHandled;
        throw new Error(`${label}: relay did not deliver ${count} events within ${timeoutMs / 1000} s (${info.ack_floor.consumer_seq} acked)`);
      }
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    const secs = secondsSince(started);
    const cpuMicros = cpuMicrosPer(cpu, count);
    progress.finish();
    const done = handled;
    const { outOfOrder, cpuMicrosPerEvent: consumerCpuMicros } = JSON.parse(done.slice('done '.length)) as { outOfOrder: number; cpuMicrosPerEvent: number };
    const { state } = await bus.jsm.streams.info(NODES_STREAM);
    if (state.messages !== count) throw new Error(`${label}: ${NODES_STREAM} holds ${state.messages} messages, expected ${count}`);
    if (outOfOrder > 0) throw new Error(`${label}: the consumer saw ${outOfOrder} events out of log order`);
    const rate = count / secs;
    const publishRate = publishSecs > 0 ? count / publishSecs : 0;
    log(
      `${label}: relay: ${fmt(rate)} events/s store → JetStream → consumer ack (${fmt(count)} events in ${secs.toFixed(2)} s); ` +
        `the relay's own publishes were all acknowledged after ${publishSecs.toFixed(2)} s (${fmt(publishRate)} events/s); ` +
        `CPU per event: relay process ${cpuMicros} µs, consumer process ${consumerCpuMicros} µs`,
    );
    return { rate, secs, publishRate, cpuMicros, consumerCpuMicros, errors };
  } catch (error) {
    log(`${label} consumer output:\n${consumer.output()}`);
    throw error;
  } finally {
    await eventRelay.stop();
    await consumer.stop();
    await bus.jsm.consumers.delete(NODES_STREAM, durable).catch(() => undefined);
  }
}

interface RelayRun {
  rate: number;
  secs: number;
  publishRate: number;
  /** µs of the bench process's CPU (the relay) per event. */
  cpuMicros: number;
  /** µs of the consumer process's CPU per event. */
  consumerCpuMicros: number;
  errors: number;
}

// ---------------------------------------------------------------------------------------------
// One backend

interface BackendResult {
  append_single_per_s: number;
  append_8_writers_per_s: number;
  replay_per_s: number;
  relay_per_s: number;
  relay_vs_raw: number;
  relay_publish_per_s: number;
  replay_events: number;
  replay_seconds: number;
  replay_cpu_us_per_event: number;
  relay_events: number;
  relay_seconds: number;
  /** The relay's (this process's) CPU per event. */
  relay_cpu_us_per_event: number;
  /** The consumer process's CPU per event. */
  relay_consumer_cpu_us_per_event: number;
  relay_errors: number;
  seed_per_s: number;
}

type OpenStore = (purpose: 'log' | 'relay') => Promise<EventStore>;

async function benchBackend(label: string, open: OpenStore, options: BenchOptions, bus: Bus, natsUrl: string, rawRate: number): Promise<BackendResult> {
  log(`\n== ${label} ==`);
  // Append and replay on one store: the append runs' events are part of the replayed log.
  const logStore: CountedStore = { store: await open('log'), appended: 0 };
  let single: number;
  let concurrent: number;
  let replayed: Awaited<ReturnType<typeof replay>>;
  let seedRate = 0;
  try {
    single = await appendSingle(logStore, options.appendSeconds, label);
    concurrent = await appendConcurrent(logStore, 8, options.appendSeconds, label);
    const missing = options.replayEvents - logStore.appended;
    if (missing > 0) {
      log(`${label}: seeding ${fmt(missing)} events for the replay (not timed)…`);
      seedRate = await seed(logStore, missing, label);
    }
    replayed = await replay(logStore.store, logStore.appended, label);
  } finally {
    await logStore.store.close();
  }

  // The relay forwards a store's whole log: give it one holding exactly the events to relay.
  const relayLog: CountedStore = { store: await open('relay'), appended: 0 };
  let relayed: Awaited<ReturnType<typeof relay>>;
  try {
    log(`${label}: seeding ${fmt(options.relayEvents)} events for the relay (not timed)…`);
    await seed(relayLog, options.relayEvents, `${label} relay`);
    relayed = await relay(bus, natsUrl, relayLog.store, options.relayEvents, label);
  } finally {
    await relayLog.store.close();
  }

  return {
    append_single_per_s: Math.round(single),
    append_8_writers_per_s: Math.round(concurrent),
    replay_per_s: Math.round(replayed.rate),
    relay_per_s: Math.round(relayed.rate),
    relay_vs_raw: round3(relayed.rate / rawRate),
    relay_publish_per_s: Math.round(relayed.publishRate),
    replay_events: replayed.events,
    replay_seconds: round3(replayed.secs),
    replay_cpu_us_per_event: replayed.cpuMicros,
    relay_events: options.relayEvents,
    relay_seconds: round3(relayed.secs),
    relay_cpu_us_per_event: relayed.cpuMicros,
    relay_consumer_cpu_us_per_event: relayed.consumerCpuMicros,
    relay_errors: relayed.errors,
    seed_per_s: Math.round(seedRate),
  };
}


// ---------------------------------------------------------------------------------------------
// Main

const POSTGRES_URL = process.env['BENCH_POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';

async function postgresAdmin(): Promise<DataSource> {
  const admin = new DataSource({ type: 'postgres', url: POSTGRES_URL, extra: { max: 1, connectionTimeoutMillis: 5000 } });
  try {
    await admin.initialize();
  } catch (error) {
    throw new Error(`cannot connect to PostgreSQL at ${POSTGRES_URL} (${(error as Error).message}); set BENCH_POSTGRES_URL`, { cause: error });
  }
  return admin;
}

async function main(options: BenchOptions, cleanup: Cleanup): Promise<void> {
  const started = performance.now();
  const loadAtStart = round3(loadavg()[0] ?? 0);
  const cpuList = cpus();
  log(
    `event store benchmark${options.quick ? ' (quick)' : ''}: ${cpuList.length} CPUs, node ${process.version}; ` +
      `replay ${fmt(options.replayEvents)} events, relay ${fmt(options.relayEvents)} events, raw publish ${fmt(options.rawMessages)} messages, ` +
      `${options.appendSeconds} s per append run`,
  );

  const admin = await postgresAdmin();
  cleanup.add('close the PostgreSQL admin connection', () => admin.destroy());
  const [pgVersion] = (await admin.query('SHOW server_version')) as Array<{ server_version: string }>;
  const schemas = { log: `weai_bench_${process.pid}`, relay: `weai_bench_${process.pid}_relay` };
  cleanup.add('drop the PostgreSQL bench schemas', async () => {
    for (const schema of Object.values(schemas)) await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  });

  const dir = mkdtempSync(join(tmpdir(), 'weai-bench-'));
  cleanup.add('remove the SQLite folder', () => rmSync(dir, { recursive: true, force: true }));

  log('starting a private nats-server…');
  const nats: TestNatsServer = await startNatsServer();
  cleanup.add('stop nats-server', () => nats.stop());
  const bus = await connectBus({ servers: nats.url, name: 'weai-bench-eventstore' });
  cleanup.add('close the NATS connection', () => bus.close());
  await ensureStreams(bus.jsm);

  const size = envelopeSize();
  const raw = await rawPublish(bus, options.rawMessages, size, 'halves');
  const rawSliding = await rawPublish(bus, options.rawMessages, size, 'sliding');
  const rawRate = raw.rate;
  const rawSlidingRate = rawSliding.rate;

  const sqlite = await benchBackend('sqlite', (purpose) => openSqlEventStore({ type: 'sqlite', path: join(dir, `${purpose}.sqlite`) }), options, bus, nats.url, rawRate);
  const postgres = await benchBackend(
    'postgres',
    async (purpose) => {
      await admin.query(`DROP SCHEMA IF EXISTS ${schemas[purpose]} CASCADE`);
      return openSqlEventStore({ type: 'postgres', url: POSTGRES_URL, schema: schemas[purpose] });
    },
    options,
    bus,
    nats.url,
    rawRate,
  );

  const relayVsRaw = Math.min(sqlite.relay_per_s, postgres.relay_per_s) / rawRate;
  const result = {
    machine: {
      cpus: cpuList.length,
      cpu_model: cpuList[0]?.model ?? 'unknown',
      memory_gib: round3(totalmem() / 2 ** 30),
      node: process.version,
      platform: `${platform()}-${arch()}`,
      loadavg_1m_at_start: loadAtStart,
      loadavg_1m_at_end: round3(loadavg()[0] ?? 0),
      nats_server: bus.nc.info?.version ?? 'unknown',
      postgres: pgVersion?.server_version ?? 'unknown',
    },
    params: {
      quick: options.quick,
      replay_events: options.replayEvents,
      replay_page: 10_000,
      relay_events: options.relayEvents,
      relay_consumer_concurrency: 1,
      relay_consumer: 'own process (bench/support/event-consumer.ts), as the consuming service is in the system',
      raw_messages: options.rawMessages,
      raw_message_bytes: size,
      raw_in_flight: IN_FLIGHT,
      raw_window: 'halves: once 256 are unacknowledged, wait for the oldest 128 (as the relay does)',
      append_seconds: options.appendSeconds,
    },
    sqlite,
    postgres,
    raw_jetstream_publish_per_s: Math.round(rawRate),
    raw_jetstream_publish_sliding_window_per_s: Math.round(rawSlidingRate),
    raw_jetstream_cpu_us_per_msg: raw.cpuMicros,
    raw_jetstream_sliding_window_cpu_us_per_msg: rawSliding.cpuMicros,
    relay_vs_raw_jetstream: round3(relayVsRaw),
    goals: {
      replay_sqlite_ge_100k: sqlite.replay_per_s >= 100_000,
      relay_ge_half_raw: relayVsRaw >= 0.5,
    },
    total_seconds: round3(secondsSince(started)),
  };
  log(
    `\nsummary: sqlite append ${fmt(sqlite.append_single_per_s)}/s single, ${fmt(sqlite.append_8_writers_per_s)}/s 8 writers, ` +
      `replay ${fmt(sqlite.replay_per_s)}/s, relay ${fmt(sqlite.relay_per_s)}/s; ` +
      `postgres append ${fmt(postgres.append_single_per_s)}/s single, ${fmt(postgres.append_8_writers_per_s)}/s 8 writers, ` +
      `replay ${fmt(postgres.replay_per_s)}/s, relay ${fmt(postgres.relay_per_s)}/s; raw JetStream ${fmt(rawRate)}/s ` +
      `(sliding window ${fmt(rawSlidingRate)}/s); ` +
      `relay/raw ${relayVsRaw.toFixed(2)}; ${result.total_seconds.toFixed(0)} s in all`,
  );
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

runBench(parseArgs, USAGE, main);
