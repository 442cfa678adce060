import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { streamOfFamily } from '@weai/contracts';
import { type Bus, connectBus, ensureStreams } from '@weai/messaging';
import { type TestNatsServer, freePort, startNatsServer } from '@weai/messaging/src/testing/nats-server';
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
  /** Starts the gateway on a free port with `env` (keys, flags) on top of the network's NATS; resolves with it and its URL once it is ready. */
  startGateway(env: Record<string, string>): Promise<{ process: ManagedProcess; baseUrl: string }>;
  /** Where the network stands, for a test that timed out: streams, consumers, and each process's last output. */
  describe(): Promise<string>;
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
    async startGateway(env) {
      const p = startTs('gateway', 'services/gateway/src/main.ts', [], { NATS_URL: nats.url, GATEWAY_PORT: String(await freePort()), ...env });
      const baseUrl = (await p.waitFor(/gateway ready on http:\/\/\S+/)).split(' ').pop()!;
      return { process: p, baseUrl };
    },
    async describe() {
      const lines = await describeStreams(bus);
      for (const p of [...services.values(), ...agents]) lines.push(`--- ${p.name}\n${p.output().replace(ANSI, '').slice(-2000)}`);
      return lines.join('\n');
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

/** Terminal colour codes, stripped from process output in diagnoses. */
export const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');

/** Each WEAI stream's size and each of its consumers' backlog: where a stalled pipeline stands. */
export async function describeStreams(bus: Bus): Promise<string[]> {
  const lines: string[] = [];
  for await (const stream of bus.jsm.streams.list()) {
    const name = stream.config.name;
    lines.push(`${name}: ${stream.state.messages} msgs, last ${stream.state.last_seq}, leader ${stream.cluster?.leader ?? '-'}`);
    try {
      for await (const c of bus.jsm.consumers.list(name))
        lines.push(`  ${c.name}: pending ${c.num_pending}, ack pending ${c.num_ack_pending}, redelivered ${c.num_redelivered}, waiting pulls ${c.num_waiting}, leader ${c.cluster?.leader ?? '-'}`);
    } catch (error) {
      lines.push(`  consumers: ${(error as Error).message}`);
    }
  }
  return lines;
}
