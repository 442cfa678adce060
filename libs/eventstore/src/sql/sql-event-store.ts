import { EventEmitter } from 'node:events';
import type { Database, Statement } from 'better-sqlite3';
import { DataSource, type EntityManager } from 'typeorm';
import type { WeaiEvent } from '@weai/contracts';
import { type AppendRequest, type EventRow, type StoredId, decideAppend, toRows, validateAppend } from '../append-rules';
import { pollingSubscription } from '../catch-up';
import {
  type AppendResult,
  type EventStore,
  type ExpectedRevision,
  type ReadStreamOptions,
  type RecordedEvent,
  type SubscribeOptions,
  type Subscription,
  checkPosition,
  checkStreamId,
} from '../port';
import { AppendQueue, type QueuedAppend } from './append-queue';
import { EVENT_STORE_MIGRATIONS } from './migrations';
import { SELECT_COLUMNS, type SelectedRow, toRecorded } from './rows';

/** Where a SQL event store lives. */
export type SqlEventStoreConfig =
  | { readonly type: 'sqlite'; /** File path, or ':memory:' for a throw-away store. */ readonly path: string }
  | {
      readonly type: 'postgres';
      /** postgres://user@host:port/database */
      readonly url: string;
      /** Schema holding the tables; created if missing. Default `public`. */
      readonly schema?: string;
    };

/** Key of the advisory lock that orders appends in PostgreSQL (see PostgresEventStore). */
const APPEND_LOCK_KEY = 0x57_45_41_49; // "WEAI"

/** Opens (and migrates) a SQL event store through TypeORM. */
export async function openSqlEventStore(config: SqlEventStoreConfig): Promise<EventStore> {
  if (config.type === 'sqlite') {
    const dataSource = new DataSource({
      type: 'better-sqlite3',
      database: config.path,
      enableWAL: true,
      // FULL makes every commit sync the WAL: an acknowledged append is on disk.
      prepareDatabase: (db: Database) => {
        db.pragma('synchronous = FULL');
      },
      migrations: EVENT_STORE_MIGRATIONS,
      migrationsTableName: 'weai_event_store_migrations',
      migrationsRun: true,
    });
    await dataSource.initialize();
    return new SqliteEventStore(dataSource);
  }
  const schema = config.schema ?? 'public';
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new Error(`schema ${JSON.stringify(schema)} must be a lowercase SQL identifier`);
  if (schema !== 'public') {
    const bootstrap = new DataSource({ type: 'postgres', url: config.url });
    await bootstrap.initialize();
    await bootstrap.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    await bootstrap.destroy();
  }
  const dataSource = new DataSource({
    type: 'postgres',
    url: config.url,
    schema,
    extra: { options: `-c search_path=${schema}`, max: 10 },
    migrations: EVENT_STORE_MIGRATIONS,
    migrationsTableName: 'weai_event_store_migrations',
    migrationsRun: true,
  });
  await dataSource.initialize();
  return new PostgresEventStore(dataSource);
}

/** Shared by both dialects: validation, group commit, catch-up subscriptions. */
abstract class SqlEventStore implements EventStore {
  protected readonly appended = new EventEmitter().setMaxListeners(0);
  private readonly queue = new AppendQueue((batch) => this.writeBatch(batch));

  constructor(protected readonly dataSource: DataSource) {}

  async append(streamId: string, events: readonly WeaiEvent[], expected: ExpectedRevision): Promise<AppendResult> {
    const request = validateAppend(streamId, events, expected);
    return this.queue.enqueue(request);
  }

  abstract readStream(streamId: string, options?: ReadStreamOptions): Promise<RecordedEvent[]>;
  abstract readAll(fromPosition: number, maxCount?: number): Promise<RecordedEvent[]>;
  abstract headPosition(): Promise<number>;
  protected abstract writeBatch(batch: readonly QueuedAppend[]): Promise<void>;

  subscribe(fromPosition: number, handler: (event: RecordedEvent) => Promise<void> | void, options?: SubscribeOptions): Subscription {
    const source = {
      readAll: (from: number, max: number) => this.readAll(from, max),
      onAppended: (listener: () => void) => {
        this.appended.on('appended', listener);
        return () => this.appended.off('appended', listener);
      },
    };
    return pollingSubscription(source, fromPosition, handler, options);
  }

  async close(): Promise<void> {
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
  }
}

/** Tracks, within one batch, the revisions and ids that earlier appends of the batch wrote. */
class BatchState {
  readonly revisions = new Map<string, number>();
  readonly ids = new Map<string, StoredId>();
  record(rows: readonly EventRow[], positions: readonly number[]): void {
    rows.forEach((row, i) => {
      this.revisions.set(row.streamId, row.revision);
      this.ids.set(row.eventId, { streamId: row.streamId, revision: row.revision, position: positions[i]! });
    });
  }
}

