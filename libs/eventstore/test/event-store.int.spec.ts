import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { EsdbEventStore, openSqlEventStore } from '../src';
import { eventStoreContract } from '../src/testing/contract';

const dir = mkdtempSync(join(tmpdir(), 'weai-es-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sqlitePath = join(dir, 'events.sqlite');
eventStoreContract('SQLite', () => openSqlEventStore({ type: 'sqlite', path: sqlitePath }), {
  globallyUniqueEventIds: true,
  reopen: () => openSqlEventStore({ type: 'sqlite', path: sqlitePath }),
});

export const PG_URL = process.env['POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const schema = `weai_contract_${process.pid}`;
eventStoreContract('PostgreSQL', () => openSqlEventStore({ type: 'postgres', url: PG_URL, schema }), {
  globallyUniqueEventIds: true,
  reopen: () => openSqlEventStore({ type: 'postgres', url: PG_URL, schema }),
});
afterAll(async () => {
  const ds = await new DataSource({ type: 'postgres', url: PG_URL }).initialize();
  await ds.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await ds.destroy();
});

const esdbUrl = process.env['EVENTSTORE_URL'];
if (esdbUrl) {
  eventStoreContract('EventStoreDB', async () => EsdbEventStore.connect(esdbUrl), { globallyUniqueEventIds: false });
} else {
  describe('EventStore contract: EventStoreDB', () => {
    it.todo('runs when EVENTSTORE_URL is set (docker compose up eventstoredb)');
  });
}
