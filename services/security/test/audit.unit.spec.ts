import { UnusableObservationError, auditEventOf, parseAuthErrorAdvisory, parseLogLine } from '../src/domain/audit';
import { projectRegistry } from '../src/domain/registry';
import { renderNkeyUsers } from '../src/domain/server-config';

const KEY = 'UDUTTSLFYAQWYABPCQTVNXPXBJDJFQUU3XYWAVYL24TCUCQKXIKB5FVC';
const bytes = (v: unknown) => new TextEncoder().encode(typeof v === 'string' ? v : JSON.stringify(v));
// Recorded from nats-server 2.9.10 (see docs/security.md).
const advisory = {
  type: 'io.nats.server.advisory.v1.client_disconnect',
  id: 'iNOywOzEURQ0iaKX2b9sz4',
  client: { host: '127.0.0.1', id: 7, acc: '$G', user: KEY, name: 'stranger', kind: 'Client' },
  reason: 'Authentication Failure',
};
const publishViolation = `[7968] 2026/11/26 01:21:21.769981 [ERR] 127.0.0.1:48024 - cid:8 - "v3.4.0:nats.js:n1" - Publish Violation - Nkey "${KEY}", Subject "weai.hb.n2"`;
const subscribeViolation = `[7968] 2026/11/26 01:21:21.770007 [ERR] 127.0.0.1:48024 - cid:8 - "v3.4.0:nats.js:n1" - Subscription Violation - Nkey "${KEY}", Subject "_INBOX.n2.>", SID 1`;
const tlsError = '[7968] 2026/11/26 01:21:21.723275 [ERR] 127.0.0.1:48004 - cid:6 - TLS handshake error: EOF';

describe('audit observations', () => {
  it('given an auth-error advisory, then an AuthenticationFailed of the key’s principal', () => {
    const o = parseAuthErrorAdvisory(bytes(advisory));
    expect(auditEventOf(o, new Map([[KEY, 'n1']]))).toEqual({ type: 'AuthenticationFailed', data: { principalId: 'n1', channel: 'nats', reason: 'Authentication Failure' } });
  });
  it('given an advisory for an unknown key, then the key itself is the principal; without one, "anonymous"', () => {
    expect(auditEventOf(parseAuthErrorAdvisory(bytes(advisory)), new Map()).data.principalId).toBe(KEY);
    const anonymous = { ...advisory, client: { ...advisory.client, user: undefined } };
    expect(auditEventOf(parseAuthErrorAdvisory(bytes(anonymous)), new Map()).data.principalId).toBe('anonymous');
  });
  it.each([['not json'], [bytes('null')], [bytes({ type: 'io.nats.server.advisory.v1.client_connect' })], [bytes('x'.repeat(70_000))]])(
    'given an unusable advisory %#, then a clear error',
    (input) => {
      expect(() => parseAuthErrorAdvisory(typeof input === 'string' ? bytes(input) : input)).toThrow(UnusableObservationError);
    },
  );
  it('given permission violations in the server log, then AccessDenied with action and subject', () => {
    expect(auditEventOf(parseLogLine(publishViolation)!, new Map([[KEY, 'n1']]))).toEqual({
      type: 'AccessDenied',
      data: { principalId: 'n1', action: 'publish', resource: 'weai.hb.n2', reason: 'nats-server: Permissions Violation' },
    });
    expect(parseLogLine(subscribeViolation)).toEqual({ kind: 'access-denied', nkey: KEY, action: 'subscribe', subject: '_INBOX.n2.>' });
  });
  it('given a TLS handshake error, then an anonymous AuthenticationFailed', () => {
    expect(auditEventOf(parseLogLine(tlsError)!, new Map())).toEqual({ type: 'AuthenticationFailed', data: { principalId: 'anonymous', channel: 'nats', reason: 'TLS handshake failed: EOF' } });
  });
  it('given ordinary log lines, then nothing', () => {
    expect(parseLogLine('[1] 2026/11/26 01:21:22.288766 [INF] Reloaded server configuration')).toBeUndefined();
    expect(parseLogLine(`[1] [INF] Publish Violation - Nkey "${KEY}", Subject "x"`)).toBeUndefined();
    expect(parseLogLine(`[ERR] ${'x'.repeat(5000)}`)).toBeUndefined();
  });
});

describe('credential registry and the rendered users', () => {
  const permissions = { publish: ['weai.hb.n1'], subscribe: ['_INBOX.n1.>'], allowResponses: false };
  const issued = (credentialId: string, publicNkey: string) => ({ type: 'CredentialIssued', data: { credentialId, principalId: 'n1', role: 'node', publicNkey, permissions } });
  it('keeps active credentials and remembers revoked keys’ principals', () => {
    const r = projectRegistry([issued('c1', KEY), { type: 'CredentialRevoked', data: { credentialId: 'c1' } }]);
    expect(r.active.size).toBe(0);
    expect(r.principalOfNkey.get(KEY)).toBe('n1');
  });
  it('renders each user with allow lists, and denies everything where a list is empty', () => {
    const text = renderNkeyUsers([
      { publicNkey: KEY, permissions, label: 'node:n1' },
      { publicNkey: `U${'A'.repeat(55)}`, permissions: { publish: [], subscribe: [], allowResponses: true }, label: 'x' },
    ]);
    expect(text).toContain(`{ nkey: "${KEY}", permissions: { publish: { allow: ["weai.hb.n1"] }, subscribe: { allow: ["_INBOX.n1.>"] } } }`);
    expect(text).toContain('publish: { deny: [">"] }, subscribe: { deny: [">"] }, allow_responses: true');
    expect(text).not.toMatch(/SU[A-Z2-7]{56}/);
  });
});
