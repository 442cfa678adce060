import { z } from 'zod';
import { defineEvent } from '../event';
import { Id, Timestamp } from '../metadata';

const family = 'security' as const;
const scope = (d: { principalId: string }) => d.principalId;

/** Roles a principal can hold. */
export const RoleSchema = z.enum(['node', 'partner', 'owner', 'operator', 'service']);

export const CredentialIssued = defineEvent({
  type: 'CredentialIssued',
  family,
  schema: z
    .object({ credentialId: Id, principalId: Id, role: RoleSchema, expiresAt: Timestamp.optional() })
    .strict(),
  scope,
});

export const CredentialRevoked = defineEvent({
  type: 'CredentialRevoked',
  family,
  schema: z.object({ credentialId: Id, principalId: Id, reason: z.string().min(1).max(512) }).strict(),
  scope,
});

export const AccessDenied = defineEvent({
  type: 'AccessDenied',
  family,
  schema: z
    .object({
      principalId: Id,
      /** What was attempted, e.g. "publish" or "GET /jobs/:id". */
      action: z.string().min(1).max(256),
      /** On what, e.g. a subject or an opaque object id. */
      resource: z.string().min(1).max(512),
      reason: z.string().min(1).max(512),
    })
    .strict(),
  scope,
});

export const AuthenticationFailed = defineEvent({
  type: 'AuthenticationFailed',
  family,
  schema: z
    .object({
      /** The principal claimed, or "anonymous" when none was. */
      principalId: Id,
      /** Transport the attempt came in on. */
      channel: z.enum(['http', 'nats']),
      reason: z.string().min(1).max(512),
    })
    .strict(),
  scope,
});

export const SECURITY_EVENTS = [CredentialIssued, CredentialRevoked, AccessDenied, AuthenticationFailed] as const;
