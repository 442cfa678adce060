/**
 * Agent benchmark: what an idle agent costs its owner, and how fast it gives the machine back.
 *
 *   - idle cost: an agent started with the CLI (`weai-agent start`, its own process) registered
 *     with a real nodes service, taking no shards because none are offered. After 30 s of
 *     settling (start-up compiling and the garbage collections that follow it), over a window it
 *     reports RSS, CPU seconds (from /proc, the agent process itself; with the fake nvidia-smi
 *     also its exited children: the nvidia-smi runs), heartbeats sent, CPU per heartbeat and the
 *     share of one core. Twice: on this machine as it is (no NVIDIA driver: CPU-only), and with
 *     GPU telemetry through a fake nvidia-smi (a shell script replaying a recorded idle desktop).
 *   - yield latency: the agent runs IN THIS PROCESS (startAgent), with its real GpuTelemetry
 *     running the switchable fake nvidia-smi as child processes, and one CPU lane running a slow
 *     model in its runner process. Each trial offers a shard, waits until it has started plus a
 *     random 0-250 ms (so the switch falls anywhere in the policy period), switches the fake
 *     nvidia-smi to "a game is using the GPU", and measures until the agent has handed the lease
 *     back and the server has the nak (a flush round trip). Median, p90 and max over the trials.
 *
 * Progress goes to stderr; the last line of stdout is one JSON object.
 *
 *   npm run bench:agent                     # 60 s idle windows, 100 yield trials
 *   npm run bench:agent -- --quick          # 10 s windows, 10 trials
 *   npm run bench:agent -- --trials 200 --idle-seconds 60
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Kvm } from '@nats-io/kv';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { JOB_STATUS_BUCKET, WORK_HEADERS, shardSubject } from '@weai/contracts';
import { type Bus, connectBus, ensureStreams } from '@weai/messaging';
import { ContentStore } from '@weai/messaging/src/objects';
import { type TestNatsServer, startNatsServer } from '@weai/messaging/src/testing/nats-server';
import { type RunningAgent, startAgent } from '@weai/node-agent';
import { callAgent } from '@weai/node-agent/src/control/client';
import { referenceChain } from '@weai/node-agent/src/onnx/reference-model';
import { DEFAULT_POLICY } from '@weai/node-agent/src/policy';
import { switchableNvidiaSmi } from '@weai/node-agent/test/fixtures/nvidia-smi/switchable';
import { encodeTensor, float32Tensor, sha256 } from '@weai/tensors';
import { type BenchProcess, startTs } from './agent/process';
import { childPids, procStats } from './agent/proc';

const log = (line: string) => process.stderr.write(`${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (v: number, digits = 3) => Math.round(v * 10 ** digits) / 10 ** digits;

function summary(values: number[]): { median: number; p90: number; max: number; min: number } {
  const s = [...values].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  return { median: round(at(0.5), 1), p90: round(at(0.9), 1), max: round(s.at(-1)!, 1), min: round(s[0]!, 1) };
}

interface Network {
  readonly nats: TestNatsServer;
  readonly bus: Bus;
  readonly dir: string;
  readonly nodes: BenchProcess;
}

async function network(): Promise<Network> {
  const nats = await startNatsServer();
  const bus = await connectBus({ servers: nats.url, name: 'bench-agent' });
  await ensureStreams(bus.jsm);
  const dir = mkdtempSync(join(tmpdir(), 'weai-bench-agent-'));
  const nodes = startTs('nodes', 'services/nodes/src/main.ts', [], { NATS_URL: nats.url, WEAI_DATA_DIR: join(dir, 'control-plane') });
  await nodes.waitFor(/nodes service ready/);
  return { nats, bus, dir, nodes };
}

/** Idle cost of one agent process over `seconds`, after `settleSeconds` (start-up work and its garbage collections over). */
async function idle(net: Network, name: string, extraArgs: string[], settleSeconds: number, seconds: number, heartbeatMs: number) {
  const dir = join(net.dir, name);
  const args = ['start', '--dir', dir, '--nats', net.nats.url, '--payout', `0x${'be'.repeat(20)}`, '--heartbeat-ms', String(heartbeatMs), '--status-port', '0', ...extraArgs];
  const agent = startTs(name, 'node-agent/src/cli.ts', args);
  try {
    await agent.waitFor(/taking work on/);
    await agent.waitFor(/status page: /);
    const pid = agent.child.pid!;
    // Start-up over: sources compiled, the measuring runner gone, V8 done shrinking the heap.
    await sleep(settleSeconds * 1000);
    // The status call is made outside the window: its first use costs the agent some compiling.
    const hbBefore = (await callAgent(dir, 'GET', '/api/status')).network.heartbeats;
    const before = procStats(pid);
    const started = performance.now();
    await sleep(seconds * 1000);
    const after = procStats(pid);
    const wallS = (performance.now() - started) / 1000;
    const status = await callAgent(dir, 'GET', '/api/status');
    const heartbeats = status.network.heartbeats - hbBefore;
    const cpu = after.cpuSeconds - before.cpuSeconds;
    const children = after.childCpuSeconds - before.childCpuSeconds;
    const result = {
      settleS: settleSeconds,
      telemetry: status.telemetry.mode === 'gpu' ? `gpu via ${status.telemetry.source}` : `cpu-only (${status.telemetry.reason})`,
      rssMb: round(after.rssMb, 1),
      runnerProcesses: childPids(pid).length,
      windowS: round(wallS, 1),
      heartbeatMs,
      heartbeats,
      cpuSeconds: round(cpu, 3),
      cpuSecondsPerHeartbeat: round(cpu / Math.max(1, heartbeats), 5),
      percentOfOneCore: round((cpu / wallS) * 100, 3),
      childCpuSeconds: round(children, 3),
      percentOfOneCoreWithChildren: round(((cpu + children) / wallS) * 100, 3),
    };
    log(`${name}: ${JSON.stringify(result)}`);
    return result;
  } finally {
    await agent.stop();
  }
}

