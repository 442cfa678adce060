/**
 * Node network scale benchmark (issue 3): what the control plane pays for N agents.
 *
 * One simulator process plays N node agents over a few multiplexed NATS connections against the
 * real nodes service, started as its own process on a private nats-server with the default
 * embedded store (SQLite in a temporary folder):
 *
 *   1. registration: every node gets a fresh Ed25519 key and registers with a signed request,
 *      64 in flight, then reports a CPU capability (also signed): `registration_per_s`;
 *   2. ramp: every node heartbeats at its own phase of the period (`allowsWork: true`) until the
 *      service counts all of them online and the events of the ramp have left the relay and the
 *      read-model projection;
 *   3. steady window: heartbeats go on for `--duration-s`; the service's CPU seconds over the
 *      window (its stats RPC, cross-checked with /proc) divided by the wall time is
 *      `control_plane_cores`. Meanwhile ~1.5 % of the nodes, at random times, stop heartbeating;
 *      the time from a node's last heartbeat until its NodeWentOffline event is seen on WEAI_NODES
 *      is `offline_detect_ms`; then it resumes and its NodeCameOnline is awaited.
 *
 * Progress goes to stderr; the last line of stdout is one JSON object with the numbers.
 *
 *   npm run bench:nodes                          # 10,000 nodes, 10 s period, 40 s window
 *   npm run bench:nodes -- --quick               # 1,000 nodes, 2 s period, 12 s window
 *   npm run bench:nodes -- --nodes 20000 --duration-s 60
 *
 * The service is told to declare a node offline after 1.5 heartbeat periods of silence and to
 * sweep every tenth of a period (15 s and 1 s for the default 10 s period, the service's own
 * defaults); NODES_OFFLINE_AFTER_MS and NODES_SWEEP_MS in the environment override that.
 * Needs /usr/sbin/nats-server (or NATS_SERVER_BIN); everything it starts is stopped and every
 * temporary folder removed at the end, also on failure or Ctrl-C.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { arch, cpus, loadavg, platform, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { randomInt } from 'node:crypto';
import { DeliverPolicy, type ConsumerMessages } from '@nats-io/jetstream';
import { fromPublic } from '@nats-io/nkeys';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { NODE_RPC, TELEMETRY_STREAM, streamOfFamily } from '@weai/contracts';
import { type Bus, connectBus, ensureStreams, requestJson } from '@weai/messaging';
import { startNatsServer } from '@weai/messaging/src/testing/nats-server';
import { startChild } from './support/child';
import { fastIdentity } from './support/fast-identity';
import { SimulatedFleet } from './support/fleet';
import { findChildPid, sampleProcess, type ProcSample } from './support/proc';
import { type Cleanup, UsageError, distribution, fmt, log, round1, round3, runBench, secondsSince, sleep } from './support/run';

// ---------------------------------------------------------------------------------------------
// Options

interface BenchOptions {
  readonly quick: boolean;
  readonly nodes: number;
  readonly periodS: number;
  /** The steady window, seconds. */
  readonly durationS: number;
  /** Share of the nodes that go offline and come back during the window, percent. */
  readonly churnPct: number;
  /** NATS connections the simulated nodes share. */
  readonly connections: number;
  /** Where the nodes service writes a V8 CPU profile (`node --cpu-prof`), if asked. */
  readonly serviceCpuProf: string | undefined;
}

const USAGE = `usage: npm run bench:nodes [-- [--quick] [--nodes N] [--period-s S] [--duration-s D] [--churn-pct P] [--connections C] [--service-cpu-prof DIR]]

  --quick                 smoke run: 1,000 nodes, 2 s period, 12 s window
  --nodes N               simulated nodes, 10 to 1,000,000 (default 10,000; underscores allowed)
  --period-s S            heartbeat period in seconds, 0.5 to 300 (default 10)
  --duration-s D          steady window in seconds, at least 3 periods, at most 3,600
                          (default 40, or 3 periods if that is longer)
  --churn-pct P           percent of the nodes that go offline and come back, 0.1 to 20 (default 1.5)
  --connections C         NATS connections the simulated nodes share, 1 to 64 (default 4)
  --service-cpu-prof DIR  run the nodes service under node --cpu-prof, writing the profile to DIR
  --help                  this text`;

