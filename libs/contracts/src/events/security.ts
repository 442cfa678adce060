import { z } from 'zod';
import { defineEvent } from '../event';
import { Id, Timestamp } from '../metadata';

const family = 'security' as const;
const scope = (d: { principalId: string }) => d.principalId;

/** Roles a principal can hold. */
export const RoleSchema = z.enum(['node', 'partner', 'owner', 'operator', 'service']);

/** A pseudonymised source (`src-` and a keyed hash): stable for one address and secret, reversible by nobody. */
export const SourcePseudonym = z.string().regex(/^src-[0-9a-f]{16,64}$/, 'must be a source pseudonym (src-<hex>)');

/** A NATS subject or wildcard pattern as nats-server permissions take it (no whitespace, no quotes). */
export const SubjectPattern = z
  .string()
  .min(1)
  .max(256)
  .regex(/^[A-Za-z0-9_$*>.-]+$/, 'must be a NATS subject or wildcard pattern');

/** Subject permissions of one NATS user, as nats-server's `permissions {}` block takes them. */
export const NatsPermissionsSchema = z
  .object({
    /** Subjects the user may publish to (allow list; everything else is denied). */
    publish: z.array(SubjectPattern).max(256),
    /** Subjects the user may subscribe to (allow list). */
    subscribe: z.array(SubjectPattern).max(256),
    /** Whether the user may answer requests it received (publish once to their reply subjects). */
    allowResponses: z.boolean(),
  })
  .strict();
/** Subject permissions of one NATS user. */
export type NatsPermissions = z.infer<typeof NatsPermissionsSchema>;

/** Public key of a NATS nkey user: `U` and 55 base32 characters. Never the seed. */
export const PublicUserNkey = z.string().regex(/^U[A-Z2-7]{55}$/, 'must be the public key of an nkey user (U…)');

export const CredentialIssued = defineEvent({
  type: 'CredentialIssued',
  family,
  schema: z
    .object({
      credentialId: Id,
      principalId: Id,
      role: RoleSchema,
      expiresAt: Timestamp.optional(),
      /** For NATS credentials: the public nkey the principal connects with (the seed is never recorded). */
      publicNkey: PublicUserNkey.optional(),
      /** For NATS credentials: the subject permissions granted. */
      permissions: NatsPermissionsSchema.optional(),
      /** For NATS credentials: the inbox prefix the principal must use for its replies. */
      inboxPrefix: SubjectPattern.optional(),
      /**
       * For node keys an owner enrolled at the gateway: the owner's opaque id (never the payout
       * address). Absent for credentials operators issued, and in events recorded before enrolments
       * were attributed.
       */
      ownerId: Id.optional(),
    })
    .strict(),
  scope,
});

/**
 * The same principal and key were granted other subject permissions: a node re-enrolled with other
 * capability classes (new hardware), or a credential re-issued after the permission table changed.
 */
export const CredentialPermissionsChanged = defineEvent({
  type: 'CredentialPermissionsChanged',
  family,
  schema: z.object({ credentialId: Id, principalId: Id, permissions: NatsPermissionsSchema }).strict(),
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
      /** Transport the attempt came in on; absent in events recorded before HTTP was audited (NATS). */
      channel: z.enum(['http', 'nats']).optional(),
      /** Role the principal acted in, when it authenticated. */
      role: RoleSchema.optional(),
      /** A pseudonym of where the attempt came from (a keyed hash of the address, never the address). */
      source: SourcePseudonym.optional(),
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
      /** What was attempted, e.g. "GET /v1/jobs/:jobId" (HTTP). */
      action: z.string().min(1).max(256).optional(),
      /** A pseudonym of where the attempt came from (a keyed hash of the address, never the address). */
      source: SourcePseudonym.optional(),
    })
    .strict(),
  scope,
});

/** The public name of a data key (`o1:<sha256>`, `j1:<jobId>`); never the key itself. */
export const DataKeyId = z.string().regex(/^(o1:[0-9a-f]{64}|j1:[A-Za-z0-9_-]{1,128})$/, 'must be a data key id (o1:<sha256> or j1:<jobId>)');

/** The work item a node proved it holds the lease of when it asked for keys. */
const LeasedShard = z.object({ jobId: Id, shard: z.number().int().nonnegative(), replica: z.number().int().nonnegative(), workItem: z.number().int().positive() }).strict();

/** The security service handed data keys to a principal (the keys themselves are never recorded). */
export const KeyReleased = defineEvent({
  type: 'KeyReleased',
  family,
  schema: z.object({ principalId: Id, role: RoleSchema, keyIds: z.array(DataKeyId).min(1).max(8), lease: LeasedShard.optional() }).strict(),
  scope,
});

/** The security service refused a principal data keys: no lease, another class, a key the shard does not name. */
export const KeyRefused = defineEvent({
  type: 'KeyRefused',
  family,
  schema: z
    .object({
      principalId: Id,
      keyIds: z.array(z.string().max(200)).max(8),
      /** The stream sequence of the work item the node claimed to hold, when it named one. */
      workItem: z.number().int().nonnegative().optional(),
      reason: z.string().min(1).max(512),
    })
    .strict(),
  scope,
});

export const SECURITY_EVENTS = [CredentialIssued, CredentialPermissionsChanged, CredentialRevoked, AccessDenied, AuthenticationFailed, KeyReleased, KeyRefused] as const;
