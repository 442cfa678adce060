/**
 * Scale-out benchmark (issue 9), on one machine with real processes: a 3-node nats-server cluster
 * (every stream R3), the nodes, scheduler and rewards services with leader election on (each
 * service's replicas share a PostgreSQL event store), and agents (bench/scale/network.ts).
 *
 *   1. `noop_shards_per_s.replicas_1` / `replicas_2`: a job of `--shards` no-op shards (an
 *      Identity model over float32 [N, 4], shard size 1, redundancy { replicas: 1, spotCheckRate:
 *      0 }) with one replica of each service, then with two: shards ÷ (submit accepted →
 *      JobCompleted in the jobs stream). A small untimed job first makes the agents trusted.
 *   2. `recovery_ms`: with two replicas of each service and a stream of no-op jobs running, the
 *      bench kills (SIGKILL) in turn `--kills` NATS servers (n1, n2, n3…), one non-leading replica
 *      of each service, and each service's leader, and times each kill → progress: the stream the
 *      killed part feeds has grown by `--progress` events past its count at the kill (ShardValidated
 *      in WEAI_JOBS; RewardAccrued in WEAI_REWARDS for rewards). The nodes leader's relay has
 *      nothing to publish while no node changes, so its recovery is the election of the next
 *      leader (`leader_takeover_ms`, timed for every leader kill). Whatever was killed is started
 *      again (a restart policy; the NATS server rejoins and catches up) before the next kill.
 *
 * Progress goes to stderr; the last line of stdout is one JSON object with every number.
 *
 *   npm run bench:scale                          # 1,000-shard jobs, 3 kills of each kind
 *   npm run bench:scale -- --shards 10000 --kills 6 --load-shards 2000
 *
 * Needs /usr/sbin/nats-server (or NATS_SERVER_BIN) and PostgreSQL (POSTGRES_URL, default
 * postgres://postgres@127.0.0.1:5432/postgres). Every process it starts is stopped and every
 * database and folder removed at the end, also on failure, Ctrl-C or SIGTERM.
 */
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { streamOfFamily } from '@weai/contracts';
import { identityModel } from '@weai/node-agent/src/onnx/reference-model';
import { PartnerClient } from '@weai/sdk';
import { type Tensor, float32Tensor } from '@weai/tensors';
import { type Cleanup, UsageError, distribution, fmt, log, round1, runBench, sleep } from '../support/run';
import { SERVICES, ScaleNetwork, type ServiceName } from './network';

interface Options {
  readonly shards: number;
  readonly kills: number;
  readonly loadShards: number;
  readonly progress: number;
  readonly agents: number;
  readonly slots: number;
  readonly ttlMs: number;
}

const USAGE = `usage: npm run bench:scale [-- [--shards N] [--kills N] [--load-shards N] [--progress N] [--agents N] [--slots N] [--ttl-ms N]]

  --shards N       shards of each timed no-op job (default 1,000), 100 to 200,000
  --kills N        kills of each kind: NATS servers, non-leading replicas, leaders (default 3; services
                   and servers are taken in turn), 1 to 30
  --load-shards N  shards of each job of the load that runs during the kills (default 500)
  --progress N     events past the count at a kill that count as recovered (default 20)
  --agents N       agents (default 2), 1 to 8;  --slots N  slots of each (default 16), 1 to 64
  --ttl-ms N       leader lease TTL (WEAI_LEADER_TTL_MS, default 3,000)
  --help           this text`;