function parseNumber(flag: string, value: string | undefined, min: number, max: number, integer: boolean): number {
  if (value === undefined || value === '' || value.startsWith('--')) throw new UsageError(`${flag} needs a value`);
  const text = value.replace(/_/g, '');
  const n = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text) || !Number.isFinite(n) || (integer && !Number.isSafeInteger(n))) {
    throw new UsageError(`${flag} must be a ${integer ? 'whole number' : 'number'}, got ${JSON.stringify(value)}`);
  }
  if (n < min || n > max) throw new UsageError(`${flag} must be from ${min.toLocaleString('en-US')} to ${max.toLocaleString('en-US')}, got ${value}`);
  return n;
}

function parseArgs(argv: readonly string[]): BenchOptions | 'help' {
  const given = new Map<string, string | undefined>();
  let quick = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') return 'help';
    if (arg === '--quick') {
      if (quick) throw new UsageError('--quick given twice');
      quick = true;
      continue;
    }
    const [flag, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    if (!['--nodes', '--period-s', '--duration-s', '--churn-pct', '--connections', '--service-cpu-prof'].includes(flag)) {
      throw new UsageError(`unknown argument ${JSON.stringify(arg)}`);
    }
    if (given.has(flag)) throw new UsageError(`${flag} given twice`);
    given.set(flag, inline ?? argv[++i]);
  }
  const opt = (flag: string, min: number, max: number, integer: boolean) =>
    given.has(flag) ? parseNumber(flag, given.get(flag), min, max, integer) : undefined;
  const nodes = opt('--nodes', 10, 1_000_000, true) ?? (quick ? 1_000 : 10_000);
  const periodS = opt('--period-s', 0.5, 300, false) ?? (quick ? 2 : 10);
  const durationS = opt('--duration-s', 1, 3_600, false) ?? Math.max(quick ? 12 : 40, 3 * periodS);
  if (durationS < 3 * periodS) {
    throw new UsageError(`--duration-s must be at least 3 heartbeat periods (${3 * periodS} s with --period-s ${periodS}), got ${durationS}`);
  }
  const churnPct = opt('--churn-pct', 0.1, 20, false) ?? 1.5;
  const connections = opt('--connections', 1, 64, true) ?? 4;
  let serviceCpuProf: string | undefined;
  if (given.has('--service-cpu-prof')) {
    const folder = given.get('--service-cpu-prof');
    if (!folder || folder.startsWith('--')) throw new UsageError('--service-cpu-prof needs a folder');
    serviceCpuProf = resolve(folder);
  }
  return { quick, nodes, periodS, durationS, churnPct, connections, serviceCpuProf };
}

// ---------------------------------------------------------------------------------------------
// The control plane, seen from outside

const NODES_STREAM = streamOfFamily('nodes');
const REGISTRATION_CONCURRENCY = 64;

/** What `weai.rpc.nodes.stats` answers. */
interface NodesStats {
  heartbeats: number;
  malformed: number;
  unknownNodes: number;
  transitions: number;
  failures: number;
  online: number;
  cpuSeconds: number;
  rssBytes: number;
  uptimeSeconds: number;
}

const stats = (bus: Bus) => requestJson<NodesStats>(bus.nc, NODE_RPC.stats, {}, 10_000);

/** CPU and memory of the three processes at one moment. */
interface Sample {
  readonly at: number;
  readonly service: ProcSample | undefined;
  readonly nats: ProcSample | undefined;
  readonly simulatorCpuSeconds: number;
}

function sample(servicePid: number, natsPid: number | undefined): Sample {
  const cpu = process.cpuUsage();
  return { at: performance.now(), service: sampleProcess(servicePid), nats: sampleProcess(natsPid), simulatorCpuSeconds: (cpu.user + cpu.system) / 1e6 };
}

/** Cores used between two samples: [service, nats-server, simulator]; NaN where /proc had nothing. */
function coresBetween(a: Sample, b: Sample): { service: number; nats: number; simulator: number } {
  const wall = (b.at - a.at) / 1000;
  const cores = (x: ProcSample | undefined, y: ProcSample | undefined) => (x && y ? (y.cpuSeconds - x.cpuSeconds) / wall : NaN);
  return { service: cores(a.service, b.service), nats: cores(a.nats, b.nats), simulator: (b.simulatorCpuSeconds - a.simulatorCpuSeconds) / wall };
}

