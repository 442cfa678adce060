import type { NatsPermissions } from '@weai/contracts';
import { type Decider, DomainError, assertNever, deepEqual } from '@weai/decider';
import type { CommandMetadata } from '@weai/eventstore';
import { type CredentialEvent, type CredentialState, evolveCredential, initialCredentialState } from './credential';
import { type Principal, permissionsFor } from './permissions';
import { inboxPrefixOf } from '@weai/contracts';

type Meta = { readonly metadata: CommandMetadata };

/**
 * Commands of the credential aggregate. The key pair is made by the adapter (randomness stays out
 * of the domain); only its public half reaches the decider.
 */
export type CredentialCommand =
  /** `ownerId`: the owner enrolling a node key at the gateway (recorded; another owner may not take the key over). */
  | ({ type: 'IssueCredential'; data: { credentialId: string; principal: Principal; publicNkey: string; ownerId?: string } } & Meta)
  /** `ownerId`: an owner asking for a credential it enrolled; any other answers as unknown. Absent: an operator, or the gateway for a registered node of the owner's. */
  | ({ type: 'RevokeCredential'; data: { credentialId: string; reason: string; ownerId?: string } } & Meta);

type Decided = Omit<CredentialEvent, 'metadata'>;

export function decideCredential(command: CredentialCommand, state: CredentialState): Decided[] {
  switch (command.type) {
    case 'IssueCredential': {
      const { credentialId, principal, publicNkey, ownerId } = command.data;
      // A node enrolled by an owner may read that owner's balance (its status page); the owner
      // recorded first stays the one, whoever issues again.
      const owner = ownerId ?? (state.status === 'none' ? undefined : state.ownerId);
      const permissions: NatsPermissions = permissionsFor(principal, owner);
      if (state.status === 'none') {
        return [
          {
            type: 'CredentialIssued',
            data: { credentialId, principalId: principal.principalId, role: principal.role, publicNkey, permissions, inboxPrefix: inboxPrefixOf(principal.principalId), ...(ownerId ? { ownerId } : {}) },
          },
        ];
      }
      if (state.status === 'revoked') throw new DomainError(`credential ${credentialId} was revoked; issue a new one`, 'credential.revoked');
      // The same holder again: a redelivery changes nothing; other permissions (a node re-enrolled
      // with new classes, a grant after the table changed) are recorded as such. Anything else
      // reusing the id is a mistake, and so is another owner enrolling the key: it would change the
      // permissions of a node it does not own (an enrolment recorded without an owner stays open).
      const otherOwner = ownerId !== undefined && state.ownerId !== undefined && state.ownerId !== ownerId;
      const sameHolder = state.publicNkey === publicNkey && state.principalId === principal.principalId && state.role === principal.role && !otherOwner;
      if (!sameHolder) throw new DomainError(`credential ${credentialId} already exists for another key, principal or owner`, 'credential.exists');
      if (deepEqual(state.permissions, permissions)) return [];
      return [{ type: 'CredentialPermissionsChanged', data: { credentialId, principalId: principal.principalId, permissions } }];
    }
    case 'RevokeCredential': {
      const { credentialId, ownerId } = command.data;
      // A credential the asking owner did not enrol is refused exactly as a missing one, so the
      // refusal confirms no node id to another owner.
      if (state.status === 'none' || (ownerId !== undefined && state.ownerId !== ownerId)) throw new DomainError(`credential ${credentialId} does not exist`, 'credential.unknown');
      if (state.status === 'revoked') return [];
      return [{ type: 'CredentialRevoked', data: { credentialId: state.credentialId, principalId: state.principalId, reason: command.data.reason } }];
    }
    default:
      return assertNever(command, 'credential command');
  }
}

/** The credential decider. */
export const credentialDecider: Decider<CredentialCommand, CredentialEvent, CredentialState> = {
  decide: (command, state) => decideCredential(command, state) as CredentialEvent[],
  evolve: evolveCredential,
  initialState: initialCredentialState,
};