/** Yield latency over `trials`, the agent in this process (see the header). */
async function yieldLatency(net: Network, trials: number) {
  const smi = switchableNvidiaSmi(join(net.dir, 'fake-gpu'), 'rtx3080-windows-idle');
  const objects = await ContentStore.open(net.bus.js);
  const jobStatus = await new Kvm(net.bus.js).create(JOB_STATUS_BUCKET, { history: 1 });
  // Loading it takes a second or two in a fresh runner: every trial's shard is still running when the game starts.
  const model = await objects.put(referenceChain({ width: 1024, depth: 400 }));
  const input = encodeTensor(float32Tensor([16, 1024], Array.from({ length: 16 * 1024 }, (_, i) => Math.sin(i))));
  const inputHash = sha256(input);

  const started: Array<(jobId: string) => void> = [];
  const releases: Array<(r: { seenAt: number; flushedAt: number; sampleStartedAt: number }) => void> = [];
  const agent: RunningAgent = await startAgent({
    natsServers: [net.nats.url],
    dataDir: join(net.dir, 'in-process'),
    payoutAddress: `0x${'b7'.repeat(20)}`,
    heartbeatMs: 1000,
    slots: 1,
    leaseMs: 15_000,
    statusPort: null,
    policy: { ...DEFAULT_POLICY, quietPeriodSeconds: 0 },
    gpu: { nvmlLibraryPaths: [], nvidiaSmiCommands: [smi.command] },
    log: () => undefined,
    onWorkerEvent: (e) => e.kind === 'started' && started.splice(0).forEach((w) => w(e.jobId)),
    onRelease: (r) => releases.splice(0).forEach((w) => w(r)),
  });
  const flipToReleased: number[] = [];
  const seenToReleased: number[] = [];
  const sampleMs: number[] = [];
  try {
    for (let i = 0; i < trials; i++) {
      const jobId = `bench-yield-${randomUUID()}`;
      const h = natsHeaders();
      h.set(WORK_HEADERS.job, jobId);
      h.set(WORK_HEADERS.shard, '0');
      h.set(WORK_HEADERS.replica, '0');
      h.set(WORK_HEADERS.attempt, '1');
      h.set(WORK_HEADERS.model, model);
      h.set(WORK_HEADERS.input, inputHash);
      const running = new Promise<string>((resolve) => started.push(resolve));
      await net.bus.js.publish(shardSubject('cpu.generic'), input, { headers: h });
      const got = await running;
      if (got !== jobId) throw new Error(`expected ${jobId} to start, got ${got}`);
      await sleep(Math.random() * 250);
      const released = new Promise<{ seenAt: number; flushedAt: number; sampleStartedAt: number }>((resolve) => releases.push(resolve));
      const flippedAt = performance.now();
      smi.show('rtx3080-windows-game');
      const r = await released;
      flipToReleased.push(r.flushedAt - flippedAt);
      seenToReleased.push(r.flushedAt - r.seenAt);
      sampleMs.push(r.seenAt - r.sampleStartedAt);
      // The scheduler would now give the shard to another node; here the job is simply over, so
      // the redelivered item is dropped when the agent works again.
      await jobStatus.put(jobId, 'cancelled');
      smi.show('rtx3080-windows-idle');
      if ((i + 1) % 10 === 0) log(`yield: ${i + 1}/${trials} trials, last ${flipToReleased.at(-1)!.toFixed(0)} ms`);
    }
  } finally {
    await agent.stop();
  }
  return {
    trials,
    how: 'agent in this process (startAgent), real GpuTelemetry running a switchable fake nvidia-smi (shell script) as child processes, a slow model in its runner process; from the switch to the server having the nak',
    flipToReleasedMs: summary(flipToReleased),
    seenToReleasedMs: summary(seenToReleased),
    nvidiaSmiSampleMs: summary(sampleMs),
    policyIntervalMs: 250,
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { quick: { type: 'boolean' }, trials: { type: 'string' }, 'idle-seconds': { type: 'string' } } });
  const trials = Number(values.trials ?? (values.quick ? 10 : 100));
  const idleSeconds = Number(values['idle-seconds'] ?? (values.quick ? 10 : 60));
  const settleSeconds = values.quick ? 10 : 30;
  const net = await network();
  try {
    log(`idle agents: ${idleSeconds} s windows`);
    const cpuOnly = await idle(net, 'idle-cpu-only', [], settleSeconds, idleSeconds, 1000);
    const smi = switchableNvidiaSmi(join(net.dir, 'fake-gpu-idle'), 'rtx3080-windows-idle');
    const fakeGpu = await idle(net, 'idle-fake-gpu', ['--nvidia-smi', smi.command], settleSeconds, idleSeconds, 1000);
    log(`yield latency: ${trials} trials`);
    const yields = await yieldLatency(net, trials);
    const result = {
      bench: 'agent',
      machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', node: process.version },
      idle: { cpuOnly, fakeGpuNvidiaSmi: fakeGpu },
      yield: yields,
      goals: {
        idleUnderOnePercentOfACore: cpuOnly.percentOfOneCore < 1 && fakeGpu.percentOfOneCore < 1,
        yieldMaxAtMostOneSecond: yields.flipToReleasedMs.max <= 1000,
      },
    };
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    await net.nodes.stop();
    await net.bus.close();
    await net.nats.stop();
    rmSync(net.dir, { recursive: true, force: true });
  }
}

main().then(
  () => setTimeout(() => process.exit(0), 1000).unref(),
  (error: unknown) => {
    log(`benchmark failed: ${(error as Error)?.stack ?? String(error)}`);
    process.exit(1);
  },
);
