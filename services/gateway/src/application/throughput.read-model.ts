import { Between, EntitySchema, LessThan, type DataSource, type EntityManager, type MigrationInterface, type QueryRunner } from 'typeorm';
import { type JobsFamilyEvent, streamOfFamily } from '@weai/contracts';
import type { Projection, ReceivedEvent } from '@weai/messaging';

/** One minute of the network's output. */
interface ThroughputRow {
  /** Minutes since the Unix epoch (UTC). */
  minute: number;
  shardsValidated: number;
  jobsCompleted: number;
}

/** Minutes of buckets kept behind the newest event: the chart shows the last 60, with room for late events. */
export const THROUGHPUT_RETAINED_MINUTES = 120;
/** Minutes the chart shows. */
export const THROUGHPUT_WINDOW_MINUTES = 60;

export const ThroughputEntity = new EntitySchema<ThroughputRow>({
  name: 'GatewayThroughputMinute',
  tableName: 'gateway_throughput_minutes',
  columns: {
    minute: { type: 'bigint', primary: true, transformer: { to: (v: number) => v, from: (v: string | number) => Number(v) } },
    shardsValidated: { type: Number, name: 'shards_validated' },
    jobsCompleted: { type: Number, name: 'jobs_completed' },
  },
});

export class CreateThroughput1764900000002 implements MigrationInterface {
  async up(q: QueryRunner): Promise<void> {
    await q.query('CREATE TABLE gateway_throughput_minutes (minute BIGINT PRIMARY KEY, shards_validated INTEGER NOT NULL, jobs_completed INTEGER NOT NULL)');
  }
  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE gateway_throughput_minutes');
  }
}

const minuteOf = (iso: string) => Math.floor(Date.parse(iso) / 60_000);

/**
 * Shards validated and jobs completed per minute (the minute the scheduler decided it), from the
 * jobs family. Bounded: each event prunes the buckets more than `THROUGHPUT_RETAINED_MINUTES`
 * behind its own minute, so a replay from the start of the stream keeps at most that many rows;
 * the time is the event's, never the clock's, so a replay builds the same rows.
 */
export const throughputProjection: Projection = {
  name: 'gateway-throughput',
  streams: [streamOfFamily('jobs')],
  async apply({ event }: ReceivedEvent, em: EntityManager) {
    const e = event as JobsFamilyEvent;
    if (e.type !== 'ShardValidated' && e.type !== 'JobCompleted') return;
    const minute = minuteOf(e.metadata.occurredAt);
    const repo = em.getRepository(ThroughputEntity);
    const row = (await repo.findOneBy({ minute })) ?? { minute, shardsValidated: 0, jobsCompleted: 0 };
    if (e.type === 'ShardValidated') row.shardsValidated += 1;
    else row.jobsCompleted += 1;
    await repo.upsert(row, ['minute']);
    await repo.delete({ minute: LessThan(minute - THROUGHPUT_RETAINED_MINUTES) });
  },
};

/** One minute of the chart. */
export interface ThroughputPoint {
  /** Start of the minute, ISO-8601 UTC. */
  readonly at: string;
  readonly shardsValidated: number;
  readonly jobsCompleted: number;
}

/** The throughput chart's data. */
export class Throughput {
  constructor(private readonly readModel: DataSource) {}

  /** The `THROUGHPUT_WINDOW_MINUTES` minutes up to and including `now`'s, oldest first; minutes without events are zeros. */
  async lastHour(now: Date): Promise<ThroughputPoint[]> {
    const last = minuteOf(now.toISOString());
    const first = last - THROUGHPUT_WINDOW_MINUTES + 1;
    const rows = await this.readModel.getRepository(ThroughputEntity).findBy({ minute: Between(first, last) });
    const byMinute = new Map(rows.map((r) => [r.minute, r]));
    return Array.from({ length: THROUGHPUT_WINDOW_MINUTES }, (_, i) => {
      const r = byMinute.get(first + i);
      return { at: new Date((first + i) * 60_000).toISOString(), shardsValidated: r?.shardsValidated ?? 0, jobsCompleted: r?.jobsCompleted ?? 0 };
    });
  }
}
