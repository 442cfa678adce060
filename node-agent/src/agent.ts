import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { type Capabilities, EthAddress, type Heartbeat, JOB_STATUS_BUCKET } from '@weai/contracts';
import { DataKeyClient } from '@weai/messaging/src/data-keys';
import { ContentStore } from '@weai/messaging/src/objects';
import type { Tensor } from '@weai/tensors';
import { ModelFiles, ShardExecutor } from './executor';
import { ShardLedger, ShardWorker, type WorkerEvent } from './worker';
import { type RuntimeProbe, detectCapabilities, systemFromDetection } from './capabilities';
import { ControlPlane } from './control-plane';
import { loadOrCreateIdentity } from './identity';
import { NodeRefusedError, classesRefusalMessage, connectNode, isPermissionRefusal } from './bus';
import { persistPaused } from './config';
import { createLog } from './log';
import { GpuTelemetry, type GpuTelemetryOptions } from './gpu/telemetry';
import type { GpuDetection } from './gpu/types';
import { type LanePlan, planLanes } from './lanes';
import { PolicyLoop, type ReleaseReport, type TelemetrySource } from './policy-loop';
import type { LaneDecision, PolicyStep } from './policy/lanes';
import { estimateEnergyCost, formatMoney } from './policy/money';
import { formatWebi } from './webi';
import { DEFAULT_POLICY, type OwnerSettings } from './policy/settings';
import { type ControlServer, startControlServer } from './control/server';
import type { AgentStatus } from './control/status';

/** How an agent runs. */
export interface AgentConfig {
  readonly natsServers: string[];
  /** PEM of the CA that signed the network's server certificate: TLS required and verified against it. */
  readonly natsCa?: string;
  /** Folder for the node key and local state. */
  readonly dataDir: string;
  /** Where the owner is paid. */
  readonly payoutAddress: string;
  /** Heartbeat period; default 10 s. */
  readonly heartbeatMs?: number;
  /** CPU shards run at once; default 1. */
  readonly slots?: number;
  /** Shards run at once on each GPU with CUDA; default 1. */
  readonly gpuSlots?: number;
  /** The owner's settings, validated (`parseSettings`); default {@link DEFAULT_POLICY}. */
  readonly policy?: OwnerSettings;
  /** Policy period while shards run: sample, decide, act. Default 250 ms. */
  readonly policyIntervalMs?: number;
  /**
   * Policy period while no shard runs. Default 1 s; 3 s when the GPUs are read through
   * nvidia-smi, which starts three processes per sample (a shard that starts triggers a fresh
   * sample at once, see PolicyLoop.nudge).
   */
  readonly policyIdleIntervalMs?: number;
  /** Where to look for the GPUs (e.g. one nvidia-smi command); default: NVML, then nvidia-smi on the PATH. */
  readonly gpu?: GpuTelemetryOptions;
  /** A telemetry source to use instead of opening one (tests and benches). */
  readonly telemetry?: TelemetrySource;
  /** Measures CUDA and the benchmark score; default: in a runner process. */
  readonly probe?: RuntimeProbe;
  /** Port of the status page and control endpoint on 127.0.0.1 (0: any free one); `null`: none. Default 0. */
  readonly statusPort?: number | null;
  /** A shard running longer is stopped and reported as a retryable failure. Default 10 minutes. */
  readonly shardTimeoutMs?: number;
  /** Models larger than this are refused. Default 1 GiB. */
  readonly maxModelBytes?: number;
  /** Power assumed for the CPU while it runs shards, for the cost estimate. Default 65 W. */
  readonly cpuPowerW?: number;
  /** The config file the agent was started from: `pause`/`resume` are saved in it. */
  readonly configFile?: string;
  /** The agent's log file (`weai-agent logs`). */
  readonly logFile?: string;
  /** An extra gate on the owner's policy: the node takes work only when both allow it. */
  readonly allowsWork?: () => { allowed: boolean; reason?: string };
  readonly log?: (line: string) => void;
  /** Lease on work items, in ms (default 15 s). */
  readonly leaseMs?: number;
  /** Take no shards (registration, capabilities and heartbeats only). */
  readonly noWork?: boolean;
  /** Changes outputs before they are reported: tests use it to play a cheating node. */
  readonly tamper?: (output: Tensor) => Tensor;
  readonly onWorkerEvent?: (event: WorkerEvent) => void;
  /** After shards were handed back and the server has the naks (`flushedAt`, `performance.now()`). */
  readonly onRelease?: (report: ReleaseReport & { flushedAt: number }) => void;
  /** Log every shard started and completed. */
  readonly verbose?: boolean;
}

