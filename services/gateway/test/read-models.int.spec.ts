import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import type { WeaiEvent } from '@weai/contracts';
import type { Projection, ReceivedEvent } from '@weai/messaging';
import { GATEWAY_READ_MODEL_ENTITIES, GATEWAY_READ_MODEL_MIGRATIONS, openGatewayReadModel } from '../src/adapters/projections.lifecycle';
import { JobShardEntity, PartnerJobs, jobCostsProjection, partnerJobsProjection } from '../src/application/partner-jobs.read-model';
import { THROUGHPUT_RETAINED_MINUTES, Throughput, ThroughputEntity, throughputProjection } from '../src/application/throughput.read-model';
import { type Bus, CreateProjectionCheckpoints1764100000001, ProjectionRunner, connectBus, encodeEvent, ensureStreams } from '@weai/messaging';
import { type TestNatsServer, startNatsServer } from '@weai/messaging/src/testing/nats-server';
import { GATEWAY_PROJECTIONS } from '../src/adapters/projections.lifecycle';

const PG_URL = process.env['POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const T0 = Date.parse('2026-11-26T10:00:00.000Z');
const at = (ms: number) => new Date(T0 + ms).toISOString();
const HASH = 'a'.repeat(64);

let position = 0;
/** An event as the runner hands it to a projection, at the next store position. */
function received(type: string, data: Record<string, unknown>, occurredAt: string): ReceivedEvent {
  position += 1;
  const metadata = { eventId: randomUUID(), correlationId: 'c-1', causationId: 'c-1', occurredAt };
  const event = { type, data, metadata } as unknown as WeaiEvent;
  return { event, envelope: { type, schemaVersion: 1, streamId: 'x', revision: 0, position, data, metadata }, streamSequence: position, deliveryCount: 1 };
}

const job = (jobId: string, partnerId: string) => ({ jobId, partnerId });
const shard = (jobId: string, partnerId: string, shardIndex: number) => ({ ...job(jobId, partnerId), shardId: `${jobId}-s${shardIndex}`, shardIndex });
const validated = (jobId: string, partnerId: string, i: number) => ({ ...shard(jobId, partnerId, i), outputHash: HASH, replica: 0, method: 'redundancy', accepted: [{ nodeId: 'n1', computeMs: 5 }], rejectedNodeIds: [] });
const accrued = (jobId: string, shardIndex: number, amount: string, platformFee: string, partnerShare?: string) => ({
  ownerId: 'o1',
  nodeId: 'n1',
  jobId,
  shardId: `${jobId}-s${shardIndex}`,
  amount,
  platformFee,
  ...(partnerShare ? { partnerId: 'acme', partnerShare } : {}),
});

async function applyAll(ds: DataSource, projection: Projection, events: ReceivedEvent[]): Promise<void> {
  await ds.transaction(async (em) => {
    for (const e of events) await projection.apply(e, em);
  });
}

/** Opens a fresh PostgreSQL database for one suite, dropped afterwards. */
async function openPostgres(name: string): Promise<{ ds: DataSource; drop: () => Promise<void> }> {
  const admin = await new DataSource({ type: 'postgres', url: PG_URL }).initialize();
  await admin.query(`DROP DATABASE IF EXISTS ${name}`);
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(PG_URL);
  url.pathname = `/${name}`;
  const ds = await new DataSource({
    type: 'postgres',
    url: url.toString(),
    migrations: [CreateProjectionCheckpoints1764100000001, ...GATEWAY_READ_MODEL_MIGRATIONS],
    migrationsRun: true,
    migrationsTableName: 'weai_read_migrations',
    entities: GATEWAY_READ_MODEL_ENTITIES,
  }).initialize();
  return {
    ds,
    drop: async () => {
      await ds.destroy();
      await admin.query(`DROP DATABASE IF EXISTS ${name}`);
      await admin.destroy();
    },
  };
}

describe.each(['sqlite', 'postgres'] as const)("the gateway's read models on %s (int)", (kind) => {
  let ds: DataSource;
  let drop: () => Promise<void>;

  beforeAll(async () => {
    if (kind === 'sqlite') {
      ds = await openGatewayReadModel('sqlite::memory:');
      drop = () => ds.destroy();
    } else {
      ({ ds, drop } = await openPostgres(`weai_gateway_rm_${process.pid}`));
    }
  });
  afterAll(async () => drop?.());

  it('lists each partner its own jobs, newest first, with status, shard counts, times and the exact cost summed from the rewards', async () => {
    await applyAll(ds, partnerJobsProjection, [
      received('JobSubmitted', { ...job('j-old', 'acme') }, at(0)),
      received('JobPartitioned', { ...job('j-old', 'acme'), shardCount: 3 }, at(1)),
      received('ShardValidated', validated('j-old', 'acme', 0), at(2_000)),
      // A retryable failure is run again; only a final one counts, and only once per shard.
      received('ShardFailed', { ...shard('j-old', 'acme', 1), replica: 0, reason: 'timeout', retryable: true }, at(3_000)),
      received('ShardFailed', { ...shard('j-old', 'acme', 1), replica: 0, reason: 'bad model', retryable: false }, at(3_500)),
      received('ShardFailed', { ...shard('j-old', 'acme', 1), replica: 1, reason: 'bad model', retryable: false }, at(3_600)),
      received('JobFailed', { ...job('j-old', 'acme'), reason: 'shard 1 failed' }, at(4_000)),
      // A replica reporting after the job ended changes nothing.
      received('ShardFailed', { ...shard('j-old', 'acme', 2), replica: 0, reason: 'bad model', retryable: false }, at(4_500)),
      received('JobSubmitted', { ...job('j-new', 'acme') }, at(10_000)),
      received('JobPartitioned', { ...job('j-new', 'acme'), shardCount: 2 }, at(10_001)),
      received('ShardValidated', validated('j-new', 'acme', 0), at(11_000)),
      received('ShardValidated', validated('j-new', 'acme', 1), at(12_000)),
      received('JobCompleted', { ...job('j-new', 'acme'), outputHash: HASH, shardCount: 2 }, at(12_500)),
      received('JobSubmitted', { ...job('j-other', 'globex') }, at(20_000)),
    ]);
    // Amounts beyond 2^53: a float would lose the last digits.
    await applyAll(ds, jobCostsProjection, [
      received('RewardAccrued', accrued('j-new', 0, '9007199254740993', '7'), at(11_500)),
      received('RewardAccrued', accrued('j-new', 1, '1000000000000000001', '3', '5'), at(12_200)),
      received('RewardAccrued', accrued('j-other', 0, '40', '2'), at(21_000)),
      received('WithdrawalRequested', { withdrawalId: 'w1', ownerId: 'o1', amount: '10', payoutAddress: `0x${'1'.repeat(40)}`, nonce: '1', deadline: '2' }, at(22_000)),
    ]);
    // Ended jobs keep one row each and no shard rows: their counts are final.
    expect((await ds.getRepository(JobShardEntity).find()).map((r) => r.jobId)).toEqual([]);
    const jobs = new PartnerJobs(ds);
    const acme = await jobs.list('acme', 20, 0);
    expect(acme).toEqual({
      nextOffset: null,
      jobs: [
        {
          jobId: 'j-new',
          status: 'completed',
          shardCount: 2,
          shardsValidated: 2,
          shardsFailed: 0,
          submittedAt: at(10_000),
          finishedAt: at(12_500),
          cost: { total: String(9007199254740993n + 7n + 1000000000000000001n + 3n), ownerRewards: String(9007199254740993n + 1000000000000000001n), platformFee: '10' },
        },
        { jobId: 'j-old', status: 'failed', shardCount: 3, shardsValidated: 1, shardsFailed: 1, submittedAt: at(0), finishedAt: at(4_000), reason: 'shard 1 failed', cost: { total: '0', ownerRewards: '0', platformFee: '0' } },
      ],
    });
    expect(await jobs.list('acme', 1, 0)).toMatchObject({ jobs: [{ jobId: 'j-new' }], nextOffset: 1 });
    expect(await jobs.list('acme', 1, 1)).toMatchObject({ jobs: [{ jobId: 'j-old' }], nextOffset: null });
    expect((await jobs.list('globex', 20, 0)).jobs.map((j) => [j.jobId, j.status, j.cost.total])).toEqual([['j-other', 'submitted', '42']]);
    expect((await jobs.list('nobody', 20, 0)).jobs).toEqual([]);
    // Another partner's job costs nothing as far as this partner is told.
    expect(await jobs.cost('globex', 'j-new')).toEqual({ total: '0', ownerRewards: '0', platformFee: '0' });
    expect((await jobs.cost('acme', 'j-new')).platformFee).toBe('10');
  });

  it('counts shards validated and jobs completed per minute of the event, keeps a bounded window, and fills the hour with zeros', async () => {
    const minute = (m: number, s = 0) => at(m * 60_000 + s * 1000);
    await applyAll(ds, throughputProjection, [
      received('ShardValidated', validated('t1', 'acme', 0), minute(0, 5)),
      received('ShardValidated', validated('t1', 'acme', 1), minute(0, 40)),
      received('JobCompleted', { ...job('t1', 'acme'), outputHash: HASH, shardCount: 2 }, minute(0, 41)),
      received('ShardDispatched', { ...shard('t2', 'acme', 0), replica: 0, attempt: 1 }, minute(1)),
      received('ShardValidated', validated('t2', 'acme', 0), minute(2, 59)),
    ]);
    const hour = await new Throughput(ds).lastHour(new Date(Date.parse(minute(2, 30))));
    expect(hour).toHaveLength(60);
    expect(hour[59]).toEqual({ at: minute(2), shardsValidated: 1, jobsCompleted: 0 });
    expect(hour[58]).toEqual({ at: minute(1), shardsValidated: 0, jobsCompleted: 0 });
    expect(hour[57]).toEqual({ at: minute(0), shardsValidated: 2, jobsCompleted: 1 });
    expect(hour.slice(0, 57).every((p) => p.shardsValidated === 0 && p.jobsCompleted === 0)).toBe(true);

    // Hours later: the old buckets are pruned by the next event, so the table never grows with history.
    await applyAll(ds, throughputProjection, [received('ShardValidated', validated('t3', 'acme', 0), minute(300))]);
    const minutes = (await ds.getRepository(ThroughputEntity).find()).map((r) => r.minute);
    expect(minutes).toEqual([Math.floor(Date.parse(minute(300)) / 60_000)]);
    expect(Math.max(...minutes) - Math.min(...minutes)).toBeLessThanOrEqual(THROUGHPUT_RETAINED_MINUTES);
    expect((await new Throughput(ds).lastHour(new Date(Date.parse(minute(2, 30))))).every((p) => p.shardsValidated === 0)).toBe(true);
  });
});

describe("the gateway's projection runners over a real nats-server (int)", () => {
  let nats: TestNatsServer;
  let bus: Bus;
  let ds: DataSource;
  const positions = { jobs: 0, rewards: 0 };

  beforeAll(async () => {
    nats = await startNatsServer();
    bus = await connectBus({ servers: nats.url, name: 'gateway-read-models-test' });
    await ensureStreams(bus.jsm);
    ds = await openGatewayReadModel('sqlite::memory:');
  });
  afterAll(async () => {
    await ds?.destroy();
    await bus?.close();
    await nats?.stop();
  });

  /** Publishes as the family's relay would; answers the stream sequence. */
  async function publish(family: 'jobs' | 'rewards', type: string, data: Record<string, unknown>, occurredAt: string): Promise<number> {
    const event = { type, data, metadata: { eventId: randomUUID(), correlationId: 'c-1', causationId: 'c-1', occurredAt } } as unknown as WeaiEvent;
    const { subject, body, headers } = encodeEvent(family, { ...event, streamId: `${family}-x`, revision: 0, position: ++positions[family], schemaVersion: 1, recordedAt: occurredAt });
    return (await bus.js.publish(subject, body, { headers, msgID: event.metadata.eventId })).seq;
  }

  it('lists the job with its status and exact cost, and counts it in the throughput, from events published to WEAI_JOBS and WEAI_REWARDS', async () => {
    const now = Date.now();
    const t = (ms: number) => new Date(now - 120_000 + ms).toISOString();
    await publish('jobs', 'JobSubmitted', { jobId: 'jr-1', partnerId: 'acme', modelHash: HASH, inputHash: HASH, itemCount: 16, shardSize: 8, capability: 'cpu.generic', deadline: t(3_600_000), redundancy: { replicas: 1, spotCheckRate: 0, tolerance: 0 } }, t(0));
    await publish('jobs', 'JobPartitioned', { ...job('jr-1', 'acme'), shardCount: 2 }, t(1));
    await publish('jobs', 'ShardValidated', validated('jr-1', 'acme', 0), t(1_000));
    await publish('jobs', 'ShardValidated', validated('jr-1', 'acme', 1), t(2_000));
    const lastJobs = await publish('jobs', 'JobCompleted', { ...job('jr-1', 'acme'), outputHash: HASH, shardCount: 2 }, t(2_500));
    await publish('rewards', 'RewardAccrued', accrued('jr-1', 0, '123456789012345678901', '11'), t(1_100));
    const lastRewards = await publish('rewards', 'RewardAccrued', accrued('jr-1', 1, '9', '1', '2'), t(2_100));

    const caughtUp = new Set<string>();
    let done!: () => void;
    const all = new Promise<void>((r) => (done = r));
    const wanted: Record<string, number> = { 'gateway-partner-jobs': lastJobs, 'gateway-throughput': lastJobs, 'gateway-job-costs': lastRewards };
    const runners = GATEWAY_PROJECTIONS.map(
      (projection) =>
        new ProjectionRunner({
          dataSource: ds,
          js: bus.js,
          projection,
          onCommitted: (_stream, cp) => {
            if (cp.streamSequence >= wanted[projection.name]!) caughtUp.add(projection.name);
            if (caughtUp.size === runners.length) done();
          },
        }),
    );
    for (const runner of runners) await runner.start();
    await all;
    for (const runner of runners) await runner.stop();

    expect(await new PartnerJobs(ds).list('acme', 20, 0)).toEqual({
      nextOffset: null,
      jobs: [{ jobId: 'jr-1', status: 'completed', shardCount: 2, shardsValidated: 2, shardsFailed: 0, submittedAt: t(0), finishedAt: t(2_500), cost: { total: '123456789012345678922', ownerRewards: '123456789012345678910', platformFee: '12' } }],
    });
    expect((await new PartnerJobs(ds).list('globex', 20, 0)).jobs).toEqual([]);
    const hour = await new Throughput(ds).lastHour(new Date(now));
    expect(hour.reduce((sum, p) => sum + p.shardsValidated, 0)).toBe(2);
    expect(hour.reduce((sum, p) => sum + p.jobsCompleted, 0)).toBe(1);
  });
});
