import { createUser } from '@nats-io/nkeys';
import { z } from 'zod';
import { Id, type NatsPermissions, PublicUserNkey, RoleSchema, inboxPrefixOf } from '@weai/contracts';
import { DomainError } from '@weai/decider';
import { type EventStore, handleCommand } from '@weai/eventstore';
import { credentialDecider } from '../domain/credential.decide';
import { toCredentialStreamId } from '../domain/credential';
import type { Principal } from '../domain/permissions';
import { commandMetadata } from './metadata';
import type { NatsConfigWriter } from './nats-config';

/** A request to issue a NATS credential. Send `publicNkey` so the seed never leaves the principal. */
export const IssueRequestSchema = z
  .object({
    credentialId: Id,
    role: RoleSchema,
    principalId: Id,
    /** For nodes: the capability classes whose shards it may pull. */
    capabilityClasses: z.array(z.string().max(64)).max(64).optional(),
    publicNkey: PublicUserNkey.optional(),
  })
  .strict();

export const RevokeRequestSchema = z.object({ credentialId: Id, reason: z.string().min(1).max(512) }).strict();

/** What an issue returns; `seed` only when the service made the key pair (hand it over once, store it 0600). */
export interface IssuedCredential {
  readonly credentialId: string;
  readonly publicNkey: string;
  readonly inboxPrefix: string;
  readonly permissions: NatsPermissions;
  readonly seed?: string;
}

function principalOf(request: z.infer<typeof IssueRequestSchema>): Principal {
  const { role, principalId } = request;
  if (role === 'node') return { role, principalId, capabilityClasses: request.capabilityClasses ?? [] };
  if (request.capabilityClasses) throw new DomainError('capabilityClasses are only for nodes', 'security.bad-request');
  if (role === 'service') return { role, principalId: principalId as Extract<Principal, { role: 'service' }>['principalId'] };
  return { role, principalId };
}

/** Issuing and revoking credentials; every change is rendered into nats-server's configuration at once. */
export class CredentialCommands {
  constructor(
    private readonly store: EventStore,
    private readonly config: NatsConfigWriter,
  ) {}

  async issue(body: unknown, now: Date): Promise<IssuedCredential> {
    const request = IssueRequestSchema.parse(body);
    const principal = principalOf(request);
    const pair = request.publicNkey ? undefined : createUser();
    const publicNkey = request.publicNkey ?? pair!.getPublicKey();
    const { state } = await handleCommand(
      this.store,
      credentialDecider,
      toCredentialStreamId(request.credentialId),
      { type: 'IssueCredential', data: { credentialId: request.credentialId, principal, publicNkey }, metadata: commandMetadata(now, `issue-${request.credentialId}`) },
      { retryOnConflict: 3 },
    );
    if (state.status !== 'active' || !state.permissions) throw new DomainError('credential was not issued', 'credential.not-issued');
    await this.config.apply();
    const seed = pair ? new TextDecoder().decode(pair.getSeed()) : undefined;
    return { credentialId: request.credentialId, publicNkey, inboxPrefix: inboxPrefixOf(principal.principalId), permissions: state.permissions, ...(seed ? { seed } : {}) };
  }

  async revoke(body: unknown, now: Date): Promise<{ credentialId: string; revoked: boolean }> {
    const { credentialId, reason } = RevokeRequestSchema.parse(body);
    const { events } = await handleCommand(
      this.store,
      credentialDecider,
      toCredentialStreamId(credentialId),
      { type: 'RevokeCredential', data: { credentialId, reason }, metadata: commandMetadata(now, `revoke-${credentialId}`) },
      { retryOnConflict: 3 },
    );
    // Applied even when nothing new was recorded: a crash between append and reload heals on retry.
    await this.config.apply();
    return { credentialId, revoked: events.length > 0 };
  }
}