/** A lane of a running agent. */
export interface RunningLane {
  readonly plan: LanePlan;
  readonly worker: ShardWorker;
  readonly executor: ShardExecutor;
}

/** A running agent. */
export interface RunningAgent {
  readonly nodeId: string;
  readonly capabilityClasses: string[];
  readonly capabilities: Omit<Capabilities, 'capabilityClasses'>;
  readonly nc: NatsConnection;
  /** The CPU lane's shard worker (absent with `noWork`). */
  readonly worker: ShardWorker | undefined;
  /** Every lane: one per GPU with CUDA, and the CPU's. */
  readonly lanes: readonly RunningLane[];
  readonly policy: PolicyLoop;
  /** The local status page, when it runs. */
  readonly statusUrl: string | undefined;
  status(): AgentStatus;
  /** The owner's switch: yield everything now and take no work until `resume()`. */
  pause(): Promise<AgentStatus>;
  resume(): Promise<AgentStatus>;
  /** Stops taking work, hands back leases, stops heartbeating and disconnects. */
  stop(): Promise<void>;
}

/** Checks a configuration, naming what is wrong. */
export function checkAgentConfig(config: AgentConfig): void {
  if (!EthAddress.safeParse(config.payoutAddress).success) throw new Error(`payout address ${JSON.stringify(config.payoutAddress)} is not a 0x-prefixed 20-byte hex address`);
  if (config.heartbeatMs !== undefined && (!Number.isSafeInteger(config.heartbeatMs) || config.heartbeatMs < 100)) throw new Error('heartbeat period must be an integer of at least 100 ms');
  if (config.slots !== undefined && (!Number.isSafeInteger(config.slots) || config.slots < 1 || config.slots > 64)) throw new Error('slots must be an integer from 1 to 64');
  if (config.gpuSlots !== undefined && (!Number.isSafeInteger(config.gpuSlots) || config.gpuSlots < 1 || config.gpuSlots > 16)) throw new Error('gpuSlots must be an integer from 1 to 16');
  if (config.leaseMs !== undefined && (!Number.isSafeInteger(config.leaseMs) || config.leaseMs < 500)) throw new Error('lease must be an integer of at least 500 ms');
  if (config.policyIntervalMs !== undefined && (!Number.isSafeInteger(config.policyIntervalMs) || config.policyIntervalMs < 10 || config.policyIntervalMs > 500)) {
    throw new Error('policy interval must be an integer from 10 to 500 ms (the owner gets the GPU back within 1 s only when it is sampled at least every 500 ms)');
  }
  if (config.shardTimeoutMs !== undefined && (!Number.isSafeInteger(config.shardTimeoutMs) || config.shardTimeoutMs < 100)) throw new Error('shard time limit must be an integer of at least 100 ms');
}

const MONEY_NOTE =
  "Earnings are the owner's WEBI balance at the rewards service, for all of the owner's nodes (unknown while it does not answer). " +
  "The electricity cost is this agent's own estimate, from the GPU's measured power draw or the assumed CPU power while shards run, rounded up; it is in the tariff's currency, so the two cannot be compared without a WEBI price.";
/** How often the owner's WEBI balance is asked for. */
const EARNINGS_REFRESH_MS = 60_000;

/**
 * Starts the agent: loads (or creates) the node key, registers, finds the GPUs, reports
 * capabilities, then runs one worker per lane under the owner-first policy loop, heartbeating
 * until stopped. Re-registering with the same key is the same node.
 */
