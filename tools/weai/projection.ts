import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { DeliverPolicy } from '@nats-io/jetstream';
import { type Bus, MalformedMessageError, type Projection, type ReceivedEvent, decodeEvent } from '@weai/messaging';
import { openReadModel } from '@weai/runtime';
import type { DataSource, EntitySchema, MigrationInterface } from 'typeorm';
import { CreateNodesView1764200000000, NodeViewEntity, nodesProjection } from '../../services/nodes/src/application/nodes.read-model';
import { CapacityClassEntity, CapacityNodeEntity, CreateCapacityIndex1764300000000, capacityProjection } from '../../services/resources/src/application/capacity.read-model';
import { CreateRewardsLedger1764500000001, ledgerProjection, AccountEntity, PostingEntity, WithdrawalEntity } from '../../services/rewards/src/application/ledger.read-model';
import { CreateRewardNodes1764500000000, PayoutAddressEntity, RewardNodeEntity, nodeDirectoryProjection } from '../../services/rewards/src/application/node-directory';
import { BUS_HELP, BUS_OPTIONS, connectCliBus } from './bus';
import { CannotRunError, type CliIo, type Command, EXIT, UsageError } from './cli';

/** One service's read model: the projections that feed it, in the order the service starts them. */
interface ReadModel {
  readonly projections: readonly Projection[];
  readonly migrations: ReadonlyArray<new () => MigrationInterface>;
  readonly entities: ReadonlyArray<EntitySchema<never> | EntitySchema>;
}

/**
 * The read models `weai projection rebuild` knows, by service, with the same projections,
 * migrations and entities the service runs (imported from it, so they cannot drift apart).
 */
const READ_MODELS: Record<string, ReadModel> = {
  nodes: { projections: [nodesProjection], migrations: [CreateNodesView1764200000000], entities: [NodeViewEntity] },
  resources: { projections: [capacityProjection], migrations: [CreateCapacityIndex1764300000000], entities: [CapacityNodeEntity, CapacityClassEntity] },
  rewards: {
    projections: [nodeDirectoryProjection, ledgerProjection],
    migrations: [CreateRewardNodes1764500000000, CreateRewardsLedger1764500000001],
    entities: [RewardNodeEntity, PayoutAddressEntity, AccountEntity, PostingEntity, WithdrawalEntity],
  },
};

const BOOKKEEPING = new Set(['weai_read_migrations', 'weai_projection_checkpoints', 'sqlite_sequence']);

type Row = Record<string, unknown>;
/** Each table's rows in a canonical order, as JSON lines. */
type Tables = Map<string, string[]>;

interface Snapshot {
  /** Per projection and stream, the last stream sequence applied. */
  readonly checkpoints: Map<string, number>;
  readonly tables: Tables;
}

function canonical(rows: Row[]): string[] {
  return rows.map((r) => JSON.stringify(Object.keys(r).sort().map((k) => [k, r[k]]))).sort();
}

/** The live read model's tables and checkpoints, read in one transaction: one consistent moment of it. */
function snapshotSqlite(path: string): Snapshot {
  let db: Database.Database;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
  } catch (error) {
    throw new CannotRunError(`cannot open the live read model ${path}: ${(error as Error).message}`);
  }
  try {
    return db.transaction(() => {
      const checkpoints = new Map<string, number>();
      for (const r of db.prepare('SELECT projection, stream, stream_seq FROM weai_projection_checkpoints').all() as Array<{ projection: string; stream: string; stream_seq: number }>) {
        checkpoints.set(`${r.projection}/${r.stream}`, Number(r.stream_seq));
      }
      return { checkpoints, tables: readTables((sql) => db.prepare(sql).all() as Row[]) };
    })();
  } finally {
    db.close();
  }
}