function parseArgs(argv: readonly string[]): Options | 'help' {
  const o = { shards: 1000, kills: 3, loadShards: 500, progress: 20, agents: 2, slots: 16, ttlMs: 3000 };
  const flags: Record<string, [keyof typeof o, number, number]> = {
    '--shards': ['shards', 100, 200_000],
    '--kills': ['kills', 1, 30],
    '--load-shards': ['loadShards', 50, 100_000],
    '--progress': ['progress', 1, 10_000],
    '--agents': ['agents', 1, 8],
    '--slots': ['slots', 1, 64],
    '--ttl-ms': ['ttlMs', 1000, 60_000],
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') return 'help';
    const [flag, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const spec = flags[flag];
    if (!spec) throw new UsageError(`unknown argument ${JSON.stringify(arg)}`);
    const raw = (inline ?? argv[++i] ?? '').replace(/_/g, '');
    const n = Number(raw);
    if (!/^\d+$/.test(raw) || n < spec[1] || n > spec[2]) throw new UsageError(`${flag} must be a whole number from ${fmt(spec[1])} to ${fmt(spec[2])}, got ${JSON.stringify(inline ?? argv[i])}`);
    o[spec[0]] = n;
  }
  return o;
}

/** A deterministic float32 dataset [items, 4], values in [-1, 1). */
function noopDataset(items: number): Tensor {
  const values = new Float32Array(items * 4);
  let s = 7;
  for (let i = 0; i < values.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    values[i] = s / 2 ** 31 - 1;
  }
  return float32Tensor([items, 4], values);
}

/** Colour codes of Nest's logger. */
const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');
const REDUNDANCY = { replicas: 1, spotCheckRate: 0, tolerance: 0 };
let jobs = 0;

/**
 * What a partner does with a request that failed during a fail-over (a timeout, no responders, a
 * service's "internal error" while its JetStream requests time out): asks again, for up to three
 * minutes (one submit may itself wait a minute for its answer). A submit with the same id and spec is idempotent.
 */
async function retrying<T>(what: string, call: () => Promise<T>, forMs = 180_000): Promise<T> {
  const deadline = performance.now() + forMs;
  for (let i = 1; ; i++) {
    try {
      return await call();
    } catch (error) {
      if (performance.now() > deadline || /already used/.test((error as Error).message)) throw error;
      if (i === 1) log(`  ${what}: ${(error as Error).message}; retrying`);
      await sleep(500);
    }
  }
}

/** An error `until` passes on at once instead of reading it as "no news". */
class Fatal extends Error {}

/** Polls `read` (errors during a fail-over read as "no news") until `done` holds; throws after `timeoutMs`. */
async function until(what: string, read: () => Promise<number>, done: (n: number) => boolean, timeoutMs: number, everyMs = 50): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const n = await read().catch((error: unknown) => {
      if (error instanceof Fatal) throw error;
      return undefined;
    });
    if (n !== undefined && done(n)) return n;
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last ${n})`);
    await sleep(everyMs);
  }
}

interface Partner {
  readonly client: PartnerClient;
  readonly modelHash: string;
  inputs: Map<number, string>;
}

async function partnerOf(net: ScaleNetwork, id: string): Promise<Partner> {
  const client = await PartnerClient.connect({ servers: net.cluster.servers, partnerId: id });
  return { client, modelHash: await client.uploadModel(identityModel(4)), inputs: new Map() };
}

/** Submits a no-op job of `shards` shards (the dataset uploaded once per size); resolves when the submit is accepted. */
async function submit(p: Partner, shards: number): Promise<string> {
  let inputHash = p.inputs.get(shards);
  if (!inputHash) p.inputs.set(shards, (inputHash = await retrying('upload', () => p.client.uploadDataset(noopDataset(shards)))));
  const jobId = `bench-scale-${process.pid}-${++jobs}`;
  const spec = { jobId, shardSize: 1, capability: 'cpu.generic', deadline: new Date(Date.now() + 6 * 3_600_000).toISOString(), redundancy: REDUNDANCY };
  await retrying(`submit ${jobId}`, () => p.client.submit(p.modelHash, inputHash, spec));
  return jobId;
}

/** Runs one job to its end; shards per second from submit accepted to JobCompleted in the stream. */
async function timedJob(net: ScaleNetwork, p: Partner, shards: number): Promise<number> {
  const completed = await net.countOf(p.client.partnerId, 'JobCompleted');
  const before = await net.countOf(p.client.partnerId, 'ShardValidated');
  await submit(p, shards);
  const t0 = performance.now();
  let last = 0;
  let validated = -1;
  let changedAt = performance.now();
  await until(
    `${shards} shards of ${p.client.partnerId}`,
    async () => {
      const failed = await net.countOf(p.client.partnerId, 'JobFailed');
      if (failed > 0) throw new Fatal(`a job of ${p.client.partnerId} failed`);
      const done = await net.countOf(p.client.partnerId, 'JobCompleted');
      const now = await net.countOf(p.client.partnerId, 'ShardValidated');
      if (now !== validated) [validated, changedAt] = [now, performance.now()];
      else if (done <= completed && performance.now() - changedAt > 90_000) throw new Fatal(`no shard of ${p.client.partnerId} validated for 90 s (${now} so far)`);
      if (performance.now() - last > 5000) {
        last = performance.now();
        log(`  ${fmt(now - before)} of ${fmt(shards)} shards validated`);
      }
      return done;
    },
    (n) => n > completed,
    Math.max(300_000, shards * 200),
    100,
  );
  return shards / ((performance.now() - t0) / 1000);
}

interface Kill {
  readonly kind: 'nats_server' | 'replica' | 'leader';
  readonly target: string;
  /** Kill → `--progress` events past the count at the kill in the stream the killed part feeds. */
  recovery_ms?: number;
  /** Leader kills: kill → the next leader elected. */
  takeover_ms?: number;
}

/** Keeps jobs of `loadShards` running back to back (the next submitted when the last is half done) until stopped. */
function startLoad(net: ScaleNetwork, p: Partner, loadShards: number): { failed(): unknown; stop(): Promise<void> } {
  let stopped = false;
  let failure: unknown;
  const done = (async () => {
    let submitted = 0;
    while (!stopped) {
      const jobId = await submit(p, loadShards);
      submitted += loadShards;
      log(`  load: ${jobId} accepted (${fmt(submitted)} shards submitted)`);
      await until('the load to progress', () => net.countOf(p.client.partnerId, 'ShardValidated'), (n) => stopped || n >= submitted - loadShards / 2, 600_000, 200);
    }
  })().catch((error: unknown) => {
    failure = error;
  });
  return {
    failed: () => failure,
    async stop() {
      stopped = true;
      await done;
      if (failure) throw failure;
    },
  };
}

/** SIGKILLs a NATS server (in turn), a non-leading replica or the leader of `service`; `restore` starts it again. */
async function killOne(net: ScaleNetwork, kind: Kill['kind'], index: number, service: ServiceName): Promise<{ kill: Kill; restore: () => Promise<void> }> {
  if (kind === 'nats_server') {
    const node = net.cluster.nodes[index % net.cluster.nodes.length]!;
    await node.kill();
    const restore = async () => {
      await node.restart();
      await net.streamsCurrent();
    };
    return { kill: { kind, target: node.name }, restore };
  }
  const victim = kind === 'leader' ? await net.eventuallyLeader(service) : await net.followerOf(service);
  await net.kill(victim);
  return { kill: { kind, target: victim }, restore: () => net.startReplica(service, victim.slice(service.length + 1)) };
}

async function recoveries(net: ScaleNetwork, p: Partner, options: Options): Promise<Kill[]> {
  const validated = () => net.countOf(p.client.partnerId, 'ShardValidated');
  const accrued = async () => (await net.bus.jsm.streams.info(streamOfFamily('rewards'))).state.messages;
  const progressOf = (service: ServiceName | 'nats') => (service === 'rewards' ? accrued : validated);
  const kills: Kill[] = [];
  const load = startLoad(net, p, options.loadShards);
  try {
    const plan: Array<{ kind: Kill['kind']; index: number }> = [];
    for (const kind of ['nats_server', 'replica', 'leader'] as const) for (let i = 0; i < options.kills; i++) plan.push({ kind, index: i });
    for (const { kind, index } of plan) {
      if (load.failed()) throw load.failed();
      const service = SERVICES[index % SERVICES.length]!;
      const progress = progressOf(kind === 'nats_server' ? 'nats' : service);
      // Only kill a system that is making progress.
      const before = await until('a count', progress, () => true, 60_000);
      const at = await until('progress before the kill', progress, (n) => n >= before + options.progress, 180_000);
      const t0 = performance.now();
      const { kill, restore } = await killOne(net, kind, index, service);
      // The nodes leader's relay has nothing to publish while no node changes: its recovery is the next election.
      const byProgress = !(kind === 'leader' && service === 'nodes');
      const takeover = kind === 'leader' ? net.eventuallyLeader(service).then(() => (kill.takeover_ms = Math.round(performance.now() - t0))) : undefined;
      takeover?.catch(() => undefined); // awaited below; a failure is reported there
      if (byProgress) {
        await until(`progress after killing ${kill.target}`, progress, (n) => n >= at + options.progress, 180_000);
        kill.recovery_ms = Math.round(performance.now() - t0);
      }
      await takeover;
      if (!byProgress) kill.recovery_ms = kill.takeover_ms;
      kills.push(kill);
      log(`  killed ${kill.kind} ${kill.target}: recovered in ${fmt(kill.recovery_ms!)} ms${kill.takeover_ms !== undefined ? ` (next leader after ${fmt(kill.takeover_ms)} ms)` : ''}; restarting it`);
      await restore();
    }
  } finally {
    await load.stop().catch((e: unknown) => log(`the load: ${(e as Error).message}`));
  }
  return kills;
}

async function main(options: Options, cleanup: Cleanup): Promise<void> {
  const started = performance.now();
  const load0 = loadavg()[0]!;
  log(`== bench:scale: 3 nats-servers, ${options.agents} agents × ${options.slots} slots, ${fmt(options.shards)}-shard jobs, lease TTL ${options.ttlMs} ms ==`);
  const net = await ScaleNetwork.start({ ttlMs: options.ttlMs });
  cleanup.add('the network', () => net.stop());
  const fail = async (error: unknown) => {
    log(`\nlast output of every process:\n${net.logTails()}`);
    log(`\nwhere it stands:\n${await net.diagnose()}`);
    throw error;
  };
  try {
    for (const s of SERVICES) await net.startReplica(s, 'a');
    for (let i = 1; i <= options.agents; i++) await net.startAgent(`agent-${i}`, options.slots);
    for (const s of SERVICES) await net.eventuallyLeader(s);

    log('\n== warm-up: a 50-shard job (the agents become trusted) ==');
    const warm = await partnerOf(net, 'bench-scale-warm');
    cleanup.add('a partner', () => warm.client.close());
    await timedJob(net, warm, 50);

    log('\n== one replica of each service ==');
    const one = await partnerOf(net, 'bench-scale-1');
    cleanup.add('a partner', () => one.client.close());
    const replicas1 = await timedJob(net, one, options.shards);
    log(`  ${round1(replicas1)} shards/s`);

    log('\n== two replicas of each service ==');
    for (const s of SERVICES) await net.startReplica(s, 'b');
    const two = await partnerOf(net, 'bench-scale-2');
    cleanup.add('a partner', () => two.client.close());
    const replicas2 = await timedJob(net, two, options.shards);
    log(`  ${round1(replicas2)} shards/s`);

    log(`\n== kills under load (jobs of ${fmt(options.loadShards)} shards back to back) ==`);
    const loadPartner = await partnerOf(net, 'bench-scale-load');
    cleanup.add('a partner', () => loadPartner.client.close());
    const kills = await recoveries(net, loadPartner, options);

    const of = (kind: Kill['kind']) => {
      const d = distribution(kills.filter((k) => k.kind === kind).map((k) => k.recovery_ms!));
      return { median: d.median, max: d.max, samples: d.samples };
    };
    const takeovers = distribution(kills.filter((k) => k.takeover_ms !== undefined).map((k) => k.takeover_ms!));
    const result = {
      bench: 'scale',
      machine: { cpus: cpus().length, load_at_start: round1(load0), load_at_end: round1(loadavg()[0]!) },
      nats_servers: 3,
      stream_replicas: 3,
      services: [...SERVICES],
      agents: options.agents,
      slots: options.slots,
      leader_ttl_ms: options.ttlMs,
      shards: options.shards,
      noop_shards_per_s: { replicas_1: round1(replicas1), replicas_2: round1(replicas2) },
      recovery_progress_events: options.progress,
      recovery_ms: { nats_server: of('nats_server'), replica: of('replica'), leader: of('leader') },
      leader_takeover_ms: { median: takeovers.median, max: takeovers.max, samples: takeovers.samples },
      kills,
      // Replicas that exited without being killed (and were started again, as a restart policy would).
      crashes: net.crashes.map((c) => ({ name: c.name, at_s: round1((c.atMs - started) / 1000), last_line: c.output.trim().split('\n').filter((l) => /error|timeout/i.test(l)).at(-1)?.replace(ANSI, '').slice(0, 300) })),
      wall_s: round1((performance.now() - started) / 1000),
    };
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } catch (error) {
    await fail(error);
  }
}

runBench(parseArgs, USAGE, main);
