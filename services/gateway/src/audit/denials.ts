import { createHmac, randomUUID } from 'node:crypto';
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import { RetentionPolicy, StorageType } from '@nats-io/jetstream';
import { ID_PATTERN, SECURITY_REPORTS_STREAM, SECURITY_REPORT_SUBJECTS, securityReportSubject } from '@weai/contracts';
import { isNotFound } from '@weai/messaging';
import type { Principal } from '../auth/tokens';

/** The reporter token of this service in report subjects (`weai.report.security.gateway.<Type>`). */
export const REPORTER = 'gateway';

/** A refused HTTP request, as the audit records it. */
export type Denial =
  | {
      readonly kind: 'authentication';
      /** The id the caller claimed (a token's `sub`), unverified; "anonymous" when none. */
      readonly claimedId?: string;
      readonly action: string;
      readonly reason: string;
      readonly source?: string;
    }
  | {
      readonly kind: 'access';
      /** Who was refused; absent for a caller throttled before it authenticated. */
      readonly principal?: Principal;
      readonly action: string;
      /** An opaque id: `job:<id>`, `object:<sha-256>`, `node:<id>` or the route. */
      readonly resource: string;
      readonly reason: string;
      readonly source?: string;
    };

/** What goes on the report subject: the security event, complete, for the security service to append. */
export interface SecurityReport {
  readonly type: 'AuthenticationFailed' | 'AccessDenied';
  readonly data: Record<string, unknown>;
  readonly metadata: { readonly eventId: string; readonly correlationId: string; readonly causationId: string; readonly occurredAt: string };
}

const THIRTY_DAYS_NS = 30 * 24 * 3600 * 1_000_000_000;
const TWO_MINUTES_NS = 120 * 1_000_000_000;
/** Reports waiting for their JetStream acknowledgement; past this a burst is dropped (and counted) rather than held. */
const MAX_IN_FLIGHT = 1000;

/** Creates the reports stream if it is missing (the gateway publishes, so it must exist before the first refusal). */
export async function ensureReportsStream(jsm: JetStreamManager): Promise<void> {
  try {
    await jsm.streams.info(SECURITY_REPORTS_STREAM);
  } catch (error) {
    if (!isNotFound(error)) throw error;
    await jsm.streams.add({
      name: SECURITY_REPORTS_STREAM,
      subjects: [SECURITY_REPORT_SUBJECTS],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      max_age: THIRTY_DAYS_NS,
      duplicate_window: TWO_MINUTES_NS,
    });
  }
}

/** The report of a denial: pure, so the shape is tested without a bus. */
export function reportOf(denial: Denial, eventId: string, now: Date): SecurityReport {
  const metadata = { eventId, correlationId: eventId, causationId: eventId, occurredAt: now.toISOString() };
  const source = denial.source ? { source: denial.source } : {};
  const reason = denial.reason.slice(0, 512) || 'refused';
  if (denial.kind === 'authentication') {
    const principalId = denial.claimedId && ID_PATTERN.test(denial.claimedId) ? denial.claimedId : 'anonymous';
    return { type: 'AuthenticationFailed', data: { principalId, channel: 'http', reason, action: denial.action.slice(0, 256), ...source }, metadata };
  }
  return {
    type: 'AccessDenied',
    data: {
      principalId: denial.principal?.id ?? 'anonymous',
      action: denial.action.slice(0, 256),
      resource: denial.resource.slice(0, 512),
      reason,
      channel: 'http',
      ...(denial.principal ? { role: denial.principal.role } : {}),
      ...source,
    },
    metadata,
  };
}

/**
 * Publishes every refused request as a security report on JetStream (`WEAI_SECURITY_REPORTS`),
 * with the event id as message id so a retried publish is stored once. Reporting never delays or
 * fails the HTTP answer: a report that cannot be published is counted and logged (without
 * content). Callers are known by opaque ids and by `pseudonym(address)`, never by address.
 */
export class DenialReporter {
  private inFlight = 0;
  /** Reports not published (bus down, or a burst past MAX_IN_FLIGHT). */
  dropped = 0;

  constructor(
    private readonly js: JetStreamClient,
    private readonly secret: Buffer,
    private readonly warn: (message: string) => void,
  ) {}

  /** A keyed hash of a source address: the same address gives the same pseudonym while the secret stays the same. */
  pseudonym(address: string | undefined): string | undefined {
    if (!address) return undefined;
    return `src-${createHmac('sha256', this.secret).update(address).digest('hex').slice(0, 32)}`;
  }

  report(denial: Denial, now: Date): void {
    if (this.inFlight >= MAX_IN_FLIGHT) {
      this.dropped++;
      return;
    }
    const report = reportOf(denial, randomUUID(), now);
    this.inFlight++;
    void this.js
      .publish(securityReportSubject(REPORTER, report.type), JSON.stringify(report), { msgID: report.metadata.eventId })
      .catch((error: unknown) => {
        this.dropped++;
        this.warn(`a ${report.type} report was not published (${(error as Error).message}); ${this.dropped} lost so far`);
      })
      .finally(() => this.inFlight--);
  }
}
