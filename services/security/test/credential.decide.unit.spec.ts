import { DeciderSpecification, DomainError } from '@weai/decider';
import type { CommandMetadata } from '@weai/eventstore';
import { credentialDecider } from '../src/domain/credential.decide';
import type { CredentialEvent } from '../src/domain/credential';
import { permissionsFor } from '../src/domain/permissions';

const metadata: CommandMetadata = { commandId: 'c1', causationId: 'c1', correlationId: 'c1', now: '2026-11-26T00:00:00.000Z' };
const eventMeta = { eventId: '00000000-0000-5000-8000-000000000000', causationId: 'c1', correlationId: 'c1', occurredAt: metadata.now };
const KEY = `U${'A'.repeat(55)}`;
const OTHER = `U${'B'.repeat(55)}`;
const node = { role: 'node' as const, principalId: 'n1', capabilityClasses: ['cpu.avx2'] };
const issue = (publicNkey = KEY) => ({ type: 'IssueCredential' as const, data: { credentialId: 'cred1', principal: node, publicNkey }, metadata });
const revoke = { type: 'RevokeCredential' as const, data: { credentialId: 'cred1', reason: 'laptop stolen' }, metadata };
const issuedData = { credentialId: 'cred1', principalId: 'n1', role: 'node' as const, publicNkey: KEY, permissions: permissionsFor(node), inboxPrefix: '_INBOX.n1' };
const issued = { type: 'CredentialIssued', data: issuedData, metadata: eventMeta } as CredentialEvent;
const revoked = { type: 'CredentialRevoked', data: { credentialId: 'cred1', principalId: 'n1', reason: 'laptop stolen' }, metadata: eventMeta } as CredentialEvent;
const spec = DeciderSpecification.for(credentialDecider);

describe('credential decider', () => {
  it('issues a credential with the permissions of the principal’s role, the public key and never a seed', () => {
    spec.given([]).when(issue()).then([{ type: 'CredentialIssued', data: issuedData } as never]);
  });
  it('issuing the same credential again records nothing (a redelivered request)', () => {
    spec.given([issued]).when(issue()).then([]);
  });
  it('refuses to reuse a credential id for another key', () => {
    spec.given([issued]).when(issue(OTHER)).thenThrows(DomainError, /already exists/);
  });
  it('records other permissions for the same key and principal (a node re-enrolled with new classes)', () => {
    const upgraded = { ...node, capabilityClasses: ['cpu.avx2', 'cuda.sm86.vram8'] };
    spec
      .given([issued])
      .when({ ...issue(), data: { ...issue().data, principal: upgraded } })
      .then([{ type: 'CredentialPermissionsChanged', data: { credentialId: 'cred1', principalId: 'n1', permissions: permissionsFor(upgraded) } } as never]);
  });
  it('refuses to reuse a credential id for another principal or role, whatever the key', () => {
    spec.given([issued]).when({ ...issue(), data: { ...issue().data, principal: { ...node, principalId: 'n2' } } }).thenThrows(DomainError, /already exists/);
    spec.given([issued]).when({ ...issue(), data: { ...issue().data, principal: { role: 'partner' as const, principalId: 'n1' } } }).thenThrows(DomainError, /already exists/);
  });
  it('refuses to bring a revoked credential back, even with other permissions', () => {
    spec.given([issued, revoked]).when({ ...issue(), data: { ...issue().data, principal: { ...node, capabilityClasses: ['cpu.generic'] } } }).thenThrows(DomainError, /revoked/);
    spec.given([issued, revoked]).when(issue()).thenThrows(DomainError, /revoked/);
  });
  it('revokes an active credential', () => {
    spec.given([issued]).when(revoke).then([{ type: 'CredentialRevoked', data: revoked.data } as never]);
  });
  it('revoking twice records nothing more', () => {
    spec.given([issued, revoked]).when(revoke).then([]);
  });
  it('refuses to revoke a credential that was never issued', () => {
    spec.given([]).when(revoke).thenThrows(DomainError, /does not exist/);
  });
  it('refuses a principal whose id is not a plain subject token', () => {
    spec.given([]).when({ ...issue(), data: { ...issue().data, principal: { ...node, principalId: 'n1.>' } } }).thenThrows(DomainError, /principal id/);
  });
});
