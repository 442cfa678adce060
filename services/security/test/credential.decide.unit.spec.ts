import { CredentialIssued } from '@weai/contracts';
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
// Node keys enrolled at the gateway: the owner's opaque id is recorded on the credential.
const OWNER = 'o0123456789abcdef01234567';
const OTHER_OWNER = 'ofedcba9876543210fedcba98';
const enrol = (ownerId = OWNER) => ({ ...issue(), data: { ...issue().data, ownerId } });
const enrolled = { type: 'CredentialIssued', data: { ...issuedData, permissions: permissionsFor(node, OWNER), ownerId: OWNER }, metadata: eventMeta } as CredentialEvent;
const revokeAs = (ownerId: string) => ({ ...revoke, data: { ...revoke.data, ownerId } });
/** Exactly the refusal of a credential that was never issued: nothing tells another owner the node exists. */
const asUnknown = (error: unknown) => error instanceof DomainError && error.code === 'credential.unknown' && error.message === 'credential cred1 does not exist';

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
  describe('the owner that enrolled a node key', () => {
    it('is recorded on the credential', () => {
      spec.given([]).when(enrol()).then([{ type: 'CredentialIssued', data: enrolled.data } as never]);
    });
    it('may enrol the key again (nothing recorded) and revoke it, registered or not', () => {
      spec.given([enrolled]).when(enrol()).then([]);
      spec.given([enrolled]).when(revokeAs(OWNER)).then([{ type: 'CredentialRevoked', data: revoked.data } as never]);
      spec.given([enrolled, revoked]).when(revokeAs(OWNER)).then([]);
    });
    it('is the only owner that may revoke it: another is refused exactly as for an unknown credential', () => {
      spec.given([]).when(revokeAs(OTHER_OWNER)).thenThrows(asUnknown);
      spec.given([enrolled]).when(revokeAs(OTHER_OWNER)).thenThrows(asUnknown);
      spec.given([enrolled, revoked]).when(revokeAs(OTHER_OWNER)).thenThrows(asUnknown);
      // Enrolled before owners were recorded: no owner can show it is theirs (the gateway's registration check still can).
      spec.given([issued]).when(revokeAs(OWNER)).thenThrows(asUnknown);
    });
    it('does not stop an operator (no owner on the command) from revoking it', () => {
      spec.given([enrolled]).when(revoke).then([{ type: 'CredentialRevoked', data: revoked.data } as never]);
    });
    it('keeps another owner from enrolling the same key (it would change a node it does not own)', () => {
      spec.given([enrolled]).when(enrol(OTHER_OWNER)).thenThrows(DomainError, /already exists/);
      spec.given([enrolled]).when(issue()).then([]);
    });
    it('is the one whose balance the node may read, also when the key is issued again without an owner', () => {
      const balanceOf = (ownerId: string) => `weai.rpc.rewards.balance.${ownerId}`;
      const { publish } = permissionsFor(node, OWNER);
      expect(publish).toContain(balanceOf(OWNER));
      expect(publish).not.toContain(balanceOf(OTHER_OWNER));
      expect(issuedData.permissions.publish.filter((s) => s.startsWith('weai.rpc.rewards.'))).toEqual([]);
      spec.given([enrolled]).when(issue()).then([]);
    });
    it('is optional in the event: one recorded before owners were still decodes', () => {
      expect(CredentialIssued.schema.safeParse(issuedData).success).toBe(true);
      expect(CredentialIssued.schema.safeParse(enrolled.data).success).toBe(true);
    });
  });
  it('refuses a principal whose id is not a plain subject token', () => {
    spec.given([]).when({ ...issue(), data: { ...issue().data, principal: { ...node, principalId: 'n1.>' } } }).thenThrows(DomainError, /principal id/);
  });
});
