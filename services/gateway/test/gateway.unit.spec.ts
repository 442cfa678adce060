import { generateKeyPairSync } from 'node:crypto';
import { AccessDenied, AuthenticationFailed } from '@weai/contracts';
import { RpcError } from '@weai/messaging';
import { ConfigError } from '@weai/runtime';
import { fromScheduler } from '../src/application/scheduler-errors';
import { reportOf } from '../src/audit/denials';
import { sourceAddress } from '../src/http/source';
import { PartnerKeys } from '../src/auth/partner-keys';
import { DEFAULT_MAX_UPLOAD_BYTES, gatewayConfigFromEnv } from '../src/config';

const keyA = 'a'.repeat(24);
const keyB = 'b'.repeat(40);

describe('gateway configuration', () => {
  it('has defaults for everything but the partner keys', () => {
    const config = gatewayConfigFromEnv({ GATEWAY_PARTNER_KEYS: `acme:${keyA}, globex : ${keyB}` });
    expect(config).toMatchObject({ host: '127.0.0.1', port: 8080, maxUploadBytes: DEFAULT_MAX_UPLOAD_BYTES, natsServers: ['nats://127.0.0.1:4222'], streamReplicas: 1 });
    expect(gatewayConfigFromEnv({ GATEWAY_PARTNER_KEYS: `acme:${keyA}`, WEAI_STREAM_REPLICAS: '3' }).streamReplicas).toBe(3);
    expect(config.partners.map((p) => p.partnerId)).toEqual(['acme', 'globex']);
    expect(JSON.stringify(config)).not.toContain(keyA);
  });

  it.each([
    [{}, /^GATEWAY_PARTNER_KEYS is required/],
    [{ GATEWAY_PARTNER_KEYS: 'acme' }, /^GATEWAY_PARTNER_KEYS entry 1 is not partnerId:apiKey$/],
    [{ GATEWAY_PARTNER_KEYS: `acme:${keyA},bad.id:${keyB}` }, /^GATEWAY_PARTNER_KEYS entry 2: partner id must be/],
    [{ GATEWAY_PARTNER_KEYS: 'acme:too-short' }, /^GATEWAY_PARTNER_KEYS entry 1 \(partner acme\): the API key must be at least 24 characters$/],
    [{ GATEWAY_PARTNER_KEYS: `acme:${keyA},acme:${keyB}` }, /partner acme is listed twice/],
    [{ GATEWAY_PARTNER_KEYS: `acme:${keyA},globex:${keyA}` }, /already another partner's/],
    [{ GATEWAY_PARTNER_KEYS: `acme:${keyA}`, GATEWAY_PORT: 'http' }, /^GATEWAY_PORT must be an integer from 0 to 65535, got "http"$/],
    [{ GATEWAY_PARTNER_KEYS: `acme:${keyA}`, GATEWAY_MAX_UPLOAD_BYTES: '0' }, /^GATEWAY_MAX_UPLOAD_BYTES must be an integer from 1/],
    [{ GATEWAY_PARTNER_KEYS: `acme:${keyA}`, WEAI_STREAM_REPLICAS: '2' }, /^WEAI_STREAM_REPLICAS must be 1, 3 or 5, got 2$/],
  ])('fails fast naming the variable: %j', (env, message) => {
    let error: unknown;
    try {
      gatewayConfigFromEnv(env);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain(keyA);
  });
});

describe('partner keys', () => {
  const keys = new PartnerKeys(gatewayConfigFromEnv({ GATEWAY_PARTNER_KEYS: `acme:${keyA},globex:${keyB}` }).partners);

  it('tells whose key it is, and nothing for a wrong one', () => {
    expect(keys.identify(keyA)).toBe('acme');
    expect(keys.identify(keyB)).toBe('globex');
    expect(keys.identify(`${keyA}a`)).toBeUndefined();
    expect(keys.identify(keyA.slice(1))).toBeUndefined();
    expect(keys.identify('')).toBeUndefined();
  });
});

describe("the scheduler's refusals as HTTP", () => {
  it.each([
    ['job.rejected', 400],
    ['bad-request', 400],
    ['job.not-found', 404],
    ['job.id-taken', 409],
    ['job.finished', 409],
    ['unavailable', 503],
    ['timeout', 503],
    ['internal', 502],
  ])('%s → %i', (code, status) => {
    const error = fromScheduler(new RpcError(code, 'why'));
    expect(error.status).toBe(status);
    if (status === 400 || status === 404) expect({ code: error.code, message: error.message }).toEqual({ code, message: 'why' });
  });
});

describe('gateway configuration of roles, tokens and limits', () => {
  const base = { GATEWAY_PARTNER_KEYS: `acme:${keyA}` };
  const pem = generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();

  it('warns and generates a signing key and pseudonym secret in development, and never prints them', () => {
    const warnings: string[] = [];
    const config = gatewayConfigFromEnv(base, (w) => warnings.push(w));
    expect(config.tokens).toMatchObject({ generatedKey: true, audience: 'weai-gateway', issuer: 'weai-gateway', ttlSeconds: 900, clockSkewSeconds: 30 });
    expect(config.rateLimit).toEqual({ burst: 60, perSecond: 10 });
    expect(warnings).toEqual([expect.stringMatching(/^GATEWAY_TOKEN_KEY_FILE is not set/), expect.stringMatching(/^GATEWAY_PSEUDONYM_SECRET is not set/)]);
    expect(config.operators).toEqual([]);
  });

  it('takes the key from GATEWAY_TOKEN_KEY and operators from GATEWAY_OPERATOR_KEYS', () => {
    const config = gatewayConfigFromEnv({ ...base, GATEWAY_TOKEN_KEY: pem, GATEWAY_OPERATOR_KEYS: `op-1:${keyB}`, GATEWAY_RATE_LIMIT: '5/0.5' });
    expect(config.tokens.generatedKey).toBe(false);
    expect(config.operators.map((o) => o.id)).toEqual(['op-1']);
    expect(config.rateLimit).toEqual({ burst: 5, perSecond: 0.5 });
  });

  it.each([
    ['production without a signing key', { NODE_ENV: 'production' }, /^GATEWAY_TOKEN_KEY_FILE is required in production/],
    ['production without a pseudonym secret', { NODE_ENV: 'production', GATEWAY_TOKEN_KEY: pem }, /^GATEWAY_PSEUDONYM_SECRET is required in production/],
    ['a token key that is no PEM', { GATEWAY_TOKEN_KEY: 'not a key' }, /^GATEWAY_TOKEN_KEY does not hold a PEM private key$/],
    ['a P-256 token key', { GATEWAY_TOKEN_KEY: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString() }, /must be an Ed25519 private key/],
    ['a missing key file', { GATEWAY_TOKEN_KEY_FILE: '/nonexistent/token.pem' }, /^GATEWAY_TOKEN_KEY_FILE: cannot read \/nonexistent\/token.pem \(ENOENT\)$/],
    ['an operator with a partner key', { GATEWAY_OPERATOR_KEYS: `op-1:${keyA}` }, /an operator key is also a partner key/],
    ['a bad operator id', { GATEWAY_OPERATOR_KEYS: 'op 1:' + keyB }, /^GATEWAY_OPERATOR_KEYS entry 1: operator id must be/],
    ['a rate limit without a rate', { GATEWAY_RATE_LIMIT: '10' }, /^GATEWAY_RATE_LIMIT must be <burst>\/<requests per second>/],
    ['a zero burst', { GATEWAY_AUTH_RATE_LIMIT: '0/1' }, /^GATEWAY_AUTH_RATE_LIMIT must be/],
    ['a token lifetime under 30 s', { GATEWAY_TOKEN_TTL_SECONDS: '10' }, /^GATEWAY_TOKEN_TTL_SECONDS must be an integer from 30 to 86400/],
    ['a short pseudonym secret', { GATEWAY_PSEUDONYM_SECRET: 'short' }, /^GATEWAY_PSEUDONYM_SECRET must be at least 32 characters$/],
  ])('fails fast naming the variable: %s', (_what, env, message) => {
    expect(() => gatewayConfigFromEnv({ ...base, ...env })).toThrow(message);
  });
});

describe('security reports of refused requests', () => {
  const now = new Date('2026-11-26T00:00:00.000Z');
  const id = '4b0c9e2a-1f3d-4c5e-9a7b-2d8e6f1a3c5b';

  it('given a refused owner, then the report is a valid AccessDenied naming its role, route and resource', () => {
    const report = reportOf({ kind: 'access', principal: { role: 'owner', id: 'o1' }, action: 'GET /v1/jobs/:jobId', resource: 'job:j1', reason: 'for partners only', source: 'src-00112233445566778899aabbccddeeff' }, id, now);
    expect(report).toEqual({
      type: 'AccessDenied',
      data: { principalId: 'o1', role: 'owner', action: 'GET /v1/jobs/:jobId', resource: 'job:j1', reason: 'for partners only', channel: 'http', source: 'src-00112233445566778899aabbccddeeff' },
      metadata: { eventId: id, correlationId: id, causationId: id, occurredAt: now.toISOString() },
    });
    expect(AccessDenied.schema.safeParse(report.data).success).toBe(true);
  });

  it('given a failed authentication claiming no well-formed id, then the principal is anonymous', () => {
    const report = reportOf({ kind: 'authentication', claimedId: '../admin', action: 'GET /v1/owner/nodes', reason: 'x'.repeat(600) }, id, now);
    expect(report.data).toEqual({ principalId: 'anonymous', channel: 'http', action: 'GET /v1/owner/nodes', reason: 'x'.repeat(512) });
    expect(AuthenticationFailed.schema.safeParse(report.data).success).toBe(true);
  });

  it('given a caller throttled before it authenticated, then the AccessDenied is anonymous and has no role', () => {
    const report = reportOf({ kind: 'access', action: 'POST /v1/auth/owner/challenge', resource: 'route:/v1/auth/owner/challenge', reason: 'too many requests' }, id, now);
    expect(report.data).toEqual({ principalId: 'anonymous', action: 'POST /v1/auth/owner/challenge', resource: 'route:/v1/auth/owner/challenge', reason: 'too many requests', channel: 'http' });
  });
});

describe('the source address of a request', () => {
  const req = (forwarded?: string) => ({ socket: { remoteAddress: '10.0.0.5' }, headers: forwarded === undefined ? {} : { 'x-forwarded-for': forwarded } }) as unknown as import('node:http').IncomingMessage;

  it('is the connection when no proxy is trusted, whatever X-Forwarded-For says', () => {
    expect(sourceAddress(req('203.0.113.9'), 0)).toBe('10.0.0.5');
  });

  it('is the entry the nearest trusted proxy appended, counted from the right (a client writes only on the left)', () => {
    expect(sourceAddress(req('6.6.6.6, 203.0.113.9'), 1)).toBe('203.0.113.9');
    expect(sourceAddress(req('6.6.6.6, 203.0.113.9, 10.0.0.2'), 2)).toBe('203.0.113.9');
  });

  it('falls back to the connection when the header has fewer entries than trusted hops', () => {
    expect(sourceAddress(req(), 1)).toBe('10.0.0.5');
    expect(sourceAddress(req('203.0.113.9'), 2)).toBe('10.0.0.5');
  });
});
