/**
 * Issue 9 end to end, on one machine with real processes: a 3-node nats-server cluster on loopback
 * ports (every stream R3), two replicas of the nodes, scheduler and rewards services, each
 * service's replicas sharing a PostgreSQL event store of its own (leader election on: one replica
 * of each runs the relay and the timers), two replicas of resources and of the gateway (no store,
 * no leader: a read model each), three agents. A 1,000-shard job runs while the test kills one
 * NATS server, then one replica of each service (and starts it again, as an orchestrator would) —
 * the other replica of resources and of the gateway must answer meanwhile — then each leader. The job must complete with the single-process output; no
 * event may be lost or applied twice: each shard is validated exactly once, each validated result
 * accrues exactly once, the ledger invariant holds (the operators' check and a replay of the
 * rewards store: every account sums to zero), and each family's stream holds exactly its store's
 * events, in order.
 *
 * Not here: security — this cluster runs without authentication; the security service's replicas on
 * an authenticated cluster have their own test (services/security/test/cluster-sync.int.spec.ts).
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { type WeaiEvent, eventSubject, streamOfFamily } from '@weai/contracts';
import { openSqlEventStore } from '@weai/eventstore';
import { type Bus, connectBus, decodeEvent, ensureStreams } from '@weai/messaging';
import { freePort } from '@weai/messaging/src/testing/nats-server';
import { startNatsCluster, type TestNatsCluster } from '@weai/messaging/src/testing/nats-cluster';
import { referenceMlp } from '@weai/node-agent/src/onnx/reference-model';
import { PartnerClient } from '@weai/sdk';
import { encodeTensor, sha256 } from '@weai/tensors';
import { readWholeStream } from '@weai/messaging/src/testing/streams';
import { REWARDS_RPC, type RewardsFamilyEvent } from '@weai/contracts';
import { requestJson } from '@weai/messaging';
import { LedgerAuditor } from '../services/rewards/src/domain/ledger-check';
import { sumOf } from '../services/rewards/src/domain/ledger';
import { type PayoutChain, startPayoutChain } from './support/payout-chain';
import { ANSI, describeStreams } from './support/control-plane';
import { ofType } from './support/events';
import { type ManagedProcess, startTs } from './support/processes';
import { dataset, runLocally } from './support/reference';

const PG_URL = process.env['POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const SHARDS = Number(process.env['WEAI_SCALE_SHARDS'] ?? 1000);
/** Services with an event store of their own and leader work (relay, timers). */
const SERVICES = ['nodes', 'scheduler', 'rewards'] as const;
type ServiceName = (typeof SERVICES)[number];
/** Services without either: replicas with a read model each, answering requests. */
const STATELESS = ['resources', 'gateway'] as const;
type ReplicaOf = ServiceName | (typeof STATELESS)[number];
const PARTNER_KEY = `key-scale-${randomUUID()}`;

/** What a partner does with a request that timed out during a fail-over: asks again. */
async function retryTimeouts<T>(call: () => Promise<T>, attempts = 6): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await call();
    } catch (error) {
      if (i >= attempts || (error as Error).name !== 'TimeoutError') throw error;
    }
  }
}

/**
 * GET /v1/jobs/:jobId on one gateway replica, as the partner; asked again for up to 30 s while it
 * answers 5xx (the scheduler replica it asks may have just been killed: the partner retries).
 */
async function jobOverHttp(baseUrl: string, jobId: string): Promise<{ status: number; body: Record<string, unknown> }> {
  for (const until = Date.now() + 30_000; ; ) {
    const res = await fetch(`${baseUrl}/v1/jobs/${jobId}`, { headers: { authorization: `Bearer ${PARTNER_KEY}` } });
    const answer = { status: res.status, body: (await res.json()) as Record<string, unknown> };
    if (res.status < 500 || Date.now() > until) return answer;
    await new Promise((r) => setTimeout(r, 500));
  }
}

