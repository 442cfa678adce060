import { RpcError } from '@weai/messaging';
import { ConfigError } from '@weai/runtime';
import { fromScheduler } from '../src/application/scheduler-errors';
import { PartnerKeys } from '../src/auth/partner-keys';
import { DEFAULT_MAX_UPLOAD_BYTES, gatewayConfigFromEnv } from '../src/config';

const keyA = 'a'.repeat(24);
const keyB = 'b'.repeat(40);

describe('gateway configuration', () => {
  it('has defaults for everything but the partner keys', () => {
    const config = gatewayConfigFromEnv({ GATEWAY_PARTNER_KEYS: `acme:${keyA}, globex : ${keyB}` });
    expect(config).toMatchObject({ host: '127.0.0.1', port: 8080, maxUploadBytes: DEFAULT_MAX_UPLOAD_BYTES, natsServers: ['nats://127.0.0.1:4222'] });
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