function readTables(query: (sql: string) => Row[]): Tables {
  const tables: Tables = new Map();
  const names = (query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name") as Array<{ name: string }>).map((r) => r.name).filter((n) => !BOOKKEEPING.has(n));
  for (const name of names) tables.set(name, canonical(query(`SELECT * FROM "${name.replace(/"/g, '""')}"`)));
  return tables;
}

/**
 * Applies the events of `stream` up to sequence `to` to a scratch read model, the way the service's
 * ProjectionRunner does: an event at or before the stored position is skipped (a relay re-publish),
 * a message that is not an event is stepped over. An event that fails to apply stops the rebuild.
 */
async function rebuildStream(bus: Bus, db: DataSource, projection: Projection, stream: string, to: number, onProgress: (seq: number) => void): Promise<number> {
  if (to === 0) return 0;
  const consumer = await bus.js.consumers.get(stream, { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: 1 });
  const messages = await consumer.consume({ max_messages: 512 });
  let position = 0;
  let applied = 0;
  try {
    for await (const m of messages) {
      if (m.seq > to) break;
      let received: ReceivedEvent | undefined;
      try {
        received = decodeEvent(m);
      } catch (error) {
        if (!(error instanceof MalformedMessageError)) throw error;
      }
      if (received && received.envelope.position > position) {
        const event = received;
        try {
          await db.transaction((em) => projection.apply(event, em));
        } catch (error) {
          throw new CannotRunError(`${projection.name}: event ${m.seq} of ${stream} (${event.event.type}) failed to apply: ${(error as Error).message}`);
        }
        position = event.envelope.position;
        applied++;
      }
      onProgress(m.seq);
      if (m.seq >= to || m.info.pending === 0) break;
    }
  } finally {
    await messages.close();
    await consumer.delete().catch(() => undefined);
  }
  return applied;
}

function compare(live: Tables, rebuilt: Tables, io: CliIo): number {
  let differences = 0;
  for (const name of new Set([...live.keys(), ...rebuilt.keys()])) {
    const a = new Set(live.get(name) ?? []);
    const b = new Set(rebuilt.get(name) ?? []);
    const onlyLive = [...a].filter((r) => !b.has(r));
    const onlyRebuilt = [...b].filter((r) => !a.has(r));
    if (onlyLive.length === 0 && onlyRebuilt.length === 0) {
      io.stdout(`${name}: ${a.size} rows, identical`);
      continue;
    }
    differences += onlyLive.length + onlyRebuilt.length;
    io.stdout(`${name}: ${onlyLive.length} rows only in the live read model, ${onlyRebuilt.length} only in the rebuild`);
    for (const r of onlyLive.slice(0, 10)) io.stdout(`  live    ${r}`);
    for (const r of onlyRebuilt.slice(0, 10)) io.stdout(`  rebuilt ${r}`);
  }
  return differences;
}

export const projectionRebuild: Command = {
  path: ['projection', 'rebuild'],
  summary: "rebuild a service's read model from zero into a scratch database and compare it with the live one",
  help: `usage: weai projection rebuild --service <${Object.keys(READ_MODELS).join('|')}> [--scratch FILE]

Reads the live read model (READ_MODEL_URL, default sqlite:<WEAI_DATA_DIR>/<service>-read.sqlite;
SQLite only) read-only, in one transaction: its tables and how far each projection got in each
stream. Then replays each stream from sequence 1 to exactly that point into a scratch SQLite
database (--scratch FILE, default a temporary file removed afterwards) with the service's own
projection code, and compares every table row by row. Prints each table's verdict and up to ten
differing rows per side. The streams are read with the bus connection below (an operator
credential does not allow reading streams).

Exit 0 when identical, 1 when they differ, 3 when it could not run. Streams are replayed one after
another, so a projection that depends on the interleaving of two streams may differ for that reason.

${BUS_HELP}`,
  options: { service: { type: 'string' }, scratch: { type: 'string' }, ...BUS_OPTIONS },
  async run(flags, io) {
    const service = flags['service'];
    if (typeof service !== 'string' || !(service in READ_MODELS)) throw new UsageError(`--service must be one of ${Object.keys(READ_MODELS).join(', ')}`);
    const model = READ_MODELS[service]!;
    const url = io.env['READ_MODEL_URL'] ?? `sqlite:${join(io.env['WEAI_DATA_DIR'] ?? '.data', `${service}-read.sqlite`)}`;
    if (!url.startsWith('sqlite:')) throw new UsageError('READ_MODEL_URL: only SQLite read models can be compared so far');
    const live = snapshotSqlite(url.slice('sqlite:'.length));
    const scratchDir = typeof flags['scratch'] === 'string' ? undefined : mkdtempSync(join(tmpdir(), 'weai-rebuild-'));
    const scratchPath = typeof flags['scratch'] === 'string' ? flags['scratch'] : join(scratchDir!, `${service}-rebuilt.sqlite`);
    const bus: Bus = await connectCliBus(flags, io, 'weai-projection-rebuild');
    let db: DataSource | undefined;
    try {
      db = await openReadModel(`sqlite:${scratchPath}`, model.migrations, model.entities);
      for (const projection of model.projections) {
        for (const stream of projection.streams) {
          const to = live.checkpoints.get(`${projection.name}/${stream}`) ?? 0;
          let last = 0;
          const applied = await rebuildStream(bus, db, projection, stream, to, (seq) => {
            if (Date.now() - last < 1000) return;
            last = Date.now();
            io.stderr(`${projection.name}: ${stream} ${seq} of ${to}`);
          });
          io.stderr(`${projection.name}: ${stream} replayed to sequence ${to} (${applied} events applied)`);
        }
      }
      const scratch = db;
      const rebuilt = readTables((sql) => (scratch.driver as unknown as { databaseConnection: Database.Database }).databaseConnection.prepare(sql).all() as Row[]);
      const differences = compare(live.tables, rebuilt, io);
      io.stdout(differences === 0 ? `${service}: the rebuilt read model is identical to the live one` : `${service}: ${differences} rows differ`);
      return differences === 0 ? EXIT.ok : EXIT.mismatch;
    } finally {
      await db?.destroy();
      await bus.close();
      if (scratchDir) rmSync(scratchDir, { recursive: true, force: true });
    }
  },
};