describe('scale out (e2e): a 1,000-shard job survives a NATS server, a replica of each service and each leader dying', () => {
  let cluster: TestNatsCluster;
  let bus: Bus;
  let dir: string;
  let partner: PartnerClient;
  // Rewards connects to a chain at boot (it checks the payout contract's signer); accrual itself never touches it.
  let chain: PayoutChain;
  const databases: Record<ServiceName, string> = { nodes: '', scheduler: '', rewards: '' };
  const replicas = new Map<string, ManagedProcess>();
  const agents: ManagedProcess[] = [];
  const suffix = randomUUID().slice(0, 8);
  const restarts: string[] = [];
  /** Each running gateway replica's base URL. */
  const gatewayUrls = new Map<string, string>();

  const dbUrl = (db: string) => PG_URL.replace(/\/[^/]*$/, `/${db}`);
  /** Starts a replica and, like a restart policy, starts it again if it exits before it is ready. */
  const startReplica = async (service: ReplicaOf, replica: string) => {
    const name = `${service}-${replica}`;
    const stateless = service === 'resources' || service === 'gateway';
    for (let attempt = 1; ; attempt++) {
      const p = startTs(name, `services/${service}/src/main.ts`, [], {
        NATS_URL: cluster.url,
        WEAI_STREAM_REPLICAS: '3',
        ...(stateless ? {} : { WEAI_LEADER_ELECTION: 'on', WEAI_LEADER_TTL_MS: '3000', EVENT_STORE_URL: dbUrl(databases[service]) }),
        ...(service === 'gateway' ? { GATEWAY_PORT: String(await freePort()), GATEWAY_PARTNER_KEYS: `partner-scale:${PARTNER_KEY}` } : {}),
        WEAI_DATA_DIR: join(dir, name),
        NODES_OFFLINE_AFTER_MS: '4000',
        NODES_SWEEP_MS: '200',
        SCHEDULER_MAX_SHARDS: String(SHARDS * 2),
        SCHEDULER_MAX_MODEL_BYTES: '2000000',
        ...(service === 'rewards' ? chain.env : {}),
      });
      replicas.set(name, p);
      try {
        const ready = await p.waitFor(service === 'gateway' ? /gateway ready on http:\/\/\S+/ : new RegExp(`${service} service ready`), 120_000);
        if (service === 'gateway') gatewayUrls.set(name, ready.split(' ').pop()!);
        return p;
      } catch (error) {
        restarts.push(`${name}: ${p.output().replace(ANSI, '').slice(-1500)}`);
        if (attempt >= 5 || p.child.exitCode === null) throw error;
      }
    }
  };
  /** The replica whose latest leadership line says it leads. */
  const leaderOf = (service: ServiceName): string | undefined => {
    for (const [name, p] of replicas) {
      if (!name.startsWith(`${service}-`) || p.child.exitCode !== null || p.child.signalCode !== null) continue;
      const lines = p.output().split('\n').filter((l) => l.includes(`leader of ${service}`));
      const last = lines.at(-1);
      if (last && !last.includes('no longer leader')) return name;
    }
    return undefined;
  };
  const eventuallyLeader = async (service: ServiceName, not?: string) => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const leader = leaderOf(service);
      if (leader && leader !== not) return leader;
      if (Date.now() > deadline) throw new Error(`no leader of ${service} (other than ${not}) within 30 s`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  /** Every event of a service's PostgreSQL store, in log order. */
  const storedEvents = async (service: ServiceName) => {
    const store = await openSqlEventStore({ type: 'postgres', url: dbUrl(databases[service]) });
    try {
      const all = [];
      for (let page = await store.readAll(0, 1000); page.length > 0; page = await store.readAll(page.at(-1)!.position, 1000)) all.push(...page);
      return all;
    } finally {
      await store.close();
    }
  };

  /** Where a stalled run stands: the store, the streams, the consumers, the leaders. */
  const diagnose = async () => {
    const lines = await describeStreams(bus);
    for (const service of ['scheduler', 'rewards'] as const) {
      const counts: Record<string, number> = {};
      try {
        for (const e of await storedEvents(service)) counts[e.type] = (counts[e.type] ?? 0) + 1;
        lines.push(`${service} store: ${JSON.stringify(counts)}`);
      } catch (error) {
        lines.push(`${service} store: ${(error as Error).message}`);
      }
    }
    lines.push(`leaders: ${SERVICES.map((s) => `${s} ${leaderOf(s)}`).join(', ')}`);
    for (const [name, p] of [...replicas, ...agents.map((a) => [a.name, a] as const)]) lines.push(`--- ${name}\n${p.output().replace(ANSI, '').slice(-1500)}`);
    process.stderr.write(`[scale-out] diagnosis:\n${lines.join('\n')}\n`);
  };

  beforeAll(async () => {
    chain = await startPayoutChain('scale-out');
    cluster = await startNatsCluster(3);
    dir = mkdtempSync(join(tmpdir(), 'weai-scale-'));
    const pg = await new DataSource({ type: 'postgres', url: PG_URL }).initialize();
    for (const service of SERVICES) {
      databases[service] = `weai_scale_${suffix}_${service}`;
      await pg.query(`CREATE DATABASE ${databases[service]}`);
    }
    await pg.destroy();
    bus = await connectBus({ servers: cluster.servers, name: 'scale-test' });
    await ensureStreams(bus.jsm, 3);
    for (const service of [...SERVICES, ...STATELESS]) for (const r of ['a', 'b']) await startReplica(service, r);
    for (let i = 1; i <= 3; i++) {
      const payout = `0x${i.toString(16).padStart(2, '0').repeat(20)}`;
      const args = ['start', '--nats', cluster.url, '--dir', join(dir, `agent-${i}`), '--payout', payout, '--heartbeat-ms', '300', '--slots', '2', '--lease-ms', '3000'];
      const p = startTs(`agent-${i}`, 'node-agent/src/cli.ts', args, {});
      agents.push(p);
      await p.waitFor(/taking work on/, 120_000);
    }
    partner = await PartnerClient.connect({ servers: cluster.servers, partnerId: 'partner-scale' });
  }, 600_000);

  afterAll(async () => {
    if (process.env['WEAI_E2E_LOGS']) for (const [name, p] of replicas) process.stderr.write(`--- ${name}\n${p.output().slice(-4000)}\n`);
    await partner?.close().catch(() => undefined);
    await Promise.all([...agents, ...replicas.values()].map((p) => p.kill('SIGKILL')));
    await bus?.nc.close().catch(() => undefined);
    await cluster?.stop();
    await chain?.stop();
    const pg = await new DataSource({ type: 'postgres', url: PG_URL }).initialize();
    for (const db of Object.values(databases)) if (db) await pg.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`).catch(() => undefined);
    await pg.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it('completes with the single-process output; nothing lost, nothing applied twice', async () => {
    for (const s of SERVICES) expect(await eventuallyLeader(s)).toMatch(new RegExp(`^${s}-[ab]$`));
    const model = referenceMlp();
    const input = dataset(SHARDS, 64);
    const jobId = `job-${randomUUID()}`;
    const deadline = new Date(Date.now() + 3_600_000).toISOString();
    const started = performance.now();
    await partner.submit(await partner.uploadModel(model), await partner.uploadDataset(input), {
      jobId,
      shardSize: 1,
      capability: 'cpu.generic',
      deadline,
      redundancy: { replicas: 1, spotCheckRate: 0.1, tolerance: 1e-5 },
    });
    // Progress is read from the stream's per-subject counts (a request to the stream leader, no
    // consumer): a long-lived ordered consumer of the test itself would have to survive the fail-over too.
    const validatedSubject = eventSubject('jobs', 'partner-scale', 'ShardValidated');
    const validated = async (n: number) => {
      const deadline = Date.now() + 120_000;
      for (;;) {
        const count = await bus.jsm.streams
          .info(streamOfFamily('jobs'), { subjects_filter: validatedSubject })
          .then((i) => i.state.subjects?.[validatedSubject] ?? 0, () => 0);
        if (count >= n) return;
        if (Date.now() > deadline) {
          await diagnose();
          throw new Error(`timed out waiting for ${n} shards validated (${count})`);
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    };
    const marks: Record<string, number> = {};
    const step = (what: string) => process.stderr.write(`[scale-out] ${Math.round(performance.now() - started)} ms: ${what}\n`);
    step('submitted');

    // 1. A NATS server.
    await validated(Math.floor(SHARDS * 0.1));
    await cluster.nodes[0]!.kill();
    step('nats killed');
    marks['nats_killed'] = performance.now() - started;

    // 2. One replica of each service (the one that does not lead), started again afterwards, as a
    // restart policy would; the NATS server comes back too (a StatefulSet restarts it): while it is
    // away, nats-server 2.9.10 intermittently times out creating ephemeral consumers on R3 streams.
    await validated(Math.floor(SHARDS * 0.3));
    await cluster.nodes[0]!.restart();
    step('nats restarted');
    const restarted: Array<Promise<unknown>> = [];
    step('30% validated');
    for (const s of SERVICES) {
      const victim = leaderOf(s) === `${s}-a` ? `${s}-b` : `${s}-a`;
      await replicas.get(victim)!.kill('SIGKILL');
      marks[`${victim}_killed`] = performance.now() - started;
      restarted.push(startReplica(s, victim.slice(-1)));
    }
    // Resources and the gateway: one replica dies, and the other answers while it is away.
    for (const s of STATELESS) {
      await replicas.get(`${s}-a`)!.kill('SIGKILL');
      gatewayUrls.delete(`${s}-a`);
      marks[`${s}-a_killed`] = performance.now() - started;
    }
    const capacity = await retryTimeouts(() => requestJson<Array<{ capabilityClass: string; online: number }>>(bus.nc, 'weai.rpc.resources.capacity', {}, 10_000));
    expect(capacity.find((c) => c.capabilityClass === 'cpu.generic')?.online).toBeGreaterThan(0);
    const running = await jobOverHttp(gatewayUrls.get('gateway-b')!, jobId);
    expect(running).toMatchObject({ status: 200, body: { jobId } });
    step('resources-b and gateway-b answered');
    for (const s of STATELESS) restarted.push(startReplica(s, 'a'));

    // 3. Each service's leader (relay, timers): the other replica takes over within the TTL.
    await validated(Math.floor(SHARDS * 0.6));
    step('60% validated');
    await Promise.all(restarted);
    step('replicas restarted');
    for (const s of SERVICES) {
      const leader = leaderOf(s)!;
      await replicas.get(leader)!.kill('SIGKILL');
      const killedAt = performance.now();
      const next = await eventuallyLeader(s, leader);
      marks[`${s}_leader_killed`] = killedAt - started;
      marks[`${s}_new_leader_after_ms`] = performance.now() - killedAt;
      expect(next).not.toBe(leader);
    }

    step('leaders killed');
    // Bounded, so that a stall prints where it stands instead of running into Jest's timeout.
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      retryTimeouts(() => partner.follow(jobId)),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => void diagnose().finally(() => reject(new Error('the job did not end within 300 s of the last leader dying'))), 300_000);
      }),
    ]).finally(() => clearTimeout(timer));
    step('followed');
    if (outcome.status !== 'completed') throw new Error(`job ${outcome.status}: ${outcome.reason}`);
    const output = await retryTimeouts(() => partner.downloadTensor(outcome.outputHash));
    expect(sha256(encodeTensor(output))).toBe(sha256(encodeTensor(runLocally(model, input, 1))));
    marks['completed'] = performance.now() - started;
    // Both gateway replicas (one of them restarted) give the partner the finished job over HTTP.
    for (const name of ['gateway-a', 'gateway-b']) expect(await jobOverHttp(gatewayUrls.get(name)!, jobId)).toMatchObject({ status: 200, body: { jobId, status: 'completed' } });

    // Each shard validated exactly once, and each family's stream holds exactly its store's events,
    // in store order: the relays (three leaders each) lost nothing and published nothing twice.
    const streamEvents = async (family: 'jobs' | 'nodes' | 'rewards'): Promise<WeaiEvent[]> => (await retryTimeouts(() => readWholeStream(bus.js, bus.jsm, streamOfFamily(family)))).map((m) => decodeEvent(m).event);
    const jobEvents = await streamEvents('jobs');
    const shardValidated = ofType(jobEvents, 'ShardValidated').filter((e) => e.data.jobId === jobId);
    expect(shardValidated).toHaveLength(SHARDS);
    expect(new Set(shardValidated.map((e) => e.data.shardIndex)).size).toBe(SHARDS);

    // Every accepted result of the job accrues exactly once (rewards had three leaders and a replica
    // killed under it too), and the ledger invariant holds: the operators' check (run by a replica
    // on its own store and live projection) and a replay of the store here, which sums every account.
    const paid = shardValidated.flatMap((v) => v.data.accepted.map((a) => `${v.data.shardId}/${a.nodeId}`)).sort();
    expect(new Set(paid).size).toBe(paid.length);
    const accrualsOfJob = async () => (await storedEvents('rewards')).filter((e) => e.type === 'RewardAccrued' && (e.data as { jobId: string }).jobId === jobId);
    for (const until = Date.now() + 180_000; (await accrualsOfJob()).length < paid.length; ) {
      if (Date.now() > until) {
        await diagnose();
        throw new Error(`${(await accrualsOfJob()).length} of ${paid.length} results accrued within 180 s of the job's end`);
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    marks['accrued'] = performance.now() - started;
    const accrued = (await accrualsOfJob()).map((e) => e.data as { shardId: string; nodeId: string }).map((d) => `${d.shardId}/${d.nodeId}`).sort();
    expect(accrued).toEqual(paid);
    let check = { ok: false, sum: '', livePosition: -1, headPosition: 0, violations: [] as string[], mismatches: [] as unknown[] };
    for (const until = Date.now() + 60_000; check.livePosition !== check.headPosition; ) {
      if (Date.now() > until) throw new Error(`the rewards ledger projection did not catch up: ${JSON.stringify(check)}`);
      check = await retryTimeouts(() => requestJson<typeof check>(bus.nc, REWARDS_RPC.check, {}, 20_000));
      if (check.livePosition !== check.headPosition) await new Promise((r) => setTimeout(r, 200));
    }
    expect(check).toMatchObject({ ok: true, sum: '0', violations: [], mismatches: [] });
    const auditor = new LedgerAuditor();
    for (const e of await storedEvents('rewards')) auditor.apply({ position: e.position, event: e as unknown as RewardsFamilyEvent });
    const replay = auditor.result();
    expect(replay.violations).toEqual([]);
    expect(sumOf(replay.balances)).toBe(0n);
    expect(replay.events).toBe(paid.length);

    for (const [service, family] of [['scheduler', 'jobs'], ['nodes', 'nodes'], ['rewards', 'rewards']] as const) {
      const store = await openSqlEventStore({ type: 'postgres', url: dbUrl(databases[service]) });
      try {
        const stored: string[] = [];
        for (let page = await store.readAll(0, 1000); page.length > 0; page = await store.readAll(page.at(-1)!.position, 1000)) stored.push(...page.map((e) => e.metadata.eventId));
        let inStream: string[] = [];
        for (let i = 0; i < 50; i++) {
          inStream = (family === 'jobs' && i === 0 ? jobEvents : await streamEvents(family)).map((e) => e.metadata.eventId);
          if (inStream.length >= stored.length) break;
          await new Promise((r) => setTimeout(r, 200)); // the relay's last events on their way
        }
        expect(inStream).toEqual(stored);
      } finally {
        await store.close();
      }
    }
    // Replicas that exited on their own (not killed here): the platform carries on without them, but each is a bug to look at.
    const crashed = [...replicas].filter(([, p]) => p.child.exitCode !== null && p.child.signalCode === null).map(([name, p]) => `${name}: ${p.output().replace(ANSI, '').slice(-600)}`);
    process.stdout.write(`scale-out e2e: ${JSON.stringify({ shards: SHARDS, restarts, crashed, ...Object.fromEntries(Object.entries(marks).map(([k, v]) => [k, Math.round(v)])) })}\n`);
  }, 900_000);
});
