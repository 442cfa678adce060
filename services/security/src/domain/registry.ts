import type { NatsPermissions } from '@weai/contracts';

/** A credential as the server configuration needs it. */
export interface ActiveCredential {
  readonly credentialId: string;
  readonly principalId: string;
  readonly role: string;
  readonly publicNkey: string;
  readonly permissions: NatsPermissions;
}

/** What the security service knows of NATS credentials: the active ones, and whose every key ever was. */
export interface CredentialRegistry {
  /** Active credentials by credential id, in issue order. */
  readonly active: ReadonlyMap<string, ActiveCredential>;
  /** Principal of every public nkey ever issued (revoked ones too, so a revoked key's attempts are attributed). */
  readonly principalOfNkey: ReadonlyMap<string, string>;
}

type SecurityEventLike = { readonly type: string; readonly data: unknown };

export const emptyRegistry = (): CredentialRegistry => ({ active: new Map(), principalOfNkey: new Map() });

/** Folds security events into the registry; events of other types are ignored. Pure. */
export function projectRegistry(events: Iterable<SecurityEventLike>, from: CredentialRegistry = emptyRegistry()): CredentialRegistry {
  const active = new Map(from.active);
  const principalOfNkey = new Map(from.principalOfNkey);
  for (const event of events) {
    if (event.type === 'CredentialIssued') {
      const d = event.data as { credentialId: string; principalId: string; role: string; publicNkey?: string; permissions?: NatsPermissions };
      if (!d.publicNkey || !d.permissions) continue; // not a NATS credential
      active.set(d.credentialId, { credentialId: d.credentialId, principalId: d.principalId, role: d.role, publicNkey: d.publicNkey, permissions: d.permissions });
      principalOfNkey.set(d.publicNkey, d.principalId);
    } else if (event.type === 'CredentialPermissionsChanged') {
      const d = event.data as { credentialId: string; permissions: NatsPermissions };
      const current = active.get(d.credentialId);
      if (current) active.set(d.credentialId, { ...current, permissions: d.permissions });
    } else if (event.type === 'CredentialRevoked') {
      active.delete((event.data as { credentialId: string }).credentialId);
    }
  }
  return { active, principalOfNkey };
}