function readStreamSql(placeholder: (n: number) => string, options: ReadStreamOptions): { sql: string; limit: boolean } {
  const limit = options.maxCount !== undefined;
  return {
    sql:
      `SELECT ${SELECT_COLUMNS} FROM weai_events WHERE stream_id = ${placeholder(1)} AND revision >= ${placeholder(2)} ` +
      `ORDER BY revision${limit ? ` LIMIT ${placeholder(3)}` : ''}`,
    limit,
  };
}

function checkRead(streamId: string, options: ReadStreamOptions): void {
  checkStreamId(streamId);
  checkPosition(options.fromRevision ?? 0, 'fromRevision');
  if (options.maxCount !== undefined) checkPosition(options.maxCount, 'maxCount');
}

/**
 * SQLite (better-sqlite3): the embedded default. Writes run as one synchronous better-sqlite3
 * transaction on TypeORM's connection, so no other query on that connection can run in the middle
 * of one and see uncommitted rows. WAL with synchronous=FULL: a resolved append is on disk.
 */
class SqliteEventStore extends SqlEventStore {
  private readonly db: Database;
  private readonly stmt: {
    maxRevision: Statement<[string], { r: number | null }>;
    findId: Statement<[string], { stream_id: string; revision: number; position: number }>;
    insert: Statement<[string, number, string, string, number, string, string, string]>;
    readAll: Statement<[number, number], SelectedRow>;
    head: Statement<[], { p: number | null }>;
  };

  constructor(dataSource: DataSource) {
    super(dataSource);
    this.db = (dataSource.driver as unknown as { databaseConnection: Database }).databaseConnection;
    this.stmt = {
      maxRevision: this.db.prepare('SELECT MAX(revision) AS r FROM weai_events WHERE stream_id = ?'),
      findId: this.db.prepare('SELECT stream_id, revision, position FROM weai_events WHERE event_id = ?'),
      insert: this.db.prepare(
        'INSERT INTO weai_events (stream_id, revision, event_id, type, schema_version, data, metadata, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      readAll: this.db.prepare(`SELECT ${SELECT_COLUMNS} FROM weai_events WHERE position > ? ORDER BY position LIMIT ?`),
      head: this.db.prepare('SELECT MAX(position) AS p FROM weai_events'),
    };
  }

  protected async writeBatch(batch: readonly QueuedAppend[]): Promise<void> {
    const outcomes = this.db.transaction(() => {
      const state = new BatchState();
      const recordedAt = new Date().toISOString();
      return batch.map((item) => {
        const req = item.request;
        const actual = this.revisionOf(req.streamId, state);
        const stored = this.storedIds(req, state);
        let decision;
        try {
          decision = decideAppend(req, actual, stored);
        } catch (error) {
          return { ok: false as const, error };
        }
        if (decision.kind === 'already-written') return { ok: true as const, result: decision.result };
        const rows = toRows(req, decision.firstRevision, recordedAt);
        const positions = rows.map(
          (r) => Number(this.stmt.insert.run(r.streamId, r.revision, r.eventId, r.type, r.schemaVersion, r.data, r.metadata, r.recordedAt).lastInsertRowid),
        );
        state.record(rows, positions);
        return { ok: true as const, result: { nextExpectedRevision: rows[rows.length - 1]!.revision, position: positions[positions.length - 1]! } };
      });
    })();
    outcomes.forEach((o, i) => (o.ok ? batch[i]!.resolve(o.result) : batch[i]!.reject(o.error)));
    this.appended.emit('appended');
  }

  private revisionOf(streamId: string, state: BatchState): number {
    return state.revisions.get(streamId) ?? this.stmt.maxRevision.get(streamId)?.r ?? -1;
  }

  private storedIds(req: AppendRequest, state: BatchState): Map<string, StoredId> {
    const found = new Map<string, StoredId>();
    for (const e of req.events) {
      const id = e.metadata.eventId;
      const inBatch = state.ids.get(id);
      const row = inBatch ? undefined : this.stmt.findId.get(id);
      const stored = inBatch ?? (row && { streamId: row.stream_id, revision: row.revision, position: row.position });
      if (stored) found.set(id, stored);
    }
    return found;
  }

  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    checkRead(streamId, options);
    const { sql, limit } = readStreamSql(() => '?', options);
    const params: unknown[] = [streamId, options.fromRevision ?? 0];
    if (limit) params.push(options.maxCount);
    return (this.db.prepare(sql).all(...params) as SelectedRow[]).map(toRecorded);
  }

  async readAll(fromPosition: number, maxCount = 1000): Promise<RecordedEvent[]> {
    checkPosition(fromPosition, 'fromPosition');
    checkPosition(maxCount, 'maxCount');
    return this.stmt.readAll.all(fromPosition, maxCount).map(toRecorded);
  }

