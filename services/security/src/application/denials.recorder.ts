import { EventMetadataSchema, type WeaiEvent, validateEventData } from '@weai/contracts';
import type { EventStore } from '@weai/eventstore';
import { toAuditStreamId } from './audit.recorder';

/** A report that is not an audit event this service records; never retried (it is parked with the reason). */
export class UnusableReportError extends Error {
  override readonly name = 'UnusableReportError';
}

const REPORTABLE = new Set(['AccessDenied', 'AuthenticationFailed']);
const MAX_REPORT_BYTES = 16 * 1024;

/**
 * Checks a report from an edge service (the HTTP gateway) and returns the audit event it carries:
 * only AccessDenied and AuthenticationFailed, valid against their contracts, with complete metadata.
 */
export function auditEventOfReport(bytes: Uint8Array): WeaiEvent {
  if (bytes.byteLength > MAX_REPORT_BYTES) throw new UnusableReportError(`report of ${bytes.byteLength} bytes exceeds ${MAX_REPORT_BYTES}`);
  let body: { type?: unknown; data?: unknown; metadata?: unknown };
  try {
    body = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)) as typeof body;
  } catch {
    throw new UnusableReportError('report is not JSON');
  }
  if (typeof body !== 'object' || body === null || typeof body.type !== 'string' || !REPORTABLE.has(body.type)) {
    throw new UnusableReportError('report is not an AccessDenied or AuthenticationFailed event');
  }
  const metadata = EventMetadataSchema.safeParse(body.metadata);
  if (!metadata.success) throw new UnusableReportError(`report metadata: ${metadata.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  try {
    return validateEventData(body.type, body.data, metadata.data);
  } catch (error) {
    throw new UnusableReportError((error as Error).message);
  }
}

/**
 * Appends reported refusals to the audit stream of their principal (`audit-<principalId>`), under
 * the event id the reporter chose: a report delivered twice is stored once.
 */
export class DenialsRecorder {
  constructor(private readonly store: EventStore) {}

  async record(event: WeaiEvent): Promise<void> {
    const { principalId } = event.data as { principalId: string };
    await this.store.append(toAuditStreamId(principalId), [event], 'any');
  }
}
