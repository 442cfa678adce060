import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Creates the event log. Positions come from the database, in commit order (see SqlEventStore). */
export class CreateEventLog1764100000000 implements MigrationInterface {
  name = 'CreateEventLog1764100000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const postgres = queryRunner.connection.options.type === 'postgres';
    await queryRunner.query(
      postgres
        ? `CREATE TABLE weai_events (
             position BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
             stream_id VARCHAR(255) NOT NULL,
             revision INTEGER NOT NULL,
             event_id UUID NOT NULL UNIQUE,
             type VARCHAR(128) NOT NULL,
             schema_version INTEGER NOT NULL,
             data TEXT NOT NULL,
             metadata TEXT NOT NULL,
             recorded_at TEXT NOT NULL,
             CONSTRAINT weai_events_stream_revision UNIQUE (stream_id, revision))`
        : `CREATE TABLE weai_events (
             position INTEGER PRIMARY KEY AUTOINCREMENT,
             stream_id TEXT NOT NULL,
             revision INTEGER NOT NULL,
             event_id TEXT NOT NULL UNIQUE,
             type TEXT NOT NULL,
             schema_version INTEGER NOT NULL,
             data TEXT NOT NULL,
             metadata TEXT NOT NULL,
             recorded_at TEXT NOT NULL,
             CONSTRAINT weai_events_stream_revision UNIQUE (stream_id, revision))`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE weai_events');
  }
}

/** Every migration of the event store, in order. */
export const EVENT_STORE_MIGRATIONS = [CreateEventLog1764100000000];