export async function startAgent(config: AgentConfig): Promise<RunningAgent> {
  checkAgentConfig(config);
  const log = createLog({ ...(config.logFile ? { file: config.logFile } : {}), ...(config.log ? { print: config.log } : {}) });
  const identity = loadOrCreateIdentity(config.dataDir);
  if (identity.created) log(`created a new node key in ${config.dataDir} (keep it: it is this node's identity)`);
  // As itself: the node key is its bus credential once the owner enrolled it (see ./bus).
  const nc = await connectNode(identity, { servers: config.natsServers, ...(config.natsCa ? { caFile: config.natsCa } : {}) });
  const cleanups: Array<() => Promise<void> | void> = [];
  try {
    const plane = new ControlPlane(nc, identity);
    const { nodeId, ownerId } = await plane.register(config.payoutAddress, new Date());
    log(`registered as node ${nodeId}`);

    const telemetry = config.telemetry ?? (await GpuTelemetry.open(config.gpu));
    cleanups.push(() => telemetry.close());
    const detection = telemetry.detection;
    log(describeDetection(detection));
    const { capabilities, cudaProblem } = await detectCapabilities(systemFromDetection(detection), config.probe);
    if (cudaProblem) log(`running on CPU only: ${cudaProblem}`);
    const { capabilityClasses } = await plane.reportCapabilities(nodeId, capabilities, new Date());
    log(`capabilities: ${capabilityClasses.join(', ')} (benchmark score ${capabilities.benchmarkScore})`);

    let settings = config.policy ?? DEFAULT_POLICY;
    const slots = config.slots ?? 1;
    const ledger = new ShardLedger();
    const stats = { completed: 0, failed: 0, released: 0, computeMs: 0, joules: 0, heartbeats: 0 };
    const lanes: RunningLane[] = [];
    let nudge = () => {};
    if (!config.noWork) {
      const js = jetstream(nc);
      const jsm = await jetstreamManager(nc);
      const objects = await ContentStore.open(js);
      const jobStatus = await new Kvm(js).create(JOB_STATUS_BUCKET, { history: 1 }).catch(() => undefined);
      const models = new ModelFiles(objects, join(config.dataDir, 'models'), { maxModelBytes: config.maxModelBytes ?? 1024 ** 3 });
      cleanups.push(() => models.close());
      // Asked only when a leased shard's data is sealed; the security service checks the lease.
      const keys = new DataKeyClient(nc, nodeId);
      const plans = planLanes({
        classes: capabilityClasses,
        gpus: detection.mode === 'gpu' ? detection.gpus : [],
        cudaUsable: capabilities.executionProviders.includes('cuda'),
        slots,
        gpuSlots: config.gpuSlots ?? 1,
      });
      for (const plan of plans) {
        const executor = new ShardExecutor(models, { provider: plan.provider, ...(plan.gpu ? { gpuUuid: plan.gpu.uuid } : {}), timeLimitMs: config.shardTimeoutMs ?? 600_000 });
        cleanups.push(() => executor.close());
        const worker = new ShardWorker({
          js,
          jsm,
          objects,
          executor,
          nodeId,
          keys,
          classes: plan.classes,
          slots: plan.slots,
          ledger,
          heldReason: 'waiting for the first policy decision',
          ...(config.leaseMs ? { leaseMs: config.leaseMs } : {}),
          ...(jobStatus ? { jobStatus } : {}),
          ...(config.tamper ? { tamper: config.tamper } : {}),
          onEvent: (e) => {
            if (e.kind === 'started') nudge(); // a fresh look at the GPUs now that a lease is held
            config.onWorkerEvent?.(e);
            if (e.kind === 'completed') {
              stats.completed++;
              stats.computeMs += e.computeMs;
            } else if (e.kind === 'failed') stats.failed++;
            else if (e.kind === 'released') stats.released++;
            if (e.kind === 'warning') log(`lane ${plan.id}: ${e.message}`);
            else if (e.kind === 'failed' || e.kind === 'released') log(`shard ${e.jobId}/${e.shard} ${e.kind}: ${e.reason}`);
            else if (e.kind === 'skipped') {
              if (config.verbose) log(`shard ${e.jobId}/${e.shard}/${e.replica} left to another node: ${e.reason}`);
            } else if (config.verbose) log(`shard ${e.jobId}/${e.shard}/${e.replica} ${e.kind}`);
          },
        });
        lanes.push({ plan, worker, executor });
        cleanups.push(() => worker.stop());
      }
      await Promise.all(lanes.map((l) => l.worker.start())).catch((error: unknown) => {
        // The server refuses the shard consumers of classes the node's credential does not cover.
        throw isPermissionRefusal(error) ? new NodeRefusedError(classesRefusalMessage(identity.publicKey, capabilityClasses, (error as Error).message), { cause: error }) : error;
      });
    }

    const agentPids = () => new Set([process.pid, ...lanes.flatMap((l) => l.executor.pids())]);
    let lastStepAt: number | undefined;
    let lastAllowed: boolean | undefined;
    const policy = new PolicyLoop({
      telemetry,
      lanes: lanes.map((l) => ({ spec: { id: l.plan.id, gpuUuid: l.plan.gpu?.uuid ?? null }, control: l.worker })),
      settings: () => settings,
      agentPids,
      intervalMs: config.policyIntervalMs ?? 250,
      idleIntervalMs: config.policyIdleIntervalMs ?? (detection.mode === 'gpu' && detection.source === 'nvidia-smi' ? 3000 : 1000),
      busy: () => lanes.some((l) => l.worker.activeShards() > 0),
      onChange: (d: LaneDecision) => log(`policy: lane ${d.laneId} ${d.action} (${d.rule}): ${d.reason}`),
      onRelease: (r) => {
        // The leases are handed back once the server has the naks.
        void nc.flush().then(
          () => {
            const flushedAt = performance.now();
            log(`yielded: released ${r.released} shard(s) of lane ${r.laneId} ${Math.round(flushedAt - r.seenAt)} ms after the sample saw it: ${r.reason}`);
            config.onRelease?.({ ...r, flushedAt });
          },
          () => undefined,
        );
      },
      onStep: (step: PolicyStep, sample: GpuDetection) => {
        const now = performance.now();
        if (lastStepAt !== undefined) stats.joules += energySince(lanes, sample, config.cpuPowerW ?? 65, (now - lastStepAt) / 1000);
        lastStepAt = now;
        if (lastAllowed !== undefined && lastAllowed !== step.allowsWork) beat(); // the network learns at once
        lastAllowed = step.allowsWork;
      },
    });
    cleanups.push(() => policy.stop());
    nudge = () => policy.nudge();

    const allowed = (): { allowed: boolean; reason: string } => {
      const step = policy.last?.step;
      const hook = config.allowsWork?.() ?? { allowed: true };
      if (!step) return { allowed: false, reason: 'starting' };
      if (!step.allowsWork) return { allowed: false, reason: step.reason };
      if (!hook.allowed) return { allowed: false, reason: hook.reason ?? 'not allowed by the agent configuration' };
      return { allowed: true, reason: step.reason };
    };
    const beat = () => {
      const { allowed: allowsWork, reason } = allowed();
      stats.heartbeats++;
      plane.heartbeat({
        nodeId,
        sentAt: new Date().toISOString(),
        allowsWork,
        ...(allowsWork ? {} : { reason: reason.slice(0, 256) }),
        activeShards: Math.min(64, lanes.reduce((n, l) => n + l.worker.activeShards(), 0)),
        slots: Math.min(64, lanes.reduce((n, l) => n + l.plan.slots, 0) || slots),
        gpus: heartbeatGpus(policy.last?.detection ?? detection),
      });
    };

    await policy.tick();
    for (const l of lanes) log(`lane ${l.plan.id}: ${l.plan.classes.join(', ')} with ${l.plan.slots} slot(s) on ${laneDevice(l.plan)}`);
    if (!config.noWork) log(`taking work on ${lanes.flatMap((l) => l.plan.classes).join(', ')} with ${lanes.reduce((n, l) => n + l.plan.slots, 0)} slot(s)`);
    policy.start();
    beat();
    const timer = setInterval(beat, config.heartbeatMs ?? 10_000);
    cleanups.push(() => clearInterval(timer));

    let earnings = 'unknown: not asked yet';
    const refreshEarnings = async () => {
      try {
        const b = await plane.balance(ownerId);
        earnings = `${formatWebi(b.available)} available${b.inFlight === '0' ? '' : `, ${formatWebi(b.inFlight)} being withdrawn`} (as of ${new Date().toISOString()})`;
      } catch (error) {
        earnings = `unknown: the rewards service did not answer (${(error as Error).message})`;
      }
    };
    void refreshEarnings();
    const earningsTimer = setInterval(() => void refreshEarnings(), EARNINGS_REFRESH_MS).unref();
    cleanups.push(() => clearInterval(earningsTimer));

    let reconnecting = false;
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'disconnect' || s.type === 'reconnecting') reconnecting = true;
        else if (s.type === 'reconnect') reconnecting = false;
      }
    })();
    const startedAt = new Date().toISOString();
    const status = (): AgentStatus => {
      const last = policy.last;
      const sample = last?.detection ?? detection;
      const gpuDecisions = last?.step.gpus ?? [];
      const wall = Date.now();
      const { allowed: allowsWork, reason } = allowed();
      return {
        nodeId,
        payoutAddress: config.payoutAddress,
        startedAt,
        pid: process.pid,
        network: { servers: config.natsServers, connected: !nc.isClosed() && !reconnecting, heartbeats: stats.heartbeats },
        configFile: config.configFile ?? null,
        logFile: config.logFile ?? null,
        paused: settings.paused,
        allowsWork,
        reason,
        telemetry:
          sample.mode === 'gpu'
            ? { mode: 'gpu', source: sample.source, reason: null, warnings: sample.warnings }
            : { mode: 'cpu-only', source: null, reason: sample.reason, warnings: [] },
        executionProviders: capabilities.executionProviders,
        capabilityClasses,
        benchmarkScore: capabilities.benchmarkScore,
        gpus: gpuDecisions.map(({ gpu, decision }) => ({
          index: gpu.index,
          name: gpu.name,
          uuid: gpu.uuid,
          utilizationPct: gpu.utilizationPct,
          temperatureC: gpu.temperatureC,
          powerDrawW: gpu.powerDrawW,
          powerLimitW: gpu.powerLimitW,
          vramTotalMb: gpu.vramTotalMb,
          vramFreeMb: gpu.vramFreeMb,
          policy: { action: decision.action, rule: decision.rule, reason: decision.reason },
        })),
        lanes: lanes.map((l) => {
          const d = last?.step.lanes.find((x) => x.laneId === l.plan.id);
          return {
            id: l.plan.id,
            device: laneDevice(l.plan),
            provider: l.plan.provider,
            classes: l.plan.classes,
            slots: l.plan.slots,
            action: d?.action ?? 'starting',
            rule: d?.rule ?? 'starting',
            reason: d?.reason ?? 'starting',
            activeShards: l.worker.activeShards(),
          };
        }),
        shards: {
          current: lanes.flatMap((l) =>
            l.worker.current().map((c) => ({ lane: l.plan.id, jobId: c.jobId, shard: c.shard, replica: c.replica, startedAt: new Date(c.startedAt).toISOString(), runningSeconds: (wall - c.startedAt) / 1000 })),
          ),
          completed: stats.completed,
          failed: stats.failed,
          released: stats.released,
          computeSeconds: stats.computeMs / 1000,
        },
        money: {
          currency: settings.currency,
          tariffPerKwh: formatMoney(settings.tariffPerKwh, settings.currency),
          energyKwh: stats.joules / 3.6e6,
          electricityCost: formatMoney(estimateEnergyCost(stats.joules, settings.tariffPerKwh), settings.currency),
          earnings,
          note: MONEY_NOTE,
        },
      };
    };

    const setPaused = async (paused: boolean): Promise<AgentStatus> => {
      if (settings.paused !== paused) {
        settings = { ...settings, paused };
        log(paused ? 'paused by the owner: handing back all work' : 'resumed by the owner');
        if (config.configFile) {
          try {
            persistPaused(config.configFile, paused);
          } catch (error) {
            log(`could not save the pause switch in ${config.configFile}: ${(error as Error).message}`);
          }
        }
      }
      await policy.tick();
      return status();
    };

    let control: ControlServer | undefined;
    if (config.statusPort !== null) {
      control = await startControlServer({ dir: config.dataDir, port: config.statusPort ?? 0, log, handlers: { status, pause: () => setPaused(true), resume: () => setPaused(false) } });
      cleanups.push(() => control?.close());
      log(`status page: ${control.url} (or: weai-agent status --dir ${config.dataDir})`);
    }

    return {
      nodeId,
      capabilityClasses,
      capabilities,
      nc,
      worker: lanes.find((l) => l.plan.gpu === null)?.worker,
      lanes,
      policy,
      statusUrl: control?.url,
      status,
      pause: () => setPaused(true),
      resume: () => setPaused(false),
      async stop() {
        await runCleanups(cleanups);
        await nc.drain();
      },
    };
  } catch (error) {
    await runCleanups(cleanups).catch(() => undefined);
    await nc.close();
    throw error;
  }
}

