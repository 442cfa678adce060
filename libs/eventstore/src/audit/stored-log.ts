import Database from 'better-sqlite3';
import { DataSource } from 'typeorm';
import type { EventStoreConfig } from '../config';
import { checkPosition } from '../port';

/**
 * A stored event exactly as its row holds it: `data` and `metadata` are the stored JSON text,
 * not parsed and not upcast, so a hash of it follows the bytes on disk (the audit leaf,
 * docs/chain.md). Structurally the `AuditRecord` of libs/chain.
 */
export interface StoredEventRow {
  readonly position: number;
  readonly streamId: string;
  readonly revision: number;
  readonly type: string;
  readonly schemaVersion: number;
  readonly data: string;
  readonly metadata: string;
  readonly recordedAt: string;
}

/** Read-only access to a SQL store's global log as stored rows (the audit's view of it). */
export interface StoredLog {
  /** Up to `maxCount` rows after `position` (exclusive), in position order. */
  readAfter(position: number, maxCount: number): Promise<StoredEventRow[]>;
  /** Position of the last stored event; 0 when empty. */
  headPosition(): Promise<number>;
  close(): Promise<void>;
}

interface Row {
  position: number | string;
  stream_id: string;
  revision: number;
  type: string;
  schema_version: number;
  data: string;
  metadata: string;
  recorded_at: string;
}

const COLUMNS = 'position, stream_id, revision, type, schema_version, data, metadata, recorded_at';

function toStored(row: Row): StoredEventRow {
  return {
    position: Number(row.position),
    streamId: row.stream_id,
    revision: Number(row.revision),
    type: row.type,
    schemaVersion: Number(row.schema_version),
    data: row.data,
    metadata: row.metadata,
    recordedAt: row.recorded_at,
  };
}

/**
 * Opens the store's log for reading only, beside whatever service writes it. It reads the
 * `weai_events` table the SQL adapters write (sql/migrations.ts) and never migrates it: a store
 * that does not exist is an error, not a new empty log. EventStoreDB is not supported (its
 * records are not rows; its audit would read `$all` with the raw bytes).
 */
export async function openStoredLog(config: EventStoreConfig): Promise<StoredLog> {
  if (config.type === 'eventstoredb') throw new Error('the audit reads SQL event stores (sqlite:, postgres://); EventStoreDB is not supported');
  const check = (position: number, maxCount: number) => {
    checkPosition(position, 'position');
    checkPosition(maxCount, 'maxCount');
  };
  if (config.type === 'sqlite') {
    let db: Database.Database;
    try {
      db = new Database(config.path, { readonly: true, fileMustExist: true });
      db.prepare('SELECT 1 FROM weai_events LIMIT 1').get();
    } catch (cause) {
      throw new Error(`cannot read the event store at ${config.path}: ${(cause as Error).message}`, { cause });
    }
    const page = db.prepare<[number, number], Row>(`SELECT ${COLUMNS} FROM weai_events WHERE position > ? ORDER BY position LIMIT ?`);
    const head = db.prepare<[], { p: number | null }>('SELECT MAX(position) AS p FROM weai_events');
    return {
      readAfter: async (position, maxCount) => {
        check(position, maxCount);
        return page.all(position, maxCount).map(toStored);
      },
      headPosition: async () => head.get()?.p ?? 0,
      close: async () => void db.close(),
    };
  }
  const schema = config.schema ?? 'public';
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new Error(`schema ${JSON.stringify(schema)} must be a lowercase SQL identifier`);
  const dataSource = new DataSource({ type: 'postgres', url: config.url, extra: { options: `-c search_path=${schema} -c default_transaction_read_only=on`, max: 2 } });
  try {
    await dataSource.initialize();
    await dataSource.query('SELECT 1 FROM weai_events LIMIT 1');
  } catch (cause) {
    if (dataSource.isInitialized) await dataSource.destroy();
    throw new Error(`cannot read the event store at ${redact(config.url)}: ${(cause as Error).message}`, { cause });
  }
  return {
    readAfter: async (position, maxCount) => {
      check(position, maxCount);
      const rows = (await dataSource.query(`SELECT ${COLUMNS} FROM weai_events WHERE position > $1 ORDER BY position LIMIT $2`, [position, maxCount])) as Row[];
      return rows.map(toStored);
    },
    headPosition: async () => Number(((await dataSource.query('SELECT MAX(position) AS p FROM weai_events')) as Array<{ p: string | null }>)[0]?.p ?? 0),
    close: () => dataSource.destroy(),
  };
}

/** The URL without its password, for messages. */
function redact(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');
}