  async headPosition(): Promise<number> {
    return this.stmt.head.get()?.p ?? 0;
  }
}

/**
 * PostgreSQL through TypeORM's pool. Every write transaction first takes one advisory lock, so
 * positions are assigned and become visible in the same order: a reader that sees position N can
 * never later see a smaller one appear (the gap problem of concurrent sequences). Group commit keeps
 * the serialised section cheap: one lock and one WAL flush per batch of appends.
 */
class PostgresEventStore extends SqlEventStore {
  protected async writeBatch(batch: readonly QueuedAppend[]): Promise<void> {
    const settled: Array<() => void> = [];
    await this.dataSource.transaction(async (em) => {
      await em.query('SELECT pg_advisory_xact_lock($1)', [APPEND_LOCK_KEY]);
      const state = new BatchState();
      const recordedAt = new Date().toISOString();
      for (const item of batch) {
        const req = item.request;
        const stored = await this.storedIds(em, req, state);
        const actual = await this.revisionOf(em, req.streamId, state);
        let decision;
        try {
          decision = decideAppend(req, actual, stored);
        } catch (error) {
          settled.push(() => item.reject(error));
          continue;
        }
        if (decision.kind === 'already-written') {
          const result = decision.result;
          settled.push(() => item.resolve(result));
          continue;
        }
        const rows = toRows(req, decision.firstRevision, recordedAt);
        const positions = await this.insert(em, rows);
        state.record(rows, positions);
        const result = { nextExpectedRevision: rows[rows.length - 1]!.revision, position: positions[positions.length - 1]! };
        settled.push(() => item.resolve(result));
      }
    });
    settled.forEach((settle) => settle());
    this.appended.emit('appended');
  }

  private async revisionOf(em: EntityManager, streamId: string, state: BatchState): Promise<number> {
    const inBatch = state.revisions.get(streamId);
    if (inBatch !== undefined) return inBatch;
    const [row] = (await em.query('SELECT MAX(revision) AS r FROM weai_events WHERE stream_id = $1', [streamId])) as Array<{ r: number | null }>;
    return row?.r ?? -1;
  }

  private async storedIds(em: EntityManager, req: AppendRequest, state: BatchState): Promise<Map<string, StoredId>> {
    const ids = req.events.map((e) => e.metadata.eventId);
    const found = new Map<string, StoredId>();
    for (const id of ids) {
      const inBatch = state.ids.get(id);
      if (inBatch) found.set(id, inBatch);
    }
    const rows = (await em.query('SELECT event_id, stream_id, revision, position FROM weai_events WHERE event_id = ANY($1::uuid[])', [ids])) as Array<{
      event_id: string;
      stream_id: string;
      revision: number;
      position: string;
    }>;
    for (const r of rows) found.set(r.event_id, { streamId: r.stream_id, revision: r.revision, position: Number(r.position) });
    return found;
  }

  private async insert(em: EntityManager, rows: readonly EventRow[]): Promise<number[]> {
    const positions: number[] = [];
    for (let i = 0; i < rows.length; i += 1000) {
      const chunk = rows.slice(i, i + 1000);
      const params: unknown[] = [];
      const values = chunk.map((r) => {
        const n = params.push(r.streamId, r.revision, r.eventId, r.type, r.schemaVersion, r.data, r.metadata, r.recordedAt);
        return `(${Array.from({ length: 8 }, (_, k) => `$${n - 7 + k}`).join(', ')})`;
      });
      const inserted = (await em.query(
        `INSERT INTO weai_events (stream_id, revision, event_id, type, schema_version, data, metadata, recorded_at) VALUES ${values.join(', ')} RETURNING position`,
        params,
      )) as Array<{ position: string }>;
      positions.push(...inserted.map((r) => Number(r.position)));
    }
    return positions;
  }

  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    checkRead(streamId, options);
    const { sql, limit } = readStreamSql((n) => `$${n}`, options);
    const params: unknown[] = [streamId, options.fromRevision ?? 0];
    if (limit) params.push(options.maxCount);
    return ((await this.dataSource.query(sql, params)) as SelectedRow[]).map(toRecorded);
  }

  async readAll(fromPosition: number, maxCount = 1000): Promise<RecordedEvent[]> {
    checkPosition(fromPosition, 'fromPosition');
    checkPosition(maxCount, 'maxCount');
    const rows = (await this.dataSource.query(
      `SELECT ${SELECT_COLUMNS} FROM weai_events WHERE position > $1 ORDER BY position LIMIT $2`,
      [fromPosition, maxCount],
    )) as SelectedRow[];
    return rows.map(toRecorded);
  }

  async headPosition(): Promise<number> {
    const [row] = (await this.dataSource.query('SELECT MAX(position) AS p FROM weai_events')) as Array<{ p: string | null }>;
    return Number(row?.p ?? 0);
  }
}