/**
 * The node events, as the rest of the system sees them: an ordered consumer on WEAI_NODES from
 * now on. Only the subject (`weai.evt.nodes.<nodeId>.<Type>`) is read, and the body of the few
 * NodeWentOffline events, so the watcher costs the simulator next to nothing.
 */
async function watchNodeEvents(bus: Bus, onEvent: (type: string, nodeId: string, observedAt: number, body: () => unknown) => void) {
  const consumer = await bus.js.consumers.get(NODES_STREAM, { deliver_policy: DeliverPolicy.New });
  const messages: ConsumerMessages = await consumer.consume();
  const pump = (async () => {
    for await (const m of messages) {
      const [, , , nodeId, type] = m.subject.split('.');
      if (nodeId && type) onEvent(type, nodeId, performance.now(), () => m.json());
    }
  })();
  return {
    async close() {
      await messages.close();
      await pump;
    },
  };
}

/** Messages of WEAI_TELEMETRY not yet delivered to its consumers (the service's heartbeat reader). */
async function telemetryConsumersPending(bus: Bus): Promise<number> {
  let pending = 0;
  for await (const consumer of await bus.jsm.consumers.list(TELEMETRY_STREAM)) pending += consumer.num_pending;
  return pending;
}

/**
 * The last sequence of WEAI_NODES if every consumer of it (the read-model projection among them)
 * has been delivered everything and it holds at least `expectedMessages`, else undefined.
 */
async function nodeEventsDelivered(bus: Bus, expectedMessages: number): Promise<number | undefined> {
  const { state } = await bus.jsm.streams.info(NODES_STREAM);
  if (state.messages < expectedMessages) return undefined;
  for await (const consumer of await bus.jsm.consumers.list(NODES_STREAM)) {
    if (consumer.num_pending > 0 || consumer.delivered.stream_seq < state.last_seq) return undefined;
  }
  return state.last_seq;
}

/**
 * Checks the simulator's keys with `@nats-io/nkeys` before trusting them to thousands of nodes:
 * `fromPublic` checks the prefix and checksum, and its (tweetnacl) verify of a node:crypto
 * signature checks the key bytes.
 */
function checkNkeyEncoding(): void {
  for (let i = 0; i < 16; i++) {
    const identity = fastIdentity();
    const data = Buffer.from(`weai-bench-${i}`);
    if (!fromPublic(identity.publicKey).verify(data, identity.sign(data))) throw new Error(`@nats-io/nkeys does not accept ${identity.publicKey} or its signature`);
  }
}

// ---------------------------------------------------------------------------------------------
// Churn: nodes that go silent and come back

interface Churned {
  readonly index: number;
  /** When to silence it, ms after the window starts. */
  readonly silenceAfterMs: number;
  silencedAt?: number;
  lastHeartbeatAt?: number;
  offlineSeenAt?: number;
  /** `occurredAt` of its NodeWentOffline: when the service decided. */
  offlineDecidedAt?: number;
  resumedAt?: number;
  onlineSeenAt?: number;
}

/** `count` distinct random indices below `n`. */
function pickDistinct(n: number, count: number): number[] {
  const picked = new Set<number>();
  while (picked.size < count) picked.add(randomInt(n));
  return [...picked];
}

/**
 * Every node starts heartbeating within one period: a cold start of the whole fleet, one
 * transition per node. Returns once every node is online, no transition is being written any
 * more and the events have gone through the relay and every WEAI_NODES consumer (the read-model
 * projection among them).
 */
