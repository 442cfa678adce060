/**
 * The scale-out network of `bench:scale`: a 3-node nats-server cluster on loopback ports (every
 * stream R3), a payout chain (rewards checks its signer at boot; accrual never touches it), one
 * PostgreSQL database per service shared by its replicas, replicas of the nodes, scheduler and
 * rewards services with leader election on, and agents. Replicas keep only the tail of their
 * output; their leadership is followed line by line.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { eventSubject, streamOfFamily } from '@weai/contracts';
import { type Bus, connectBus, ensureStreams } from '@weai/messaging';
import { type TestNatsCluster, startNatsCluster } from '@weai/messaging/src/testing/nats-cluster';
import { type PayoutChain, startPayoutChain } from '../../test/support/payout-chain';
import { type ManagedProcess, startTs } from '../../test/support/processes';
import { type ChildService, startChild } from '../support/child';
import { log, sleep } from '../support/run';

export const SERVICES = ['nodes', 'scheduler', 'rewards'] as const;
export type ServiceName = (typeof SERVICES)[number];

const PG_URL = process.env['POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const dbUrl = (db: string) => PG_URL.replace(/\/[^/]*$/, `/${db}`);

interface Replica {
  readonly service: ServiceName;
  readonly name: string;
  readonly process: ChildService;
  leads: boolean;
  /** Killed by the bench (not a crash). */
  killed: boolean;
}

/** A replica that exited on its own, with the end of its output. */
export interface Crash {
  readonly name: string;
  readonly atMs: number;
  readonly output: string;
}

export class ScaleNetwork {
  readonly replicas = new Map<string, Replica>();
  readonly agents: ManagedProcess[] = [];
  /** Replicas that exited without being killed; each is started again, as a restart policy would. */
  readonly crashes: Crash[] = [];
  private stopping = false;
  private readonly databases: Record<ServiceName, string>;

  private constructor(
    readonly cluster: TestNatsCluster,
    readonly chain: PayoutChain,
    readonly bus: Bus,
    readonly dir: string,
    private readonly ttlMs: number,
  ) {
    const suffix = `${process.pid}_${Date.now().toString(36)}`;
    this.databases = { nodes: `weai_bench_scale_${suffix}_nodes`, scheduler: `weai_bench_scale_${suffix}_scheduler`, rewards: `weai_bench_scale_${suffix}_rewards` };
  }

  /** Starts the cluster and the chain, makes the streams and the databases; `stop` undoes all of it. */
  static async start(options: { ttlMs: number }): Promise<ScaleNetwork> {
    const cluster = await startNatsCluster(3);
    let chain: PayoutChain | undefined;
    let bus: Bus | undefined;
    try {
      chain = await startPayoutChain('bench-scale');
      bus = await connectBus({ servers: cluster.servers, name: 'weai-bench-scale' });
      await ensureStreams(bus.jsm, 3);
      const net = new ScaleNetwork(cluster, chain, bus, mkdtempSync(join(tmpdir(), 'weai-bench-scale-')), options.ttlMs);
      await net.admin((pg) => Promise.all(SERVICES.map((s) => pg.query(`CREATE DATABASE ${net.databases[s]}`))));
      return net;
    } catch (error) {
      await bus?.close().catch(() => undefined);
      await chain?.stop().catch(() => undefined);
      await cluster.stop();
      throw error;
    }
  }

  private async admin<T>(f: (pg: DataSource) => Promise<T>): Promise<T> {
    const pg = await new DataSource({ type: 'postgres', url: PG_URL }).initialize();
    try {
      return await f(pg);
    } finally {
      await pg.destroy();
    }
  }

  /** Starts replica `<service>-<suffix>` and waits until it is ready; like a restart policy, starts it again if it exits first. */
  async startReplica(service: ServiceName, suffix: string): Promise<void> {
    const name = `${service}-${suffix}`;
    for (let attempt = 1; ; attempt++) {
      const env = {
        NATS_URL: this.cluster.url,
        WEAI_STREAM_REPLICAS: '3',
        WEAI_LEADER_ELECTION: 'on',
        WEAI_LEADER_TTL_MS: String(this.ttlMs),
        EVENT_STORE_URL: dbUrl(this.databases[service]),
        WEAI_DATA_DIR: join(this.dir, name),
        SCHEDULER_MAX_SHARDS: '200000',
        ...(service === 'rewards' ? this.chain.env : {}),
      };
      // Output arrives on later turns of the event loop, after `replica` is set.
      const onLine = (line: string) => {
        if (line.includes(`no longer leader of ${service}`)) replica.leads = false;
        else if (line.includes(`leader of ${service}`)) replica.leads = true;
      };
      const replica: Replica = { service, name, leads: false, killed: false, process: startChild(name, `services/${service}/src/main.ts`, env, { onLine }) };
      this.replicas.set(name, replica);
      try {
        await replica.process.waitFor(new RegExp(`${service} service ready`), 180_000);
        void replica.process.exited.then(() => {
          if (replica.killed || this.stopping || this.replicas.get(name) !== replica) return;
          this.crashes.push({ name, atMs: Math.round(performance.now()), output: replica.process.output().split('\n').slice(-15).join('\n') });
          log(`  ${name} exited on its own (${replica.process.child.exitCode ?? replica.process.child.signalCode}); starting it again`);
          this.startReplica(service, suffix).catch((e: unknown) => log(`  ${name} could not be started again: ${(e as Error).message}`));
        });
        return;
      } catch (error) {
        if (attempt >= 5 || replica.process.child.exitCode === null) throw error;
        log(`  ${name} exited before it was ready; starting it again`);
      }
    }
  }

