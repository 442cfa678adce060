import { type KeyObject, createHash, createPublicKey, randomUUID, sign, verify } from 'node:crypto';
import { Id } from '@weai/contracts';
import { z } from 'zod';

/** Who may call the HTTP API. */
export const ROLES = ['partner', 'owner', 'operator'] as const;
export type Role = (typeof ROLES)[number];

/** An authenticated caller: its role and opaque id (partner id, owner id, operator id). */
export interface Principal {
  readonly role: Role;
  readonly id: string;
  /** How it authenticated on this request. */
  readonly via?: 'api-key' | 'token';
}

/** Why a token was refused; the message is written for the caller and never repeats the token. */
export class TokenError extends Error {
  override readonly name = 'TokenError';
  constructor(
    message: string,
    /** The subject the token claims, when it could be read and is a well-formed id (for the audit only: unverified). */
    readonly claimedSubject?: string,
  ) {
    super(message);
  }
}

/** The only signature algorithm accepted: anything else (`none`, HS256 with the public key as secret, RS256) is refused before any key is used. */
export const ALGORITHMS = ['EdDSA'] as const;
/** The longest token the verifier reads. */
export const MAX_TOKEN_LENGTH = 4096;

const Header = z.object({ alg: z.string(), typ: z.string().optional(), kid: z.string().optional(), crit: z.unknown().optional() }).passthrough();

const AccessClaims = z
  .object({
    iss: z.string(),
    aud: z.string(),
    sub: Id,
    role: z.enum(ROLES),
    use: z.literal('access'),
    iat: z.number().int(),
    nbf: z.number().int().optional(),
    exp: z.number().int(),
    jti: z.string().max(64),
  })
  .strict();

const ChallengeClaims = z
  .object({
    iss: z.string(),
    aud: z.string(),
    use: z.literal('owner-challenge'),
    address: z.string().regex(/^0x[0-9a-fA-F]{40}$/),
    nonce: z.string().regex(/^[A-Za-z0-9_-]{16,64}$/),
    iat: z.number().int(),
    exp: z.number().int(),
  })
  .strict();
/** What an owner sign-in challenge carries. */
export type ChallengeClaims = z.infer<typeof ChallengeClaims>;

/** How tokens are signed and checked. */
export interface TokenOptions {
  readonly issuer: string;
  readonly audience: string;
  readonly ttlSeconds: number;
  readonly clockSkewSeconds: number;
}

const b64url = (bytes: Buffer | string) => Buffer.from(bytes).toString('base64url');
const SEGMENT = /^[A-Za-z0-9_-]+$/;

/**
 * Signed tokens (JWS compact, EdDSA over Ed25519, RFC 8037). Ed25519 rather than HS256: the
 * public key (`jwks`) lets another component check a token without being able to mint one, and
 * there is no shared secret to leak from every verifier. Verification never lets the token choose
 * the algorithm or the key: `alg` must be EdDSA and `kid` this gateway's, checked before anything
 * else; then `iss`, `aud`, `exp`/`nbf`/`iat` within the clock-skew bound, and a lifetime no
 * longer than this gateway issues.
 */
export class TokenService {
  private readonly publicKey: KeyObject;
  /** Key id: a digest of the public key, so a rotated key is told apart. */
  readonly kid: string;

  constructor(
    private readonly privateKey: KeyObject,
    private readonly options: TokenOptions,
  ) {
    this.publicKey = createPublicKey(privateKey);
    this.kid = createHash('sha256').update(this.publicKey.export({ format: 'der', type: 'spki' })).digest('base64url').slice(0, 16);
  }

  /** The public key as a JSON Web Key Set, for whoever verifies tokens besides the gateway. */
  jwks(): { keys: object[] } {
    return { keys: [{ ...this.publicKey.export({ format: 'jwk' }), kid: this.kid, alg: 'EdDSA', use: 'sig' }] };
  }

  /** An access token for a principal, valid from `now` for the configured lifetime. */
  issue(principal: Principal, now: Date): { token: string; expiresAt: Date } {
    const iat = Math.floor(now.getTime() / 1000);
    const exp = iat + this.options.ttlSeconds;
    const claims = { iss: this.options.issuer, aud: this.options.audience, sub: principal.id, role: principal.role, use: 'access', iat, nbf: iat, exp, jti: randomUUID() };
    return { token: this.sign(claims, 'JWT'), expiresAt: new Date(exp * 1000) };
  }