async function rampUp(bus: Bus, fleet: SimulatedFleet, falseOffline: () => number) {
  const nodes = fleet.size;
  log('heartbeats on; waiting until every node is online, no transition is pending and the events are relayed and projected…');
  const started = performance.now();
  fleet.startHeartbeats();
  const timeoutMs = 10 * fleet.periodMs + 300_000;
  let onlineAfterS: number | undefined;
  let last: NodesStats;
  // Settled: for three polls in a row (1.5 s) all online, no new transition, nothing new on WEAI_NODES
  // (the relay may publish a backlog long after the transitions were written) and all of it delivered.
  let quietPolls = 0;
  for (let lastLog = 0, previous = ''; ; ) {
    await sleep(500);
    last = await stats(bus);
    if (onlineAfterS === undefined && last.online >= nodes) onlineAfterS = secondsSince(started);
    // Per node at least NodeRegistered, NodeCapabilitiesReported, NodeCameOnline, NodeBecameAvailable.
    const delivered = last.online === nodes ? await nodeEventsDelivered(bus, 4 * nodes) : undefined;
    const now = `${last.transitions}/${delivered}`;
    quietPolls = delivered !== undefined && now === previous ? quietPolls + 1 : 0;
    previous = now;
    if (quietPolls >= 3) break;
    if (performance.now() - lastLog >= 2000) {
      lastLog = performance.now();
      log(
        `  ramp: ${fmt(last.online)}/${fmt(nodes)} online, ${fmt(last.transitions)} transitions, ` +
          `${fmt(falseOffline())} false offline, ${secondsSince(started).toFixed(1)} s`,
      );
    }
    if (performance.now() - started > timeoutMs) {
      throw new Error(`only ${last.online} of ${nodes} nodes online after ${timeoutMs / 1000} s (${last.failures} failed transitions)`);
    }
  }
  const settledS = secondsSince(started);
  // Heartbeats WEAI_TELEMETRY replaced (it keeps one per node) before the service read them.
  const neverHandled = fleet.heartbeatsSent - (last.heartbeats + last.malformed + last.unknownNodes);
  log(
    `ramp: all ${fmt(nodes)} online after ${onlineAfterS!.toFixed(1)} s, settled after ${settledS.toFixed(1)} s; ` +
      `${fmt(falseOffline())} nodes wrongly declared offline, ${fmt(neverHandled)} heartbeats never handled`,
  );
  return { onlineAfterS: onlineAfterS!, settledS, transitions: last.transitions, neverHandled };
}

// ---------------------------------------------------------------------------------------------
// Main