  /** SIGKILLs a replica (a crash) and waits for its exit. */
  async kill(name: string): Promise<void> {
    const replica = this.replicas.get(name)!;
    replica.killed = true;
    const p = replica.process;
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await p.exited;
  }

  private alive(r: Replica): boolean {
    return r.process.child.exitCode === null && r.process.child.signalCode === null;
  }

  /** The live replica of `service` that says it leads. */
  leaderOf(service: ServiceName): string | undefined {
    return [...this.replicas.values()].find((r) => r.service === service && r.leads && this.alive(r))?.name;
  }

  /** A live replica of `service` that does not lead (waiting for one a restart policy is bringing back). */
  async followerOf(service: ServiceName, timeoutMs = 180_000): Promise<string> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const follower = [...this.replicas.values()].find((r) => r.service === service && !r.leads && this.alive(r))?.name;
      if (follower) return follower;
      if (Date.now() > until) throw new Error(`no follower of ${service} within ${timeoutMs} ms`);
      await sleep(100);
    }
  }

  async eventuallyLeader(service: ServiceName, timeoutMs = 60_000): Promise<string> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const leader = this.leaderOf(service);
      if (leader) return leader;
      if (Date.now() > until) throw new Error(`no leader of ${service} within ${timeoutMs} ms`);
      await sleep(50);
    }
  }

  /** Starts an agent and resolves once it takes work. */
  async startAgent(name: string, slots: number): Promise<void> {
    const payout = `0x${(0xc0 + this.agents.length).toString(16).padStart(2, '0').repeat(20)}`;
    const args = ['start', '--nats', this.cluster.url, '--dir', join(this.dir, name), '--payout', payout, '--heartbeat-ms', '1000', '--slots', String(slots), '--lease-ms', '3000'];
    const agent = startTs(name, 'node-agent/src/cli.ts', args, {});
    this.agents.push(agent);
    await agent.waitFor(/taking work on/, 180_000);
  }

  /** How many events of `type` a partner's jobs have in the jobs stream: a request to the stream leader, no consumer. */
  async countOf(partnerId: string, type: 'ShardValidated' | 'JobCompleted' | 'JobFailed'): Promise<number> {
    const subject = eventSubject('jobs', partnerId, type);
    const info = await this.bus.jsm.streams.info(streamOfFamily('jobs'), { subjects_filter: subject });
    return info.state.subjects?.[subject] ?? 0;
  }

  /** Resolves once every replica of every replicated stream is current again (a restarted server has caught up). */
  async streamsCurrent(timeoutMs = 120_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      let lagging: string | undefined;
      try {
        for await (const s of this.bus.jsm.streams.list()) {
          const peers = s.cluster?.replicas ?? [];
          if (s.config.num_replicas > 1 && (!s.cluster?.leader || peers.length < s.config.num_replicas - 1 || peers.some((p) => !p.current || p.offline))) {
            lagging = s.config.name;
            break;
          }
        }
      } catch (error) {
        lagging = `(listing the streams: ${(error as Error).message})`;
      }
      if (!lagging) return;
      if (Date.now() > until) throw new Error(`stream ${lagging} still has a replica behind after ${timeoutMs} ms`);
      await sleep(250);
    }
  }

  /** Where a stalled run stands: each stream's messages and leader, each consumer's backlog, the leaders. */
  async diagnose(): Promise<string> {
    const lines: string[] = [];
    for (const name of ['WEAI_JOBS', 'WEAI_RESULTS', 'WEAI_SHARDS', 'WEAI_NODES', 'WEAI_REWARDS']) {
      try {
        const info = await this.bus.jsm.streams.info(name);
        lines.push(`${name}: ${info.state.messages} msgs, last ${info.state.last_seq}, leader ${info.cluster?.leader}`);
        for await (const c of this.bus.jsm.consumers.list(name)) lines.push(`  ${c.name}: pending ${c.num_pending}, ack pending ${c.num_ack_pending}, redelivered ${c.num_redelivered}, waiting ${c.num_waiting}, leader ${c.cluster?.leader}`);
      } catch (error) {
        lines.push(`${name}: ${(error as Error).message}`);
      }
    }
    lines.push(`leaders: ${SERVICES.map((s) => `${s} ${this.leaderOf(s)}`).join(', ')}`);
    return lines.join('\n');
  }

  /** The last lines of every process, for a failure report. */
  logTails(lines = 20): string {
    const procs: Array<{ name: string; output(): string }> = [...[...this.replicas.values()].map((r) => r.process), ...this.agents];
    return procs.map((p) => `--- ${p.name}\n${p.output().trimEnd().split('\n').slice(-lines).join('\n')}`).join('\n');
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.agents.splice(0).map((a) => a.kill('SIGTERM')));
    await Promise.all([...this.replicas.values()].map((r) => r.process.stop(5_000)));
    await this.bus.close().catch(() => undefined);
    await this.cluster.stop();
    await this.chain.stop().catch(() => undefined);
    await this.admin((pg) => Promise.all(SERVICES.map((s) => pg.query(`DROP DATABASE IF EXISTS ${this.databases[s]} WITH (FORCE)`)))).catch((e: unknown) => log(`dropping the databases: ${(e as Error).message}`));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
