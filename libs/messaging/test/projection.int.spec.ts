import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource, type EntityManager, type MigrationInterface, type QueryRunner } from 'typeorm';
import { PARKED_STREAM, streamOfFamily } from '@weai/contracts';
import { nodeCameOnline } from '@weai/eventstore/src/testing/fixtures';
import { type Bus, CreateProjectionCheckpoints1764100000001, encodeEvent, type Projection, ProjectionRunner, type ReceivedEvent, connectBus, ensureStreams, readCheckpoint } from '../src';
import { type TestNatsServer, startNatsServer } from '../src/testing/nats-server';
import { publishAsRelay } from '../src/testing/publish';
import { readWholeStream } from '../src/testing/streams';

class CreateCounts1700000000000 implements MigrationInterface {
  async up(q: QueryRunner) {
    await q.query('CREATE TABLE online_counts (node_id VARCHAR(128) PRIMARY KEY, n INTEGER NOT NULL)');
    await q.query('CREATE TABLE other_counts (node_id VARCHAR(128) PRIMARY KEY, n INTEGER NOT NULL)');
  }
  async down() {}
}

/** Counts NodeCameOnline per node; `failOn` makes apply throw for a node id (`times` times, then succeed). */
function countsProjection(fail: { nodeId?: string; times?: number } = {}): Projection & { attempts: number } {
  return {
    name: 'online-counts',
    streams: [streamOfFamily('nodes')],
    attempts: 0,
    async apply({ event }: ReceivedEvent, em: EntityManager) {
      const nodeId = (event.data as { nodeId: string }).nodeId;
      await em.query('INSERT INTO online_counts (node_id, n) VALUES (?, 1) ON CONFLICT (node_id) DO UPDATE SET n = n + 1', [nodeId]);
      if (nodeId === fail.nodeId && this.attempts++ < (fail.times ?? Infinity)) throw new Error(`cannot project ${nodeId}`);
    },
  };
}

/** Like countsProjection into `table`, but each apply waits a moment (another transaction could begin meanwhile); fails once on `failOn`. */
function slowCounts(name: string, table: string, failOn?: string): Projection {
  let failed = false;
  return {
    name,
    streams: [streamOfFamily('nodes')],
    async apply({ event }: ReceivedEvent, em: EntityManager) {
      const nodeId = (event.data as { nodeId: string }).nodeId;
      await em.query(`INSERT INTO ${table} (node_id, n) VALUES (?, 1) ON CONFLICT (node_id) DO UPDATE SET n = n + 1`, [nodeId]);
      await new Promise((r) => setTimeout(r, 2));
      if (nodeId === failOn && !failed) {
        failed = true;
        throw new Error(`cannot project ${nodeId}`);
      }
    },
  };
}

