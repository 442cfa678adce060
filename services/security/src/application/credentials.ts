import { createUser } from '@nats-io/nkeys';
import { z } from 'zod';
import { type EnrolledNode, Id, type NatsPermissions, NodeEnrolmentRequestSchema, NodeRevocationSchema, PublicUserNkey, RoleSchema, inboxPrefixOf, nodeIdOf } from '@weai/contracts';
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

/** The credential id of an enrolled node (one credential per node key). */
export const nodeCredentialId = (nodeId: string) => `node-${nodeId}`;

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

  issue(body: unknown, now: Date): Promise<IssuedCredential> {
    return this.issueAs(IssueRequestSchema.parse(body), now);
  }

  /** Issues a validated request; `ownerId` is the enrolling owner's, recorded on a node's credential. */
  private async issueAs(request: z.infer<typeof IssueRequestSchema>, now: Date, ownerId?: string): Promise<IssuedCredential> {
    const principal = principalOf(request);
    const pair = request.publicNkey ? undefined : createUser();
    const publicNkey = request.publicNkey ?? pair!.getPublicKey();
    const { state } = await handleCommand(
      this.store,
      credentialDecider,
      toCredentialStreamId(request.credentialId),
      // A fresh command id: a change of permissions is a second issue of the same id (a derived id
      // would give its event the first one's id, and the store would drop it as a duplicate). A
      // retried request still appends nothing: the decider finds the same grant recorded.
      { type: 'IssueCredential', data: { credentialId: request.credentialId, principal, publicNkey, ...(ownerId ? { ownerId } : {}) }, metadata: commandMetadata(now) },
      { retryOnConflict: 3 },
    );
    if (state.status !== 'active' || !state.permissions) throw new DomainError('credential was not issued', 'credential.not-issued');
    await this.config.apply();
    const seed = pair ? new TextDecoder().decode(pair.getSeed()) : undefined;
    return { credentialId: request.credentialId, publicNkey, inboxPrefix: inboxPrefixOf(principal.principalId), permissions: state.permissions, ...(seed ? { seed } : {}) };
  }

  /**
   * Enrols a node key for an owner the gateway authenticated: a `node` credential whose principal
   * is the id the nodes service will register that key as, so the heartbeat subject, key subject
   * and inbox its permissions name are the node's own. The credential id derives from the key too,
   * so the same enrolment again is the same credential (nothing recorded), and a revoked key stays
   * revoked (a new identity needs a new key). The enrolling owner is recorded on the credential: it
   * may revoke the node before it ever registers, and no other owner may enrol the key again.
   */
  async enrolNode(body: unknown, now: Date): Promise<EnrolledNode> {
    const { publicKey, capabilityClasses, ownerId } = NodeEnrolmentRequestSchema.parse(body);
    const nodeId = nodeIdOf(publicKey);
    const classes = [...new Set(capabilityClasses)].sort();
    const request = { credentialId: nodeCredentialId(nodeId), role: 'node' as const, principalId: nodeId, capabilityClasses: classes, publicNkey: publicKey };
    const issued = await this.issueAs(IssueRequestSchema.parse(request), now, ownerId);
    return { nodeId, credentialId: issued.credentialId, publicKey, inboxPrefix: issued.inboxPrefix, capabilityClasses: classes };
  }

  /**
   * Revokes an enrolled node's credential: with `ownerId`, only one that owner enrolled (anything else
   * is refused as unknown); without, the gateway found the node registered to the owner asking.
   */
  revokeNode(body: unknown, now: Date): Promise<{ credentialId: string; revoked: boolean }> {
    const { nodeId, reason, ownerId } = NodeRevocationSchema.parse(body);
    return this.revokeAs(RevokeRequestSchema.parse({ credentialId: nodeCredentialId(nodeId), reason }), now, ownerId);
  }

  revoke(body: unknown, now: Date): Promise<{ credentialId: string; revoked: boolean }> {
    return this.revokeAs(RevokeRequestSchema.parse(body), now);
  }

  private async revokeAs({ credentialId, reason }: z.infer<typeof RevokeRequestSchema>, now: Date, ownerId?: string): Promise<{ credentialId: string; revoked: boolean }> {
    const { events } = await handleCommand(
      this.store,
      credentialDecider,
      toCredentialStreamId(credentialId),
      { type: 'RevokeCredential', data: { credentialId, reason, ...(ownerId ? { ownerId } : {}) }, metadata: commandMetadata(now, `revoke-${credentialId}`) },
      { retryOnConflict: 3 },
    );
    // Applied even when nothing new was recorded: a crash between append and reload heals on retry.
    await this.config.apply();
    return { credentialId, revoked: events.length > 0 };
  }
}