/** Runs clean-ups last first; every one runs even when an earlier one fails. */
async function runCleanups(cleanups: Array<() => Promise<void> | void>): Promise<void> {
  const errors: unknown[] = [];
  for (const c of cleanups.splice(0).reverse()) {
    try {
      await c();
    } catch (error) {
      errors.push(error);
    }
  }
  if (errors.length) throw errors[0];
}

function describeDetection(d: GpuDetection): string {
  if (d.mode === 'cpu-only') return `no usable NVIDIA GPU: ${d.reason}`;
  const gpus = d.gpus.map((g) => `GPU ${g.index} ${g.name} (${g.vramTotalMb} MiB${g.computeCapability ? `, compute ${g.computeCapability}` : ''})`);
  return `GPU telemetry through ${d.source}: ${gpus.join('; ')}${d.warnings.length ? ` (warnings: ${d.warnings.join('; ')})` : ''}`;
}

function laneDevice(plan: LanePlan): string {
  return plan.gpu ? `GPU ${plan.gpu.index} (${plan.gpu.name}) with CUDA` : 'the CPU';
}

/** Energy the lanes with running shards used over `seconds`: the GPU's measured draw, or the assumed CPU power. */
function energySince(lanes: readonly RunningLane[], sample: GpuDetection, cpuPowerW: number, seconds: number): number {
  let joules = 0;
  for (const l of lanes) {
    if (l.worker.activeShards() === 0) continue;
    const gpu = l.plan.gpu && sample.mode === 'gpu' ? sample.gpus.find((g) => g.uuid === l.plan.gpu!.uuid) : undefined;
    const watts = l.plan.gpu ? (gpu?.powerDrawW ?? gpu?.powerLimitW ?? 0) : cpuPowerW;
    joules += watts * seconds;
  }
  return joules;
}

/** The heartbeat's GPU readings (GPUs that report no utilization or temperature are left out). */
function heartbeatGpus(d: GpuDetection): Heartbeat['gpus'] {
  if (d.mode === 'cpu-only') return [];
  return d.gpus
    .filter((g) => g.utilizationPct !== null && g.temperatureC !== null)
    .slice(0, 16)
    .map((g) => ({
      uuid: g.uuid.slice(0, 64),
      utilizationPct: Math.min(100, Math.max(0, g.utilizationPct!)),
      vramFreeMb: Math.max(0, g.vramFreeMb),
      temperatureC: Math.min(150, Math.max(-50, g.temperatureC!)),
      ...(g.powerDrawW !== null ? { powerDrawW: Math.max(0, g.powerDrawW) } : {}),
    }));
}
