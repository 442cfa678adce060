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
  | ({ type: 'IssueCredential'; data: { credentialId: string; principal: Principal; publicNkey: string } } & Meta)
  | ({ type: 'RevokeCredential'; data: { credentialId: string; reason: string } } & Meta);

type Decided = Omit<CredentialEvent, 'metadata'>;

export function decideCredential(command: CredentialCommand, state: CredentialState): Decided[] {
  switch (command.type) {
    case 'IssueCredential': {
      const { credentialId, principal, publicNkey } = command.data;
      const permissions: NatsPermissions = permissionsFor(principal);
      if (state.status === 'none') {
        return [
          {
            type: 'CredentialIssued',
            data: { credentialId, principalId: principal.principalId, role: principal.role, publicNkey, permissions, inboxPrefix: inboxPrefixOf(principal.principalId) },
          },
        ];
      }
      if (state.status === 'revoked') throw new DomainError(`credential ${credentialId} was revoked; issue a new one`, 'credential.revoked');
      // The same holder again: a redelivery changes nothing; other permissions (a node re-enrolled
      // with new classes, a grant after the table changed) are recorded as such. Anything else
      // reusing the id is a mistake.
      const sameHolder = state.publicNkey === publicNkey && state.principalId === principal.principalId && state.role === principal.role;
      if (!sameHolder) throw new DomainError(`credential ${credentialId} already exists for another key or principal`, 'credential.exists');
      if (deepEqual(state.permissions, permissions)) return [];
      return [{ type: 'CredentialPermissionsChanged', data: { credentialId, principalId: principal.principalId, permissions } }];
    }
    case 'RevokeCredential': {
      if (state.status === 'none') throw new DomainError(`credential ${command.data.credentialId} does not exist`, 'credential.unknown');
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
