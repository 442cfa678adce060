import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { streamOfFamily } from '@weai/contracts';
import { type Bus, connectBus, ensureStreams } from '@weai/messaging';
import { type TestNatsServer, startNatsServer } from '@weai/messaging/src/testing/nats-server';
import { type EventLog, watchStream } from './events';
import { type ManagedProcess, startTs } from './processes';

/** A private WE-AI network: nats-server, the nodes and scheduler services as processes, agents on demand. */
export interface TestNetwork {
  readonly nats: TestNatsServer;
  readonly bus: Bus;
  readonly dir: string;
  readonly jobs: EventLog;
  readonly nodes: EventLog;
  readonly services: Map<string, ManagedProcess>;
  /** Starts (or restarts) a service process and waits until it is ready. */
  startService(name: 'nodes' | 'scheduler' | 'resources' | 'rewards'): Promise<ManagedProcess>;
  /** Starts an agent process; resolves with its node id once it takes work. */
  startAgent(name: string, options?: { slots?: number; folder?: string; payout?: string; env?: Record<string, string> }): Promise<{ process: ManagedProcess; nodeId: string }>;
  stop(): Promise<void>;
}

export const FAST_ENV = { NODES_OFFLINE_AFTER_MS: '2000', NODES_SWEEP_MS: '100', NODES_QUARANTINE_AFTER_STRIKES: '2' };
export const LEASE_MS = 3000;

let agentCount = 0;

export async function startNetwork(env: Record<string, string> = {}): Promise<TestNetwork> {
  const nats = await startNatsServer();
  const dir = mkdtempSync(join(tmpdir(), 'weai-net-'));
  const bus = await connectBus({ servers: nats.url, name: 'test-network' });
  await ensureStreams(bus.jsm);
  const jobs = await watchStream(bus, streamOfFamily('jobs'));
  const nodes = await watchStream(bus, streamOfFamily('nodes'));
  const services = new Map<string, ManagedProcess>();
  const agents: ManagedProcess[] = [];
  const serviceEnv = { NATS_URL: nats.url, WEAI_DATA_DIR: join(dir, 'control-plane'), ...FAST_ENV, ...env };
  return {
    nats,
    bus,
    dir,
    jobs,
    nodes,
    services,
    async startService(name) {
      const p = startTs(name, `services/${name}/src/main.ts`, [], serviceEnv);
      services.set(name, p);
      await p.waitFor(new RegExp(`${name} service ready`));
      return p;
    },
    async startAgent(name, options = {}) {
      const n = ++agentCount;
      const payout = options.payout ?? `0x${n.toString(16).padStart(2, '0').repeat(20)}`;
      const args = ['start', '--nats', nats.url, '--dir', join(dir, options.folder ?? name), '--payout', payout, '--heartbeat-ms', '300', '--slots', String(options.slots ?? 2), '--lease-ms', String(LEASE_MS), '--verbose'];
      const p = startTs(name, 'node-agent/src/cli.ts', args, options.env ?? {});
      agents.push(p);
      const nodeId = (await p.waitFor(/registered as node (\S+)/)).split(' ').pop()!;
      await p.waitFor(/taking work on/);
      return { process: p, nodeId };
    },
    async stop() {
      await Promise.all([...agents, ...services.values()].map((p) => p.kill('SIGKILL')));
      await jobs.close();
      await nodes.close();
      await bus.close();
      await nats.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
