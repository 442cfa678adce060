import type { JetStreamClient, JsMsg } from '@nats-io/jetstream';
import { DeliverPolicy } from '@nats-io/jetstream';
import type { DataSource, EntityManager, MigrationInterface, QueryRunner } from 'typeorm';
import { type ReceivedEvent, MalformedMessageError, decodeEvent } from './codec';
import { park } from './parking';
import { PULL_EXPIRES_MS } from './consumer';

/** A read model fed by events: `apply` writes through the transaction's EntityManager only. */
export interface Projection {
  /** Stable name; the checkpoint is stored under it. */
  readonly name: string;
  /** JetStream streams it reads, e.g. ['WEAI_NODES']. */
  readonly streams: readonly string[];
  /** Applies one event inside the runner's transaction. Must not read the clock or the network. */
  apply(received: ReceivedEvent, em: EntityManager): Promise<void>;
}

/** Creates the checkpoint table of projection runners; add it to the service's migrations. */
export class CreateProjectionCheckpoints1764100000001 implements MigrationInterface {
  name = 'CreateProjectionCheckpoints1764100000001';
  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE IF NOT EXISTS weai_projection_checkpoints (
      projection VARCHAR(128) NOT NULL,
      stream VARCHAR(64) NOT NULL,
      stream_seq BIGINT NOT NULL,
      store_position BIGINT NOT NULL,
      PRIMARY KEY (projection, stream))`);
  }
  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE weai_projection_checkpoints');
  }
}

/** Where a projection stands in one stream. */
export interface ProjectionCheckpoint {
  readonly streamSequence: number;
  readonly storePosition: number;
}

/** Reads a projection's checkpoint in one stream. */
export async function readCheckpoint(db: DataSource | EntityManager, projection: string, stream: string): Promise<ProjectionCheckpoint> {
  const postgres = ('connection' in db ? db.connection.options.type : db.options.type) === 'postgres';
  const rows = (await db.query(
    `SELECT stream_seq, store_position FROM weai_projection_checkpoints WHERE projection = ${postgres ? '$1' : '?'} AND stream = ${postgres ? '$2' : '?'}`,
    [projection, stream],
  )) as Array<{ stream_seq: number | string; store_position: number | string }>;
  const row = rows[0];
  return row ? { streamSequence: Number(row.stream_seq), storePosition: Number(row.store_position) } : { streamSequence: 0, storePosition: 0 };
}

async function writeCheckpoint(em: EntityManager, projection: string, stream: string, cp: ProjectionCheckpoint): Promise<void> {
  const postgres = em.connection.options.type === 'postgres';
  await em.query(
    postgres
      ? `INSERT INTO weai_projection_checkpoints (projection, stream, stream_seq, store_position) VALUES ($1, $2, $3, $4)
         ON CONFLICT (projection, stream) DO UPDATE SET stream_seq = EXCLUDED.stream_seq, store_position = EXCLUDED.store_position`
      : `INSERT INTO weai_projection_checkpoints (projection, stream, stream_seq, store_position) VALUES (?, ?, ?, ?)
         ON CONFLICT (projection, stream) DO UPDATE SET stream_seq = excluded.stream_seq, store_position = excluded.store_position`,
    [projection, stream, cp.streamSequence, cp.storePosition],
  );
}

/** Options of a projection runner. */
export interface ProjectionRunnerOptions {
  readonly dataSource: DataSource;
  readonly js: JetStreamClient;
  readonly projection: Projection;
  /** Most events applied in one transaction; default 500. */
  readonly batchSize?: number;
  /** Attempts at one event before it is parked; default 5. */
  readonly maxAttempts?: number;
  /** Called after each committed batch with the stream and its new checkpoint. */
  readonly onCommitted?: (stream: string, checkpoint: ProjectionCheckpoint) => void;
  readonly onParked?: (msg: JsMsg, reason: string) => void;
  readonly onError?: (error: unknown) => void;
}

/** The last transaction begun on each SQLite read model (see `inTurn`). */
const sqliteTurns = new WeakMap<DataSource, Promise<unknown>>();

/**
 * Runs a transaction on the data source, one at a time where it is SQLite. TypeORM runs SQLite on
 * one connection: a transaction begun while another is open became a savepoint inside it, so two
 * projections (or one over two streams) committed or rolled back each other's rows — events
 * applied twice, read models wrong (libs/messaging/test/projection.int.spec.ts). PostgreSQL gives
 * each transaction its own connection and needs no turns.
 */
function inTurn<T>(dataSource: DataSource, transaction: () => Promise<T>): Promise<T> {
  const type = dataSource.options.type;
  if (type !== 'better-sqlite3') return transaction();
  const result = (sqliteTurns.get(dataSource) ?? Promise.resolve()).then(transaction, transaction);
  sqliteTurns.set(dataSource, result.catch(() => undefined));
  return result;
}

/**
 * Feeds a projection from JetStream through ordered consumers (strict stream order, no acks) and
 * stores the checkpoint in the same transaction as the read model, so each event is applied
 * exactly once in effect: after a crash the runner resumes after the last committed sequence,
 * and an event whose store position is not past the checkpoint (a relay re-publish) is skipped.
 * Events arriving faster than transactions commit are applied in batches.
 */
export class ProjectionRunner {
  private readonly stops: Array<() => Promise<void>> = [];

  constructor(private readonly options: ProjectionRunnerOptions) {}

  async start(): Promise<void> {
    for (const stream of this.options.projection.streams) this.stops.push(await this.follow(stream));
  }

  async stop(): Promise<void> {
    await Promise.all(this.stops.splice(0).map((stop) => stop()));
  }

  private async follow(stream: string): Promise<() => Promise<void>> {
    const { dataSource, js, projection } = this.options;
    const batchSize = this.options.batchSize ?? 500;
    let checkpoint = await readCheckpoint(dataSource, projection.name, stream);
    const consumer = await js.consumers.get(stream, {
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: checkpoint.streamSequence + 1,
    });
    const messages = await consumer.consume({ max_messages: batchSize, expires: PULL_EXPIRES_MS });
    const queue: JsMsg[] = [];
    let wake: (() => void) | undefined;
    let ended = false;

    const pump = (async () => {
      for await (const msg of messages) {
        queue.push(msg);
        wake?.();
        while (queue.length >= batchSize * 2 && !ended) await new Promise<void>((r) => setImmediate(r));
      }
      ended = true;
      wake?.();
    })();

    const work = (async () => {
      while (!ended || queue.length > 0) {
        if (queue.length === 0) {
          await new Promise<void>((r) => (wake = r));
          wake = undefined;
          continue;
        }
        const batch = queue.splice(0, batchSize);
        checkpoint = await this.applyBatch(stream, batch, checkpoint);
      }
    })();

    return async () => {
      await messages.close();
      await pump;
      ended = true;
      wake?.();
      await work;
    };
  }

  /** Applies a batch in one transaction; if that fails, one event at a time, parking what keeps failing. */
  private async applyBatch(stream: string, batch: JsMsg[], from: ProjectionCheckpoint): Promise<ProjectionCheckpoint> {
    try {
      return await this.applyInTransaction(stream, batch, from);
    } catch (error) {
      this.options.onError?.(error);
    }
    let checkpoint = from;
    for (const msg of batch) {
      const maxAttempts = this.options.maxAttempts ?? 5;
      for (let attempt = 1; ; attempt++) {
        try {
          checkpoint = await this.applyInTransaction(stream, [msg], checkpoint);
          break;
        } catch (error) {
          this.options.onError?.(error);
          if (attempt >= maxAttempts) {
            const reason = `projection ${this.options.projection.name} failed ${attempt} times: ${(error as Error).message}`;
            checkpoint = await this.skip(stream, msg, checkpoint, reason);
            break;
          }
          await new Promise((r) => setTimeout(r, Math.min(100 * 2 ** attempt, 5000)));
        }
      }
    }
    return checkpoint;
  }

  private async applyInTransaction(stream: string, batch: JsMsg[], from: ProjectionCheckpoint): Promise<ProjectionCheckpoint> {
    const { dataSource, projection } = this.options;
    const malformed: Array<[JsMsg, string]> = [];
    const next = await inTurn(dataSource, () => dataSource.transaction(async (em) => {
      let cp = from;
      for (const msg of batch) {
        let received: ReceivedEvent;
        try {
          received = decodeEvent(msg);
        } catch (error) {
          if (!(error instanceof MalformedMessageError)) throw error;
          malformed.push([msg, error.message]);
          cp = { streamSequence: msg.seq, storePosition: cp.storePosition };
          continue;
        }
        if (received.envelope.position > cp.storePosition) await projection.apply(received, em);
        cp = { streamSequence: msg.seq, storePosition: Math.max(cp.storePosition, received.envelope.position) };
      }
      await writeCheckpoint(em, projection.name, stream, cp);
      return cp;
    }));
    for (const [msg, reason] of malformed) await this.parkCopy(msg, reason);
    this.options.onCommitted?.(stream, next);
    return next;
  }

  private async skip(stream: string, msg: JsMsg, from: ProjectionCheckpoint, reason: string): Promise<ProjectionCheckpoint> {
    await this.parkCopy(msg, reason);
    const cp = { streamSequence: msg.seq, storePosition: from.storePosition };
    const { dataSource } = this.options;
    await inTurn(dataSource, () => dataSource.transaction((em) => writeCheckpoint(em, this.options.projection.name, stream, cp)));
    return cp;
  }

  private async parkCopy(msg: JsMsg, reason: string): Promise<void> {
    // Ordered consumers have no acks: parking only records the copy.
    await park(this.options.js, `projection-${this.options.projection.name}`, msg, reason, { terminate: false }).catch((e: unknown) => this.options.onError?.(e));
    this.options.onParked?.(msg, reason);
  }
}
