import type { NatsConnection } from '@nats-io/transport-node';

/** Where refused access can be observed; each source is optional. */
export interface AuditSources {
  /** A connection as a system-account user, for auth-error advisories. */
  readonly system?: NatsConnection;
  /** nats-server's `log_file`, for permission violations and TLS failures. */
  readonly serverLog?: string;
}

export const AUDIT_SOURCES = Symbol('AUDIT_SOURCES');
