import { createHmac, generateKeyPairSync, sign } from 'node:crypto';
import { TokenService } from '../src/auth/tokens';

const options = { issuer: 'weai-gateway', audience: 'weai-gateway', ttlSeconds: 900, clockSkewSeconds: 30 };
const key = generateKeyPairSync('ed25519').privateKey;
const tokens = new TokenService(key, options);
const t0 = new Date('2026-11-26T00:00:00.000Z');
const at = (seconds: number) => new Date(t0.getTime() + seconds * 1000);
const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
const parts = (token: string) => token.split('.') as [string, string, string];
const claimsOf = (token: string) => JSON.parse(Buffer.from(parts(token)[1], 'base64url').toString()) as Record<string, unknown>;
/** A token signed with `key` over any header and claims. */
const forge = (header: object, claims: object, signer = key) => {
  const input = `${b64(header)}.${b64(claims)}`;
  return `${input}.${sign(null, Buffer.from(input), signer).toString('base64url')}`;
};
const valid = () => tokens.issue({ role: 'partner', id: 'acme' }, t0).token;
const header = { alg: 'EdDSA', typ: 'JWT', kid: tokens.kid };

describe('access tokens', () => {
  it('given a token it issued, when verified within its lifetime, then it yields the principal', () => {
    const { token, expiresAt } = tokens.issue({ role: 'owner', id: 'o123' }, t0);
    expect(expiresAt).toEqual(at(900));
    expect(tokens.verify(token, at(899))).toEqual({ role: 'owner', id: 'o123', via: 'token' });
    expect(claimsOf(token)).toMatchObject({ iss: 'weai-gateway', aud: 'weai-gateway', sub: 'o123', role: 'owner', exp: t0.getTime() / 1000 + 900 });
  });

  it('accepts an expired token within the clock-skew bound, and refuses it after', () => {
    expect(tokens.verify(valid(), at(900 + 30)).id).toBe('acme');
    expect(() => tokens.verify(valid(), at(900 + 31))).toThrow(/^the token expired at 2026-11-26T00:15:00.000Z$/);
  });

  it('refuses a token issued in the future beyond the skew', () => {
    expect(() => tokens.verify(valid(), at(-31))).toThrow(/not valid yet/);
    expect(tokens.verify(valid(), at(-30)).id).toBe('acme');
  });

  it.each([
    ['alg none', { ...header, alg: 'none' }, /algorithm "none" is not accepted: only EdDSA/],
    ['HS256', { ...header, alg: 'HS256' }, /algorithm "HS256" is not accepted/],
    ['RS256', { ...header, alg: 'RS256' }, /algorithm "RS256" is not accepted/],
    ['another key id', { ...header, kid: 'someone-else' }, /not signed with this gateway's key/],
    ['no key id', { alg: 'EdDSA', typ: 'JWT' }, /not signed with this gateway's key/],
    ['a challenge type', { ...header, typ: 'weai-challenge+jwt' }, /type is not JWT/],
    ['critical parameters', { ...header, crit: ['exp'] }, /critical header/],
  ])('refuses a header with %s before using any key', (_what, h, message) => {
    const [, payload, signature] = parts(valid());
    expect(() => tokens.verify(`${b64(h)}.${payload}.${signature}`, t0)).toThrow(message);
  });

  it('refuses alg none with an empty signature, and HS256 keyed with the public key (algorithm confusion)', () => {
    const claims = claimsOf(valid());
    expect(() => tokens.verify(`${b64({ ...header, alg: 'none' })}.${b64(claims)}.`, t0)).toThrow(/three base64url parts/);
    const publicKey = tokens.jwks().keys[0] as { x: string };
    const input = `${b64({ ...header, alg: 'HS256' })}.${b64({ ...claims, role: 'operator' })}`;
    const hmac = createHmac('sha256', Buffer.from(publicKey.x, 'base64url')).update(input).digest('base64url');
    expect(() => tokens.verify(`${input}.${hmac}`, t0)).toThrow(/algorithm "HS256" is not accepted/);
  });

  it('refuses a token whose claims were changed after signing (forged role)', () => {
    const [h, , s] = parts(valid());
    const payload = b64({ ...claimsOf(valid()), role: 'operator' });
    let error: unknown;
    try {
      tokens.verify(`${h}.${payload}.${s}`, t0);
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ message: 'the token signature is not valid', claimedSubject: 'acme' });
  });

  it("refuses a token signed by another gateway's key, even under this kid", () => {
    const other = generateKeyPairSync('ed25519').privateKey;
    expect(() => tokens.verify(forge(header, claimsOf(valid()), other), t0)).toThrow(/signature is not valid/);
  });

  it.each([
    ['another issuer', { iss: 'evil' }, /not issued by this gateway \(iss\)/],
    ['another audience', { aud: 'another-gateway' }, /not meant for this gateway \(aud\)/],
    ['an audience list', { aud: ['weai-gateway'] }, /not meant for this gateway/],
    ['no exp', { exp: undefined }, /claims are not those of an access token \(exp\)/],
    ['an unknown role', { role: 'root' }, /\(role\)/],
    ['a sub that is no id', { sub: 'a b' }, /\(sub\)/],
    ['a lifetime longer than issued', { exp: t0.getTime() / 1000 + 86_400 }, /lifetime is longer than the 900 s/],
  ])('refuses a correctly signed token with %s', (_what, change, message) => {
    expect(() => tokens.verify(forge(header, { ...claimsOf(valid()), ...change }), t0)).toThrow(message);
  });

  it.each(['', 'abc', 'a.b', 'a.b.c.d', '!!.??.**', `${'a'.repeat(4097)}`])('refuses %j as not a token', (token) => {
    expect(() => tokens.verify(token, t0)).toThrow();
  });

  it('does not take a challenge for an access token, nor the reverse', () => {
    const { token: challenge } = tokens.challenge('0x' + 'ab'.repeat(20), 'n'.repeat(24), t0, 300);
    expect(() => tokens.verify(challenge, t0)).toThrow(/type is not JWT/);
    expect(() => tokens.verifyChallenge(valid(), t0, 300)).toThrow(/type is not weai-challenge\+jwt/);
    expect(tokens.verifyChallenge(challenge, at(300), 300)).toMatchObject({ nonce: 'n'.repeat(24), use: 'owner-challenge' });
    expect(() => tokens.verifyChallenge(challenge, at(331), 300)).toThrow(/expired/);
  });
});
