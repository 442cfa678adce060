import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { freePort } from './nats-server';

/** One server of a test cluster. */
export interface ClusterNode {
  /** Server name (`n1`…), unique in the cluster as JetStream requires. */
  readonly name: string;
  /** Client URL. */
  readonly url: string;
  /** Client port. */
  readonly port: number;
  /** Route port the other servers connect to. */
  readonly clusterPort: number;
  /** JetStream store folder, kept across kill and restart. */
  readonly storeDir: string;
  /** Process id while running. */
  readonly pid: number | undefined;
  /** Whether the process is up. */
  readonly running: boolean;
  /** Kills it (SIGKILL by default); its store is kept so it can rejoin. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same ports and store. */
  restart(): Promise<void>;
  /** What it wrote since its last start. */
  output(): string;
}

/** A JetStream cluster of nats-servers on loopback ports, each with its own store. */
export interface TestNatsCluster {
  /** The servers, in start order. */
  readonly nodes: readonly ClusterNode[];
  /** Every client URL, comma-separated: what `NATS_URL` holds for a service. */
  readonly url: string;
  /** Every client URL, one per server. */
  readonly servers: string[];
  /** Kills every server and removes the stores. */
  stop(): Promise<void>;
}

const NATS_SERVER = process.env['NATS_SERVER_BIN'] ?? '/usr/sbin/nats-server';

/**
 * Starts `size` nats-servers (default 3) routed to each other as cluster `weai`, JetStream on, and
 * resolves once JetStream has a meta leader (an R3 stream can be created). Servers use the same
 * flags the compose file and the Helm values give: `--cluster_name`, `--cluster`, `--routes`, `-n`.
 */
export async function startNatsCluster(size = 3): Promise<TestNatsCluster> {
  const ports = await Promise.all(Array.from({ length: size * 2 }, () => freePort()));
  const base = mkdtempSync(join(tmpdir(), 'weai-nats-cluster-'));
  const specs = Array.from({ length: size }, (_, i) => ({ name: `n${i + 1}`, port: ports[2 * i]!, clusterPort: ports[2 * i + 1]! }));
  const routes = specs.map((s) => `nats-route://127.0.0.1:${s.clusterPort}`).join(',');
  const nodes = specs.map((spec) => {
    const storeDir = join(base, spec.name);
    let child: ChildProcess | undefined;
    let log = '';
    const args = ['-a', '127.0.0.1', '-p', String(spec.port), '-n', spec.name, '-js', '-sd', storeDir, '--cluster_name', 'weai', '--cluster', `nats://127.0.0.1:${spec.clusterPort}`, '--routes', routes];
    const node: ClusterNode = {
      ...spec,
      url: `nats://127.0.0.1:${spec.port}`,
      storeDir,
      get pid() {
        return child?.pid;
      },
      get running() {
        return !!child && child.exitCode === null && child.signalCode === null;
      },
      output: () => log,
      async kill(signal: NodeJS.Signals = 'SIGKILL') {
        if (!child || child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((r) => child!.once('exit', r));
        child.kill(signal);
        await exited;
      },
      async restart() {
        await node.kill(); // a server still running is replaced, never left orphaned on the port
        log = '';
        child = spawn(NATS_SERVER, args, { stdio: ['ignore', 'pipe', 'pipe'] });
        child.stdout?.on('data', (d: Buffer) => (log += d.toString()));
        child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
        await waitForClient(node.url, child, () => log);
      },
    };
    return node;
  });
  const cluster: TestNatsCluster = {
    nodes,
    servers: nodes.map((n) => n.url),
    url: nodes.map((n) => n.url).join(','),
    async stop() {
      await Promise.all(nodes.map((n) => n.kill()));
      rmSync(base, { recursive: true, force: true });
    },
  };
  try {
    await Promise.all(nodes.map((n) => n.restart()));
    await waitForJetStreamCluster(cluster.servers);
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  return cluster;
}

async function waitForClient(url: string, child: ChildProcess, log: () => string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`nats-server exited with ${child.exitCode}: ${log()}`);
    try {
      const nc = await connect({ servers: url, reconnect: false, timeout: 500 });
      await nc.close();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`nats-server at ${url} did not come up: ${log()}`);
}

/** Resolves once the cluster's JetStream answers account requests (it has a meta leader and sees every peer). */
export async function waitForJetStreamCluster(servers: string[], timeoutMs = 30_000): Promise<void> {
  const nc = await connect({ servers, timeout: 1000 });
  try {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    while (Date.now() < deadline) {
      try {
        const jsm = await jetstreamManager(nc, { timeout: 1000 });
        await jsm.getAccountInfo();
        // The meta leader answers before every peer has reported in; an R3 probe stream proves placement works.
        const probe = `WEAI_PROBE_${Date.now()}`;
        await jsm.streams.add({ name: probe, subjects: [`weai.probe.${Date.now()}`], num_replicas: servers.length >= 3 ? 3 : 1 });
        await jsm.streams.delete(probe);
        return;
      } catch (error) {
        last = error;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    throw new Error(`the JetStream cluster did not become ready within ${timeoutMs} ms: ${(last as Error)?.message}`);
  } finally {
    await nc.close();
  }
}