  /** The principal of a valid access token, or TokenError saying what is wrong with it. */
  verify(token: string, now: Date): Principal {
    const payload = this.open(token, 'JWT');
    const claims = AccessClaims.safeParse(payload);
    if (!claims.success) throw new TokenError(`the token's claims are not those of an access token (${claims.error.issues.map((i) => i.path.join('.') || 'claims').join(', ')})`);
    const c = claims.data;
    this.checkTimes(c.iat, c.exp, now, this.options.ttlSeconds, c.nbf, c.sub);
    return { role: c.role, id: c.sub, via: 'token' };
  }

  /** A signed owner sign-in challenge for an address. */
  challenge(address: string, nonce: string, now: Date, ttlSeconds: number): { token: string; claims: ChallengeClaims } {
    const iat = Math.floor(now.getTime() / 1000);
    const claims: ChallengeClaims = { iss: this.options.issuer, aud: this.options.audience, use: 'owner-challenge', address, nonce, iat, exp: iat + ttlSeconds };
    return { token: this.sign(claims, 'weai-challenge+jwt'), claims };
  }

  /** The claims of a challenge this gateway issued and that has not expired. */
  verifyChallenge(token: string, now: Date, maxTtlSeconds: number): ChallengeClaims {
    const claims = ChallengeClaims.safeParse(this.open(token, 'weai-challenge+jwt'));
    if (!claims.success) throw new TokenError('the challenge is not one this gateway issued');
    this.checkTimes(claims.data.iat, claims.data.exp, now, maxTtlSeconds);
    return claims.data;
  }

  private sign(claims: object, typ: string): string {
    const input = `${b64url(JSON.stringify({ alg: 'EdDSA', typ, kid: this.kid }))}.${b64url(JSON.stringify(claims))}`;
    return `${input}.${b64url(sign(null, Buffer.from(input), this.privateKey))}`;
  }

  /** Header and signature checks common to every kind of token; returns the unverified-until-now payload. */
  private open(token: string, typ: string): unknown {
    if (token.length > MAX_TOKEN_LENGTH) throw new TokenError(`the token is longer than ${MAX_TOKEN_LENGTH} characters`);
    const parts = token.split('.');
    if (parts.length !== 3 || !parts.every((p) => SEGMENT.test(p))) throw new TokenError('the token is not a signed token (three base64url parts)');
    const [h, p, s] = parts as [string, string, string];
    const header = Header.safeParse(parseJson(h));
    if (!header.success) throw new TokenError('the token header is not JSON with an alg');
    const { alg, kid } = header.data;
    if (!(ALGORITHMS as readonly string[]).includes(alg)) throw new TokenError(`the token's algorithm ${JSON.stringify(alg.slice(0, 32))} is not accepted: only ${ALGORITHMS.join(', ')}`);
    if (header.data.typ !== typ) throw new TokenError(`the token's type is not ${typ}`);
    if (header.data.crit !== undefined) throw new TokenError('the token names critical header parameters this gateway does not implement');
    if (kid !== this.kid) throw new TokenError('the token was not signed with this gateway\'s key');
    const signature = Buffer.from(s, 'base64url');
    if (signature.length !== 64 || !verify(null, Buffer.from(`${h}.${p}`), this.publicKey, signature)) {
      throw new TokenError('the token signature is not valid', claimedSubject(p));
    }
    const payload = parseJson(p);
    if (payload === undefined) throw new TokenError('the token payload is not JSON');
    const { iss, aud } = payload as { iss?: unknown; aud?: unknown };
    if (iss !== this.options.issuer) throw new TokenError('the token was not issued by this gateway (iss)');
    if (aud !== this.options.audience) throw new TokenError('the token is not meant for this gateway (aud)');
    return payload;
  }

  private checkTimes(iat: number, exp: number, now: Date, maxLifetime: number, nbf?: number, sub?: string): void {
    const t = now.getTime() / 1000;
    const skew = this.options.clockSkewSeconds;
    if (t > exp + skew) throw new TokenError(`the token expired at ${new Date(exp * 1000).toISOString()}`, sub);
    if (iat > t + skew || (nbf !== undefined && nbf > t + skew)) throw new TokenError('the token is not valid yet (iat/nbf in the future)', sub);
    if (exp - iat > maxLifetime || exp < iat) throw new TokenError(`the token's lifetime is longer than the ${maxLifetime} s this gateway issues`, sub);
  }
}

function parseJson(segment: string): unknown {
  try {
    return JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
}

/** The `sub` a token claims, if it is a well-formed id; for the audit of a forged token only. */
function claimedSubject(payloadSegment: string): string | undefined {
  const sub = (parseJson(payloadSegment) as { sub?: unknown } | undefined)?.sub;
  return Id.safeParse(sub).success ? (sub as string) : undefined;
}
