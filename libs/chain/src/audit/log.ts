import type { AuditRecord } from './leaf';

/**
 * A store's global log as the audit reads it: stored rows, in position order. The event-store
 * library provides one (`openStoredLog` in libs/eventstore) for SQLite and PostgreSQL.
 */
export interface AuditLogSource {
  /** Up to `maxCount` records after `position` (exclusive), in position order. */
  readAfter(position: number, maxCount: number): Promise<AuditRecord[]>;
  /** Position of the last stored event; 0 when the log is empty. */
  headPosition(): Promise<number>;
  /** Releases the connection. */
  close(): Promise<void>;
}

/** Every record with a position in `[from, to]`, read in pages. */
export async function readRange(log: AuditLogSource, from: number, to: number, pageSize = 1000): Promise<AuditRecord[]> {
  const out: AuditRecord[] = [];
  for (let after = from - 1; ; ) {
    const page = await log.readAfter(after, pageSize);
    for (const r of page) {
      if (r.position > to) return out;
      out.push(r);
    }
    if (page.length < pageSize) return out;
    after = page[page.length - 1]!.position;
  }
}
