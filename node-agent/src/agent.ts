import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { type Capabilities, EthAddress, JOB_STATUS_BUCKET } from '@weai/contracts';
import { ContentStore } from '@weai/messaging';
import type { Tensor } from '@weai/tensors';
import { ShardExecutor } from './executor';
import { ShardWorker, type WorkerEvent } from './worker';
import { type DetectedSystem, detectCapabilities } from './capabilities';
import { ControlPlane } from './control-plane';
import { loadOrCreateIdentity } from './identity';

/** How an agent runs. */
export interface AgentConfig {
  readonly natsServers: string[];
  /** Folder for the node key and local state. */
  readonly dataDir: string;
  /** Where the owner is paid. */
  readonly payoutAddress: string;
  /** Heartbeat period; default 10 s. */
  readonly heartbeatMs?: number;
  /** Shards run at once; default 1. */
  readonly slots?: number;
  /** What the machine has (GPU detection); default: ask the GPU module, CPU-only without one. */
  readonly detectSystem?: () => Promise<DetectedSystem>;
  /** Whether the owner's policy lets the node work now, and why not. Default: always. */
  readonly allowsWork?: () => { allowed: boolean; reason?: string };
  readonly log?: (line: string) => void;
  /** Lease on work items, in ms (default 15 s). */
  readonly leaseMs?: number;
  /** Take no shards (registration, capabilities and heartbeats only). */
  readonly noWork?: boolean;
  /** Changes outputs before they are reported: tests use it to play a cheating node. */
  readonly tamper?: (output: Tensor) => Tensor;
  readonly onWorkerEvent?: (event: WorkerEvent) => void;
  /** Log every shard started and completed. */
  readonly verbose?: boolean;
}

/** A running agent. */
export interface RunningAgent {
  readonly nodeId: string;
  readonly capabilityClasses: string[];
  readonly capabilities: Omit<Capabilities, 'capabilityClasses'>;
  readonly nc: NatsConnection;
  /** The shard worker (absent with `noWork`). */
  readonly worker: ShardWorker | undefined;
  /** Stops taking work, hands back leases, stops heartbeating and disconnects. */
  stop(): Promise<void>;
}

/** Checks a configuration, naming what is wrong. */
export function checkAgentConfig(config: AgentConfig): void {
  if (!EthAddress.safeParse(config.payoutAddress).success) throw new Error(`payout address ${JSON.stringify(config.payoutAddress)} is not a 0x-prefixed 20-byte hex address`);
  if (config.heartbeatMs !== undefined && (!Number.isSafeInteger(config.heartbeatMs) || config.heartbeatMs < 100)) throw new Error('heartbeat period must be an integer of at least 100 ms');
  if (config.slots !== undefined && (!Number.isSafeInteger(config.slots) || config.slots < 1 || config.slots > 64)) throw new Error('slots must be an integer from 1 to 64');
  if (config.leaseMs !== undefined && (!Number.isSafeInteger(config.leaseMs) || config.leaseMs < 500)) throw new Error('lease must be an integer of at least 500 ms');
}

/**
 * Starts the agent: loads (or creates) the node key, registers, reports capabilities, then
 * heartbeats until stopped. Re-registering with the same key is the same node.
 */
export async function startAgent(config: AgentConfig): Promise<RunningAgent> {
  checkAgentConfig(config);
  const log = config.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const identity = loadOrCreateIdentity(config.dataDir);
  if (identity.created) log(`created a new node key in ${config.dataDir} (keep it: it is this node's identity)`);
  let nc: NatsConnection;
  try {
    nc = await connect({ servers: config.natsServers, name: 'weai-agent', maxReconnectAttempts: -1, reconnectTimeWait: 1000 });
  } catch (error) {
    throw new Error(`cannot reach the WE-AI network at ${config.natsServers.join(',')}: ${(error as Error).message}`, { cause: error });
  }
  try {
    const plane = new ControlPlane(nc, identity);
    const { nodeId } = await plane.register(config.payoutAddress, new Date());
    log(`registered as node ${nodeId}`);
    const system = await (config.detectSystem ?? (async () => ({ gpus: [], driverVersion: '', cudaVersion: '' })))();
    const { capabilities, cudaProblem } = await detectCapabilities(system);
    if (cudaProblem) log(`running on CPU only: ${cudaProblem}`);
    const { capabilityClasses } = await plane.reportCapabilities(nodeId, capabilities, new Date());
    log(`capabilities: ${capabilityClasses.join(', ')} (benchmark score ${capabilities.benchmarkScore})`);

    const slots = config.slots ?? 1;
    let worker: ShardWorker | undefined;
    let executor: ShardExecutor | undefined;
    if (!config.noWork) {
      const js = jetstream(nc);
      const objects = await ContentStore.open(js);
      const jobStatus = await new Kvm(js).create(JOB_STATUS_BUCKET, { history: 1 }).catch(() => undefined);
      executor = new ShardExecutor(objects, { provider: capabilities.executionProviders.includes('cuda') ? 'cuda' : 'cpu' });
      worker = new ShardWorker({
        js,
        jsm: await jetstreamManager(nc),
        objects,
        executor,
        nodeId,
        classes: capabilityClasses,
        slots,
        ...(config.leaseMs ? { leaseMs: config.leaseMs } : {}),
        ...(jobStatus ? { jobStatus } : {}),
        ...(config.tamper ? { tamper: config.tamper } : {}),
        onEvent: (e) => {
          config.onWorkerEvent?.(e);
          if (e.kind === 'failed' || e.kind === 'released') log(`shard ${e.jobId}/${e.shard} ${e.kind}: ${e.reason}`);
          else if (config.verbose) log(`shard ${e.jobId}/${e.shard}/${e.replica} ${e.kind}`);
        },
      });
      await worker.start();
      log(`taking work on ${capabilityClasses.join(', ')} with ${slots} slot(s)`);
    }
    const beat = () => {
      const policy = config.allowsWork?.() ?? { allowed: true };
      plane.heartbeat({
        nodeId,
        sentAt: new Date().toISOString(),
        allowsWork: policy.allowed,
        ...(policy.reason ? { reason: policy.reason.slice(0, 256) } : {}),
        activeShards: Math.min(64, worker?.activeShards() ?? 0),
        slots,
        gpus: [],
      });
    };
    beat();
    const timer = setInterval(beat, config.heartbeatMs ?? 10_000);
    return {
      nodeId,
      capabilityClasses,
      capabilities,
      nc,
      worker,
      async stop() {
        clearInterval(timer);
        await worker?.stop();
        await executor?.close();
        await nc.drain();
      },
    };
  } catch (error) {
    await nc.close();
    throw error;
  }
}