describe('ProjectionRunner', () => {
  let nats: TestNatsServer;
  let bus: Bus;
  let dir: string;
  let ds: DataSource;

  beforeEach(async () => {
    nats = await startNatsServer();
    bus = await connectBus({ servers: nats.url, name: 'projection-test' });
    await ensureStreams(bus.jsm);
    dir = mkdtempSync(join(tmpdir(), 'weai-proj-'));
    ds = await new DataSource({
      type: 'better-sqlite3',
      database: join(dir, 'read.sqlite'),
      migrations: [CreateProjectionCheckpoints1764100000001, CreateCounts1700000000000],
      migrationsRun: true,
    }).initialize();
  });
  afterEach(async () => {
    await ds.destroy();
    await bus.close();
    await nats.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const counts = async () =>
    Object.fromEntries(((await ds.query('SELECT node_id, n FROM online_counts ORDER BY node_id')) as Array<{ node_id: string; n: number }>).map((r) => [r.node_id, r.n]));

  async function runUntil(projection: Projection, sequence: number, extra: { maxAttempts?: number; batchSize?: number; onError?: (e: unknown) => void } = {}) {
    let reached!: () => void;
    const done = new Promise<void>((r) => (reached = r));
    const parked: string[] = [];
    const runner = new ProjectionRunner({
      dataSource: ds,
      js: bus.js,
      projection,
      ...extra,
      onCommitted: (_stream, cp) => cp.streamSequence >= sequence && reached(),
      onParked: (_msg, reason) => parked.push(reason),
    });
    await runner.start();
    await done;
    await runner.stop();
    return parked;
  }

  it('applies each event once and resumes from the checkpoint stored with the read model', async () => {
    for (const id of ['a', 'b', 'a']) await publishAsRelay(bus, nodeCameOnline(id));
    await runUntil(countsProjection(), 3);
    expect(await counts()).toEqual({ a: 2, b: 1 });
    await publishAsRelay(bus, nodeCameOnline('b'));
    await runUntil(countsProjection(), 4);
    expect(await counts()).toEqual({ a: 2, b: 2 });
    expect(await readCheckpoint(ds, 'online-counts', streamOfFamily('nodes'))).toEqual({ streamSequence: 4, storePosition: expect.any(Number) });
  });

  it('skips an event re-published at a position it already applied', async () => {
    const first = await publishAsRelay(bus, nodeCameOnline('a'));
    await runUntil(countsProjection(), 1);
    // The relay re-publishes after JetStream lost its tail: same event, same position, new sequence.
    const again = encodeEvent('nodes', first);
    await bus.js.publish(again.subject, again.body, { headers: again.headers });
    await runUntil(countsProjection(), 2);
    expect(await counts()).toEqual({ a: 1 });
  });

  it('rolls back a failed batch with its checkpoint, then applies the events one by one exactly once', async () => {
    for (const id of ['a', 'b', 'c']) await publishAsRelay(bus, nodeCameOnline(id));
    await runUntil(countsProjection({ nodeId: 'b', times: 1 }), 3);
    expect(await counts()).toEqual({ a: 1, b: 1, c: 1 });
  });

  it('given two projections on one SQLite database, when their batches overlap and one rolls back, then each applies every event exactly once', async () => {
    const ids = Array.from({ length: 10 }, (_, i) => `n${i}`);
    for (const id of [...ids, ...ids]) await publishAsRelay(bus, nodeCameOnline(id));
    const errors: string[] = [];
    await Promise.all([
      runUntil(slowCounts('online-counts', 'online_counts', 'n3'), 20, { batchSize: 4, onError: (e) => errors.push((e as Error).message) }),
      runUntil(slowCounts('other-counts', 'other_counts'), 20, { batchSize: 3, onError: (e) => errors.push((e as Error).message) }),
    ]);
    const expected = Object.fromEntries(ids.map((id) => [id, 2]));
    expect(await counts()).toEqual(expected);
    const other = (await ds.query('SELECT node_id, n FROM other_counts')) as Array<{ node_id: string; n: number }>;
    expect(Object.fromEntries(other.map((r) => [r.node_id, r.n]))).toEqual(expected);
    expect(errors).toEqual(['cannot project n3']);
  });

  it('parks an event that keeps failing and a corrupt message, and goes on', async () => {
    await publishAsRelay(bus, nodeCameOnline('poison'));
    await bus.js.publish('weai.evt.nodes.x.NodeCameOnline', new TextEncoder().encode('garbage'));
    await publishAsRelay(bus, nodeCameOnline('fine'));
    const parked = await runUntil(countsProjection({ nodeId: 'poison' }), 3, { maxAttempts: 2 });
    expect(await counts()).toEqual({ fine: 1 });
    expect(parked).toEqual([expect.stringMatching(/failed 2 times: cannot project poison/), expect.stringMatching(/not JSON/)]);
    expect((await readWholeStream(bus.js, bus.jsm, PARKED_STREAM)).map((m) => m.subject)).toEqual([
      'weai.parked.projection-online-counts',
      'weai.parked.projection-online-counts',
    ]);
  });
});
