/**
 * What nats-server 2.9 lets the security service observe of refused access, turned into the
 * payloads of AuthenticationFailed and AccessDenied. Pure: text in, data out.
 *
 * - Failed authentications: the advisory on `$SYS.SERVER.<id>.CLIENT.AUTH.ERR` (system account),
 *   `{ type: "io.nats.server.advisory.v1.client_disconnect", client: { user, name, host }, reason }`.
 * - Permission violations: only the server log (`[ERR] … - Publish Violation - Nkey "U…", Subject "…"`);
 *   2.9 publishes no advisory for them.
 * - Connections without TLS: only the log (`TLS handshake error: …`), with no identity.
 */
import { assertNever } from '@weai/decider';

/** An observed refusal. */
export type Observation =
  | { readonly kind: 'authentication-failed'; readonly nkey: string | undefined; readonly reason: string }
  | { readonly kind: 'access-denied'; readonly nkey: string; readonly action: 'publish' | 'subscribe'; readonly subject: string };

/** An advisory or log line the security service could not use; the message says why. */
export class UnusableObservationError extends Error {
  override readonly name = 'UnusableObservationError';
}

const NKEY = /^U[A-Z2-7]{55}$/;
const MAX_ADVISORY_BYTES = 64 * 1024;

/** Parses an auth-error advisory. Throws UnusableObservationError for anything else. */
export function parseAuthErrorAdvisory(bytes: Uint8Array): Observation {
  if (bytes.byteLength > MAX_ADVISORY_BYTES) throw new UnusableObservationError(`advisory of ${bytes.byteLength} bytes exceeds ${MAX_ADVISORY_BYTES}`);
  let body: unknown;
  try {
    body = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw new UnusableObservationError('advisory is not JSON');
  }
  const b = body as { type?: unknown; client?: { user?: unknown }; reason?: unknown } | null;
  if (typeof b !== 'object' || b === null || b.type !== 'io.nats.server.advisory.v1.client_disconnect') {
    throw new UnusableObservationError('not a client_disconnect advisory');
  }
  const user = b.client?.user;
  const reason = typeof b.reason === 'string' && b.reason.length > 0 ? b.reason.slice(0, 200) : 'Authentication Failure';
  return { kind: 'authentication-failed', nkey: typeof user === 'string' && NKEY.test(user) ? user : undefined, reason };
}

const VIOLATION = / - (Publish|Subscription) Violation - Nkey "(U[A-Z2-7]{55})", Subject "([^"\s]{1,512})"/;
const TLS_ERROR = / - TLS handshake error: (.{0,200})$/;

/** Parses one line of the nats-server log; undefined for lines that record no refusal. */
export function parseLogLine(line: string): Observation | undefined {
  if (line.length > 4096 || !line.includes('[ERR]')) return undefined;
  const violation = VIOLATION.exec(line);
  if (violation) return { kind: 'access-denied', nkey: violation[2]!, action: violation[1] === 'Publish' ? 'publish' : 'subscribe', subject: violation[3]! };
  const tls = TLS_ERROR.exec(line);
  if (tls) return { kind: 'authentication-failed', nkey: undefined, reason: `TLS handshake failed: ${tls[1]!.trim() || 'no detail'}` };
  return undefined;
}

/** The audit event an observation becomes; the principal is the key's owner, else the key, else "anonymous". */
export function auditEventOf(observation: Observation, principalOfNkey: ReadonlyMap<string, string>) {
  const principalId = (observation.nkey && principalOfNkey.get(observation.nkey)) ?? observation.nkey ?? 'anonymous';
  switch (observation.kind) {
    case 'authentication-failed':
      return { type: 'AuthenticationFailed' as const, data: { principalId, channel: 'nats' as const, reason: observation.reason } };
    case 'access-denied':
      return {
        type: 'AccessDenied' as const,
        data: { principalId, action: observation.action, resource: observation.subject, reason: 'nats-server: Permissions Violation' },
      };
    default:
      return assertNever(observation, 'observation');
  }
}
