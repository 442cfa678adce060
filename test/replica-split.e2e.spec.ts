/**
 * Issue 9: "a test starts a second replica under load and shows the work split between them",
 * with service processes. One scheduler replica runs a job of 5,000 one-item shards on two agents;
 * at 10 % validated a second replica starts (same PostgreSQL event store, a read model of its own,
 * leader election on). Each replica's `/metrics` counts the results it handled on the shared
 * durable consumer `scheduler-results`: both must have handled results, the newcomer a real share
 * of what was left, and together exactly one per result in the stream; the job completes with
 * every shard validated once.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { RESULTS_STREAM } from '@weai/contracts';
import { freePort } from '@weai/messaging/src/testing/nats-server';
import { referenceMlp } from '@weai/node-agent/src/onnx/reference-model';
import { PartnerClient } from '@weai/sdk';
import { ANSI, type TestNetwork, startNetwork } from './support/control-plane';
import { ofType } from './support/events';
import { type ManagedProcess, startTs } from './support/processes';
import { dataset } from './support/reference';

const PG_URL = process.env['POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const SHARDS = 5000;

/** `weai_consumer_messages_total{durable="scheduler-results",outcome="handled"}` of one replica. */
async function resultsHandled(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('weai_consumer_messages_total{') && l.includes('durable="scheduler-results"') && l.includes('outcome="handled"'));
  return line ? Number(line.split(' ').pop()) : 0;
}

describe('scale out (e2e): a second scheduler replica started under load takes a share of the work', () => {
  let net: TestNetwork;
  let partner: PartnerClient;
  const db = `weai_split_${randomUUID().slice(0, 8)}`;
  const replicas: Array<{ process: ManagedProcess; port: number }> = [];

  const startScheduler = async (name: string) => {
    const port = await freePort();
    const p = startTs(name, 'services/scheduler/src/main.ts', [], {
      NATS_URL: net.nats.url,
      EVENT_STORE_URL: PG_URL.replace(/\/[^/]*$/, `/${db}`),
      WEAI_DATA_DIR: join(net.dir, name),
      WEAI_LEADER_ELECTION: 'on',
      WEAI_LEADER_TTL_MS: '3000',
      WEAI_HEALTH_PORT: String(port),
      SCHEDULER_MAX_SHARDS: String(SHARDS),
    });
    replicas.push({ process: p, port });
    await p.waitFor(/scheduler service ready/, 120_000);
    return port;
  };

  beforeAll(async () => {
    const pg = await new DataSource({ type: 'postgres', url: PG_URL }).initialize();
    await pg.query(`CREATE DATABASE ${db}`);
    await pg.destroy();
    net = await startNetwork();
    await net.startService('nodes');
    await startScheduler('scheduler-a');
    await Promise.all([net.startAgent('agent-1', { slots: 3 }), net.startAgent('agent-2', { slots: 3 })]);
    partner = await PartnerClient.connect({ servers: net.nats.url, partnerId: 'partner-split' });
  }, 240_000);

  afterAll(async () => {
    await partner?.close().catch(() => undefined);
    await Promise.all(replicas.map((r) => r.process.kill('SIGKILL')));
    await net?.stop();
    const pg = await new DataSource({ type: 'postgres', url: PG_URL }).initialize();
    await pg.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`).catch(() => undefined);
    await pg.destroy();
  }, 60_000);

  it('splits the results between the replicas, each handled once, and the job completes', async () => {
    const jobId = `job-${randomUUID()}`;
    await partner.submit(await partner.uploadModel(referenceMlp()), await partner.uploadDataset(dataset(SHARDS, 64)), {
      jobId,
      shardSize: 1,
      capability: 'cpu.generic',
      deadline: new Date(Date.now() + 3_600_000).toISOString(),
      redundancy: { replicas: 1, spotCheckRate: 0.1, tolerance: 1e-5 },
    });
    const validated = () => ofType(net.jobs.events, 'ShardValidated').filter((e) => e.data.jobId === jobId).length;
    await net.jobs.until('10 % of the shards validated', () => validated() >= SHARDS * 0.1, 120_000);
    await startScheduler('scheduler-b');
    // From here on both replicas pull from the shared durable consumer.
    const aAtB = await resultsHandled(replicas[0]!.port);
    const validatedAtB = validated();
    expect(validatedAtB).toBeLessThan(SHARDS * 0.8); // else the job was too fast to show a split here

    try {
      await net.jobs.until('the job completed', (events) => ofType(events, 'JobCompleted').some((e) => e.data.jobId === jobId), 240_000);
    } catch (error) {
      for (const r of replicas) process.stderr.write(`--- ${r.process.name}\n${r.process.output().replace(ANSI, '').slice(-2000)}\n`);
      throw error;
    }
    const [a, b] = await Promise.all(replicas.map((r) => resultsHandled(r.port)));
    const results = (await net.bus.jsm.streams.info(RESULTS_STREAM)).state.messages;
    process.stdout.write(`replica split: ${JSON.stringify({ shards: SHARDS, results, validatedWhenBReady: validatedAtB, aWhenBReady: aAtB, a, b })}\n`);
    expect(a! + b!).toBe(results); // every result handled, and by one replica only
    expect(b).toBeGreaterThan((results - aAtB) * 0.1); // the newcomer took a real share of what was left
    expect(a! - aAtB).toBeGreaterThan(0); // and the first one kept working
    const shardIndexes = ofType(net.jobs.events, 'ShardValidated').filter((e) => e.data.jobId === jobId).map((e) => e.data.shardIndex);
    expect(shardIndexes).toHaveLength(SHARDS);
    expect(new Set(shardIndexes).size).toBe(SHARDS);
  }, 600_000);
});