async function main(options: BenchOptions, cleanup: Cleanup): Promise<void> {
  const started = performance.now();
  const { nodes, periodS, durationS } = options;
  const periodMs = periodS * 1000;
  const offlineAfterMs = Number(process.env['NODES_OFFLINE_AFTER_MS'] ?? Math.round(1.5 * periodMs));
  const sweepMs = Number(process.env['NODES_SWEEP_MS'] ?? Math.max(10, Math.round(periodMs / 10)));
  if (!Number.isSafeInteger(offlineAfterMs) || offlineAfterMs < 100) {
    throw new UsageError(`NODES_OFFLINE_AFTER_MS must be a whole number of milliseconds, at least 100, got ${process.env['NODES_OFFLINE_AFTER_MS']}`);
  }
  if (!Number.isSafeInteger(sweepMs) || sweepMs < 10 || sweepMs > offlineAfterMs) {
    throw new UsageError(`NODES_SWEEP_MS must be a whole number of milliseconds from 10 to the offline period, got ${process.env['NODES_SWEEP_MS']}`);
  }
  const cpuList = cpus();
  const loadAtStart = loadavg()[0] ?? 0;
  log(
    `nodes scale benchmark${options.quick ? ' (quick)' : ''}: ${fmt(nodes)} nodes, heartbeat every ${periodS} s, ` +
      `${durationS} s steady window, ${options.churnPct} % churn, ${options.connections} NATS connections; ` +
      `offline after ${offlineAfterMs} ms, sweep every ${sweepMs} ms; ${cpuList.length} CPUs, node ${process.version}`,
  );
  checkNkeyEncoding();
  // With --service-cpu-prof, phase boundaries on the clock V8 profiles use (CLOCK_MONOTONIC, µs).
  const mark = (what: string) => {
    if (options.serviceCpuProf) log(`  [profile mark] ${what} at ${process.hrtime.bigint() / 1000n} µs`);
  };

  const dir = mkdtempSync(join(tmpdir(), 'weai-bench-nodes-'));
  cleanup.add('remove the temporary folder', () => rmSync(dir, { recursive: true, force: true }));
  log('starting a private nats-server…');
  const nats = await startNatsServer();
  cleanup.add('stop nats-server', () => nats.stop());
  const natsPid = findChildPid('nats-server');
  const bus = await connectBus({ servers: nats.url, name: 'weai-bench-nodes' });
  cleanup.add('close the bench connection', () => bus.close());
  await ensureStreams(bus.jsm);

  log('starting the nodes service…');
  const service = startChild(
    'nodes service',
    'services/nodes/src/main.ts',
    {
      NATS_URL: nats.url,
      WEAI_DATA_DIR: join(dir, 'nodes'),
      NODES_OFFLINE_AFTER_MS: String(offlineAfterMs),
      NODES_SWEEP_MS: String(sweepMs),
      // The bench measures the default embedded store, whatever this shell points services at.
      EVENT_STORE_URL: undefined,
      READ_MODEL_URL: undefined,
      WEAI_STREAM_REPLICAS: undefined,
    },
    {
      nodeArgs: options.serviceCpuProf ? ['--cpu-prof', '--cpu-prof-dir', options.serviceCpuProf] : [],
      onLine: (line) => {
        if (/\b(ERROR|WARN)\b|failed|Error/.test(line)) log(`  [nodes service] ${line}`);
      },
    },
  );
  let stopping = false;
  cleanup.add('stop the nodes service', () => {
    stopping = true;
    return service.stop();
  });
  void service.exited.then((code) => {
    if (!stopping) log(`! the nodes service exited (${code}) during the run; its last output:\n${service.output().slice(-4000)}`);
  });
  await service.waitFor(/nodes service ready/, 120_000);

  const connections: NatsConnection[] = [];
  cleanup.add('close the simulated nodes\' connections', () => Promise.all(connections.map((nc) => nc.close())));
  for (let c = 0; c < options.connections; c++) connections.push(await connect({ servers: nats.url, name: `weai-bench-nodes-sim-${c}`, maxReconnectAttempts: -1 }));
  const fleet = new SimulatedFleet(connections, nodes, periodMs);
  cleanup.add('stop heartbeats', () => fleet.stopHeartbeats());

  // 1. Registration.
  const progressEvery = (label: string, total: number) => {
    let last = performance.now();
    const since = last;
    return (done: number) => {
      const now = performance.now();
      if (now - last < 2000 && done < total) return;
      last = now;
      log(`  ${label}: ${fmt(done)}/${fmt(total)}, ${fmt(done / ((now - since) / 1000))}/s`);
    };
  };
  mark('registration');
  log(`registering ${fmt(nodes)} nodes, ${REGISTRATION_CONCURRENCY} requests in flight…`);
  const registered = await fleet.registerAll(REGISTRATION_CONCURRENCY, progressEvery('registered', nodes));
  log(`registration: ${fmt(registered.perSecond)} nodes/s (${registered.seconds.toFixed(1)} s, ${registered.retries} retries)`);
  mark('capabilities');
  const reported = await fleet.reportAllCapabilities(REGISTRATION_CONCURRENCY, progressEvery('capabilities reported', nodes));
  log(`capability reports: ${fmt(reported.perSecond)} nodes/s (${reported.seconds.toFixed(1)} s, ${reported.retries} retries)`);

  // The churn plan, and the watcher that times it and catches false offlines from now on.
  const churned = pickDistinct(nodes, Math.max(1, Math.round((nodes * options.churnPct) / 100))).map(
    (index): Churned => ({ index, silenceAfterMs: randomInt(Math.max(1, Math.round((durationS - 2 * periodS) * 1000))) }),
  );
  const churnOf = new Map(churned.map((c) => [c.index, c]));
  // Nodes declared offline although they kept heartbeating, during the ramp and during the window.
  const falseOffline = { ramp: 0, window: 0 };
  let phase: keyof typeof falseOffline = 'ramp';
  const watcher = await watchNodeEvents(bus, (type, nodeId, observedAt, body) => {
    if (type !== 'NodeWentOffline' && type !== 'NodeCameOnline') return;
    const index = fleet.indexOf(nodeId);
    const c = index === undefined ? undefined : churnOf.get(index);
    if (type === 'NodeWentOffline') {
      if (!c || c.silencedAt === undefined || c.offlineSeenAt !== undefined) {
        if (++falseOffline[phase] <= 3) log(`  ! ${nodeId} went offline while heartbeating (${phase})`);
        return;
      }
      c.offlineSeenAt = observedAt;
      const occurredAt = (body() as { metadata?: { occurredAt?: unknown } }).metadata?.occurredAt;
      if (typeof occurredAt === 'string') c.offlineDecidedAt = Date.parse(occurredAt) - performance.timeOrigin;
      c.resumedAt = fleet.resume(c.index);
    } else if (c && c.resumedAt !== undefined && c.onlineSeenAt === undefined) {
      c.onlineSeenAt = observedAt;
    }
  });
  cleanup.add('close the event watcher', () => watcher.close());

  // 2. Ramp.
  mark('ramp');
  const ramp = await rampUp(bus, fleet, () => falseOffline.ramp);
  // Let whatever the ramp left behind (projection batches, garbage) finish before measuring.
  const settleS = Math.min(periodS, 10);
  mark('settle');
  const settleStart = sample(service.pid, natsPid);
  await sleep(settleS * 1000);
  log(`settled for ${settleS} s: nodes service ${coresBetween(settleStart, sample(service.pid, natsPid)).service.toFixed(3)} cores`);
  phase = 'window';

  // 3. Steady window with churn.
  log(`steady window: ${durationS} s; ${churned.length} nodes go silent at random times in its first ${durationS - 2 * periodS} s`);
  const before = await stats(bus);
  const sampleBefore = sample(service.pid, natsPid);
  const sentBefore = fleet.heartbeatsSent;
  const windowStart = performance.now();
  mark('window');
  const timers = churned.map((c) =>
    setTimeout(() => {
      c.lastHeartbeatAt = fleet.silence(c.index);
      c.silencedAt = performance.now();
    }, c.silenceAfterMs),
  );
  cleanup.add('cancel churn timers', () => timers.forEach(clearTimeout));
  const tickMs = Math.min(5, periodS) * 1000;
  let previous = sampleBefore;
  let previousStats = before;
  while (performance.now() - windowStart < durationS * 1000 - 1) {
    await sleep(Math.min(tickMs, durationS * 1000 - (performance.now() - windowStart)));
    const now = sample(service.pid, natsPid);
    const s = await stats(bus);
    const cores = coresBetween(previous, now);
    const wall = (now.at - previous.at) / 1000;
    log(
      `  ${secondsSince(windowStart).toFixed(1)} s: ${fmt((s.heartbeats - previousStats.heartbeats) / wall)} heartbeats/s handled; ` +
        `cores: nodes service ${cores.service.toFixed(3)}, nats-server ${cores.nats.toFixed(3)}, simulator ${cores.simulator.toFixed(3)}; ` +
        `${fmt(s.online)} online; churn: ${churned.filter((c) => c.silencedAt !== undefined).length} silent, ` +
        `${churned.filter((c) => c.offlineSeenAt !== undefined).length} seen offline, ${churned.filter((c) => c.onlineSeenAt !== undefined).length} back`,
    );
    previous = now;
    previousStats = s;
  }
  const after = await stats(bus);
  const sampleAfter = sample(service.pid, natsPid);
  mark('window end');
  const telemetryPending = await telemetryConsumersPending(bus);
  const sentInWindow = fleet.heartbeatsSent - sentBefore;
  const windowS = (sampleAfter.at - sampleBefore.at) / 1000;

  // Stragglers: every silenced node seen offline and back, or give up after three periods.
  const waitUntil = performance.now() + Math.max(3 * periodMs, 10_000);
  while (churned.some((c) => c.onlineSeenAt === undefined) && performance.now() < waitUntil) await sleep(100);
  fleet.stopHeartbeats();
  const end = await stats(bus);

  // Numbers.
  const cpuSeconds = after.cpuSeconds - before.cpuSeconds;
  const handled = after.heartbeats - before.heartbeats;
  const cores = coresBetween(sampleBefore, sampleAfter);
  const detect = distribution(churned.filter((c) => c.offlineSeenAt !== undefined).map((c) => c.offlineSeenAt! - c.lastHeartbeatAt!));
  const decided = distribution(churned.filter((c) => c.offlineDecidedAt !== undefined).map((c) => c.offlineDecidedAt! - c.lastHeartbeatAt!));
  const backOnline = distribution(churned.filter((c) => c.onlineSeenAt !== undefined).map((c) => c.onlineSeenAt! - c.resumedAt!));
  const controlPlaneCores = cpuSeconds / windowS;
  const allDetected = detect.samples === churned.length;
  const result = {
    nodes,
    heartbeat_period_s: periodS,
    heartbeats_per_s_handled: Math.round(handled / windowS),
    control_plane_cpu_s_per_1000_heartbeats: round3(cpuSeconds / (handled / 1000)),
    control_plane_cores: round3(controlPlaneCores),
    offline_detect_ms: detect,
    nodes_service_rss_mb: round1(after.rssBytes / 2 ** 20),
    registration_per_s: Math.round(registered.perSecond),
    goals: {
      under_half_core: controlPlaneCores < 0.5,
      offline_p99_within_2_periods: allDetected && detect.p99 <= 2 * periodMs,
    },
    steady_window_s: round1(windowS),
    offline_after_ms: offlineAfterMs,
    sweep_ms: sweepMs,
    nats_connections: options.connections,
    capabilities_per_s: Math.round(reported.perSecond),
    registration_retries: registered.retries + reported.retries,
    heartbeats_sent_per_s: Math.round(sentInWindow / windowS),
    // Heartbeats published but not yet read by the service when the window closed.
    telemetry_pending_at_window_end: telemetryPending,
    ramp: {
      online_after_s: round1(ramp.onlineAfterS),
      settled_after_s: round1(ramp.settledS),
      transitions: ramp.transitions,
      false_offline: falseOffline.ramp,
      // Replaced in WEAI_TELEMETRY (one message per node) before the service read them: it lagged a period behind.
      heartbeats_never_handled: ramp.neverHandled,
    },
    offline_decided_ms: decided,
    back_online_ms: backOnline,
    churn: {
      silenced: churned.length,
      seen_offline: detect.samples,
      back_online: backOnline.samples,
      false_offline: falseOffline.window,
      transitions_in_window: after.transitions - before.transitions,
      failed_transitions: end.failures,
    },
    control_plane_cores_proc: round3(cores.service),
    nats_server_cores: round3(cores.nats),
    nats_server_rss_mb: sampleAfter.nats ? round1(sampleAfter.nats.rssBytes / 2 ** 20) : null,
    simulator_cores: round3(cores.simulator),
    machine: {
      cpus: cpuList.length,
      cpu_model: cpuList[0]?.model ?? 'unknown',
      memory_gib: round1(totalmem() / 2 ** 30),
      node: process.version,
      platform: `${platform()}-${arch()}`,
      nats_server: bus.nc.info?.version ?? 'unknown',
      // Other work on the machine competes for the same cores: a load well above the bench's own shows it.
      loadavg_1m_at_start: round1(loadAtStart),
      loadavg_1m_at_end: round1(loadavg()[0] ?? 0),
    },
    total_seconds: round1(secondsSince(started)),
  };
  if (!allDetected) log(`! ${churned.length - detect.samples} silenced nodes were never seen going offline`);
  if (falseOffline.window > 0) log(`! ${falseOffline.window} heartbeating nodes were declared offline during the window`);
  if (falseOffline.ramp > 0) log(`! ${falseOffline.ramp} heartbeating nodes were declared offline during the ramp`);
  log(
    `\nsummary: ${fmt(nodes)} nodes, ${fmt(result.heartbeats_per_s_handled)} heartbeats/s handled; nodes service ${controlPlaneCores.toFixed(3)} cores ` +
      `(${result.control_plane_cpu_s_per_1000_heartbeats} CPU s per 1,000 heartbeats, ${result.nodes_service_rss_mb} MB RSS), ` +
      `nats-server ${cores.nats.toFixed(3)} cores, simulator ${cores.simulator.toFixed(3)} cores; ` +
      `offline seen after ${fmt(detect.median)} ms median, ${fmt(detect.p99)} ms p99 (${detect.samples}/${churned.length}); ` +
      `registration ${fmt(registered.perSecond)}/s; goals: under half a core ${result.goals.under_half_core ? 'met' : 'MISSED'}, ` +
      `offline p99 within two periods ${result.goals.offline_p99_within_2_periods ? 'met' : 'MISSED'}`,
  );
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

runBench(parseArgs, USAGE, main);
