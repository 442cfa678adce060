import type { EventOf, NatsPermissions, CredentialIssued, CredentialPermissionsChanged, CredentialRevoked } from '@weai/contracts';
import { assertNever } from '@weai/decider';

/** Events of the credential aggregate. */
export type CredentialEvent = EventOf<typeof CredentialIssued> | EventOf<typeof CredentialPermissionsChanged> | EventOf<typeof CredentialRevoked>;

type Role = EventOf<typeof CredentialIssued>['data']['role'];

/** One credential's state, tagged by status. */
export type CredentialState =
  | { readonly status: 'none' }
  | {
      readonly status: 'active' | 'revoked';
      readonly credentialId: string;
      readonly principalId: string;
      readonly role: Role;
      readonly publicNkey: string | undefined;
      readonly permissions: NatsPermissions | undefined;
      /** The owner that enrolled this node key; undefined for operators' grants and older enrolments. */
      readonly ownerId: string | undefined;
    };

/** Stream id of one credential. */
export const toCredentialStreamId = (credentialId: string) => `credential-${credentialId}`;

export const initialCredentialState = (): CredentialState => ({ status: 'none' });

export function evolveCredential(state: CredentialState, event: CredentialEvent): CredentialState {
  switch (event.type) {
    case 'CredentialIssued': {
      const { credentialId, principalId, role, publicNkey, permissions, ownerId } = event.data;
      return { status: 'active', credentialId, principalId, role, publicNkey, permissions, ownerId };
    }
    case 'CredentialPermissionsChanged':
      return state.status === 'none' ? state : { ...state, permissions: event.data.permissions };
    case 'CredentialRevoked':
      return state.status === 'none' ? state : { ...state, status: 'revoked' };
    default:
      return assertNever(event, 'credential event');
  }
}
