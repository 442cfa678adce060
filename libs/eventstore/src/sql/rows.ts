import { type EventMetadata, schemaVersionOf, upcast } from '@weai/contracts';
import type { RecordedEvent } from '../port';

/** A row as SELECTed by the adapters (PostgreSQL returns BIGINT as a string). */
export interface SelectedRow {
  position: number | string;
  stream_id: string;
  revision: number;
  type: string;
  schema_version: number;
  data: string;
  metadata: string;
  recorded_at: string;
}

/** Columns every read selects, in the order of SelectedRow. */
export const SELECT_COLUMNS = 'position, stream_id, revision, type, schema_version, data, metadata, recorded_at';

/** Maps a stored row to a RecordedEvent, upcasting older schema versions. */
export function toRecorded(row: SelectedRow): RecordedEvent {
  const current = schemaVersionOf(row.type);
  const stored = JSON.parse(row.data) as unknown;
  return {
    streamId: row.stream_id,
    revision: Number(row.revision),
    position: Number(row.position),
    type: row.type,
    schemaVersion: current,
    data: row.schema_version === current ? stored : upcast(row.type, row.schema_version, stored),
    metadata: JSON.parse(row.metadata) as EventMetadata,
    recordedAt: row.recorded_at,
  };
}
