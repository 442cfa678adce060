/**
 * The audit's view of a store: stored rows, byte for byte, from SQLite and PostgreSQL alike, so
 * the same log gives the same leaves on either (positions and recording times aside).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { leafHash } from '@weai/chain';
import { type EventStore, type EventStoreConfig, openSqlEventStore, openStoredLog } from '@weai/eventstore';
import { nodeCameOnline } from '@weai/eventstore/src/testing/fixtures';

const PG_URL = process.env['POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const SCHEMA = `audit_${process.pid}`;

describe.each(['sqlite', 'postgres'] as const)('openStoredLog on %s', (kind) => {
  let dir: string;
  let config: EventStoreConfig;
  let store: EventStore;
  const events = Array.from({ length: 5 }, (_, i) => nodeCameOnline(`node-${i % 2}`, `2026-11-25T10:00:0${i}.000Z`));

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'weai-stored-log-'));
    config = kind === 'sqlite' ? { type: 'sqlite', path: join(dir, 'log.sqlite') } : { type: 'postgres', url: PG_URL, schema: SCHEMA };
    store = await openSqlEventStore(config);
    for (const e of events) await store.append(`node-${(e.data as { nodeId: string }).nodeId}`, [e], 'any');
  });

  afterAll(async () => {
    await store?.close();
    if (kind === 'postgres') {
      const ds = await new DataSource({ type: 'postgres', url: PG_URL }).initialize();
      await ds.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
      await ds.destroy();
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads the rows as stored, in position order, paged, with the head position', async () => {
    const log = await openStoredLog(config);
    try {
      const all = await log.readAfter(0, 100);
      expect(all.map((r) => r.position)).toEqual((await store.readAll(0, 100)).map((e) => e.position));
      expect(all.map((r) => [r.streamId, r.revision, r.type, r.schemaVersion])).toEqual(events.map((e, i) => [`node-node-${i % 2}`, Math.floor(i / 2), 'NodeCameOnline', 1]));
      expect(all.map((r) => r.data)).toEqual(events.map((e) => JSON.stringify(e.data)));
      expect(all.map((r) => JSON.parse(r.metadata) as unknown)).toEqual(events.map((e) => e.metadata));
      expect(typeof all[0]!.position).toBe('number');
      expect(await log.readAfter(all[1]!.position, 2)).toEqual(all.slice(2, 4));
      expect(await log.headPosition()).toBe(all[4]!.position);
      expect(new Set(all.map(leafHash)).size).toBe(5);
      await expect(log.readAfter(-1, 2)).rejects.toThrow(/position must be a non-negative integer/);
    } finally {
      await log.close();
    }
  });

  it('refuses a store that does not exist instead of creating an empty one', async () => {
    const missing: EventStoreConfig = kind === 'sqlite' ? { type: 'sqlite', path: join(dir, 'nope.sqlite') } : { type: 'postgres', url: PG_URL, schema: `${SCHEMA}_nope` };
    await expect(openStoredLog(missing)).rejects.toThrow(/cannot read the event store at/);
  });
});
