import { type KeyObject, createHash, createPrivateKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { ID_PATTERN } from '@weai/contracts';
import { natsServersFromEnv, sealingFromEnv } from '@weai/messaging';
import { ConfigError, bootWaitMsFromEnv, readSecretFile, streamReplicasFromEnv } from '@weai/runtime';

/** A partner or operator allowed in, known only by the SHA-256 of its key: the key itself is not kept. */
export interface KeyCredential {
  readonly id: string;
  readonly keyDigest: Buffer;
}

/** A partner allowed in by API key. */
export interface PartnerCredential {
  readonly partnerId: string;
  readonly keyDigest: Buffer;
}

/** How tokens are signed and checked. */
export interface TokenConfig {
  /** The Ed25519 private key tokens are signed with; never logged, never serialised. */
  readonly signingKey: KeyObject;
  /** Whether the key was generated at boot (development only: tokens die with the process). */
  readonly generatedKey: boolean;
  /** `iss` of every token issued, and the only one accepted. */
  readonly issuer: string;
  /** `aud` of every token issued, and the only one accepted: this gateway. */
  readonly audience: string;
  /** Lifetime of an access token, seconds. */
  readonly ttlSeconds: number;
  /** Clock difference tolerated on `exp`, `nbf` and `iat`, seconds. */
  readonly clockSkewSeconds: number;
  /** Lifetime of an owner sign-in challenge, seconds. */
  readonly challengeTtlSeconds: number;
}

/** A token bucket: `burst` requests at once, refilled at `perSecond`. */
export interface RateLimit {
  readonly burst: number;
  readonly perSecond: number;
}

/** Everything the gateway reads from its environment, validated once at boot. */
export interface GatewayConfig {
  readonly natsServers: string[];
  /** Copies JetStream keeps of the buckets the gateway creates (`WEAI_STREAM_REPLICAS`). */
  readonly streamReplicas: number;
  /** How long the gateway waits at boot for NATS and JetStream (`WEAI_BOOT_WAIT_MS`); default DEFAULT_BOOT_WAIT_MS. */
  readonly bootWaitMs?: number;
  readonly host: string;
  readonly port: number;
  /** Largest object `POST /v1/objects` accepts, in bytes. */
  readonly maxUploadBytes: number;
  readonly partners: readonly PartnerCredential[];
  readonly operators: readonly KeyCredential[];
  readonly tokens: TokenConfig;
  /** Per authenticated identity (role and subject). */
  readonly rateLimit: RateLimit;
  /** Per pseudonymised source address, for sign-in endpoints and failed authentications. */
  readonly anonymousRateLimit: RateLimit;
  /** Secret of the HMAC that turns a source address into the pseudonym audit reports carry. */
  readonly pseudonymSecret: Buffer;
  /** Reverse proxies in front of the gateway whose `X-Forwarded-For` entry names the client (0: none). */
  readonly trustedProxyHops: number;
  /** Uploads are sealed under their object key and sealed objects opened (`WEAI_SEALING=on`); default off. */
  readonly sealing?: boolean;
  /**
   * The gateway's read model (the partner job list, job costs, throughput): `sqlite:<path>` or
   * `postgres://…` (`GATEWAY_READ_MODEL_URL`); default `sqlite::memory:`, rebuilt from the streams at boot.
   */
  readonly readModelUrl?: string;
}

export const DEFAULT_MAX_UPLOAD_BYTES = 256 * 1024 * 1024;
export const MIN_KEY_LENGTH = 24;
/** An in-memory SQLite read model: a cache the gateway rebuilds from the streams each time it starts. */
export const DEFAULT_READ_MODEL_URL = 'sqlite::memory:';

/** The SHA-256 of an API key, the only form in which the gateway holds or compares keys. */
export function keyDigest(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

/**
 * Reads the gateway's variables (see docs/partner-api.md and docs/http-security.md); fails fast
 * with a ConfigError naming the variable. Messages never repeat a key or a secret.
 * `warn` is told what a development default stands in for (a generated signing key).
 */
export function gatewayConfigFromEnv(env: NodeJS.ProcessEnv, warn: (message: string) => void = () => undefined): GatewayConfig {
  const host = env['GATEWAY_HOST'] ?? '127.0.0.1';
  if (!host.trim()) throw new ConfigError('GATEWAY_HOST must not be empty');
  const partners = keysFromEnv(env['GATEWAY_PARTNER_KEYS'], 'GATEWAY_PARTNER_KEYS', 'partner', true);
  const operators = keysFromEnv(env['GATEWAY_OPERATOR_KEYS'], 'GATEWAY_OPERATOR_KEYS', 'operator', false);
  const all = [...partners, ...operators].map((c) => c.keyDigest.toString('hex'));
  if (new Set(all).size !== all.length) throw new ConfigError('GATEWAY_OPERATOR_KEYS: an operator key is also a partner key');
  return {
    natsServers: natsServersFromEnv(env),
    streamReplicas: streamReplicasFromEnv(env),
    bootWaitMs: bootWaitMsFromEnv(env),
    host,
    port: integer(env, 'GATEWAY_PORT', 8080, 0, 65_535),
    maxUploadBytes: integer(env, 'GATEWAY_MAX_UPLOAD_BYTES', DEFAULT_MAX_UPLOAD_BYTES, 1, Number.MAX_SAFE_INTEGER),
    partners: partners.map((p) => ({ partnerId: p.id, keyDigest: p.keyDigest })),
    operators,
    tokens: tokenConfigFromEnv(env, warn),
    rateLimit: rateLimit(env, 'GATEWAY_RATE_LIMIT', { burst: 60, perSecond: 10 }),
    anonymousRateLimit: rateLimit(env, 'GATEWAY_AUTH_RATE_LIMIT', { burst: 20, perSecond: 1 }),
    pseudonymSecret: secret(env, warn),
    trustedProxyHops: integer(env, 'GATEWAY_TRUSTED_PROXY_HOPS', 0, 0, 5),
    sealing: sealingFromEnv(env),
    readModelUrl: readModelUrl(env),
  };
}

/** `GATEWAY_READ_MODEL_URL`: where the gateway's projections live; in memory unless told otherwise. */
function readModelUrl(env: NodeJS.ProcessEnv): string {
  const url = env['GATEWAY_READ_MODEL_URL'] || DEFAULT_READ_MODEL_URL;
  if (!/^(sqlite:.+|postgres(ql)?:\/\/.+)$/.test(url)) throw new ConfigError('GATEWAY_READ_MODEL_URL must be sqlite:<path>, sqlite::memory: or postgres://…');
  return url;
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

/** `<burst>/<per second>`, e.g. `60/10`. */
function rateLimit(env: NodeJS.ProcessEnv, name: string, fallback: RateLimit): RateLimit {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const m = /^\s*(\d{1,9})\s*\/\s*(\d{1,9}(?:\.\d{1,6})?)\s*$/.exec(raw);
  const burst = Number(m?.[1]);
  const perSecond = Number(m?.[2]);
  if (!m || burst < 1 || perSecond <= 0) throw new ConfigError(`${name} must be <burst>/<requests per second>, e.g. 60/10, both positive; got ${JSON.stringify(raw)}`);
  return { burst, perSecond };
}

function tokenConfigFromEnv(env: NodeJS.ProcessEnv, warn: (message: string) => void): TokenConfig {
  const audience = env['GATEWAY_TOKEN_AUDIENCE'] || 'weai-gateway';
  const issuer = env['GATEWAY_TOKEN_ISSUER'] || audience;
  for (const [name, value] of [['GATEWAY_TOKEN_AUDIENCE', audience], ['GATEWAY_TOKEN_ISSUER', issuer]] as const) {
    if (!/^[\x21-\x7e]{1,256}$/.test(value)) throw new ConfigError(`${name} must be 1-256 printable characters without spaces`);
  }
  const { key, generated } = signingKey(env, warn);
  return {
    signingKey: key,
    generatedKey: generated,
    issuer,
    audience,
    ttlSeconds: integer(env, 'GATEWAY_TOKEN_TTL_SECONDS', 900, 30, 86_400),
    clockSkewSeconds: integer(env, 'GATEWAY_CLOCK_SKEW_SECONDS', 30, 0, 300),
    challengeTtlSeconds: integer(env, 'GATEWAY_CHALLENGE_TTL_SECONDS', 300, 30, 3600),
  };
}

/**
 * The Ed25519 signing key: `GATEWAY_TOKEN_KEY_FILE` (a PKCS#8 PEM file) or `GATEWAY_TOKEN_KEY`
 * (the same PEM in the variable). Without either it is generated at boot, which is refused when
 * `NODE_ENV=production`: tokens would die with the process and no other replica would accept them.
 */
function signingKey(env: NodeJS.ProcessEnv, warn: (message: string) => void): { key: KeyObject; generated: boolean } {
  const file = env['GATEWAY_TOKEN_KEY_FILE'];
  const inline = env['GATEWAY_TOKEN_KEY'];
  if (file && inline) throw new ConfigError('set GATEWAY_TOKEN_KEY_FILE or GATEWAY_TOKEN_KEY, not both');
  let pem: string | undefined = inline;
  const name = file ? 'GATEWAY_TOKEN_KEY_FILE' : 'GATEWAY_TOKEN_KEY';
  if (file) pem = readSecretFile(file, 'GATEWAY_TOKEN_KEY_FILE');
  if (pem) {
    let key: KeyObject;
    try {
      key = createPrivateKey(pem);
    } catch {
      throw new ConfigError(`${name} does not hold a PEM private key`);
    }
    if (key.asymmetricKeyType !== 'ed25519') throw new ConfigError(`${name} must be an Ed25519 private key (openssl genpkey -algorithm ed25519), got ${key.asymmetricKeyType ?? 'another kind'}`);
    return { key, generated: false };
  }
  if (env['NODE_ENV'] === 'production') throw new ConfigError('GATEWAY_TOKEN_KEY_FILE is required in production: the Ed25519 key tokens are signed with');
  warn('GATEWAY_TOKEN_KEY_FILE is not set: tokens are signed with a key generated at boot (development only; they end with this process and other replicas refuse them)');
  return { key: generateKeyPairSync('ed25519').privateKey, generated: true };
}

/** `GATEWAY_PSEUDONYM_SECRET` (at least 32 characters), or one generated at boot outside production. */
function secret(env: NodeJS.ProcessEnv, warn: (message: string) => void): Buffer {
  const raw = env['GATEWAY_PSEUDONYM_SECRET'];
  if (raw) {
    if (raw.length < 32) throw new ConfigError('GATEWAY_PSEUDONYM_SECRET must be at least 32 characters');
    return Buffer.from(raw, 'utf8');
  }
  if (env['NODE_ENV'] === 'production') throw new ConfigError('GATEWAY_PSEUDONYM_SECRET is required in production: the HMAC secret of source pseudonyms in audit reports');
  warn('GATEWAY_PSEUDONYM_SECRET is not set: source pseudonyms use a secret generated at boot (development only; they change on restart)');
  return randomBytes(32);
}

/** `id:apiKey` pairs, comma-separated. */
function keysFromEnv(raw: string | undefined, name: string, what: string, required: boolean): KeyCredential[] {
  if (!raw?.trim()) {
    if (required) throw new ConfigError(`${name} is required: comma-separated ${what}Id:apiKey pairs`);
    return [];
  }
  const credentials: KeyCredential[] = [];
  const digests = new Set<string>();
  raw.split(',').forEach((entry, i) => {
    const at = entry.indexOf(':');
    const id = (at < 0 ? entry : entry.slice(0, at)).trim();
    const key = at < 0 ? '' : entry.slice(at + 1).trim();
    const which = `${name} entry ${i + 1}`;
    if (at < 0) throw new ConfigError(`${which} is not ${what}Id:apiKey`);
    if (!ID_PATTERN.test(id)) throw new ConfigError(`${which}: ${what} id must be 1-128 characters of [A-Za-z0-9_-]`);
    if (key.length < MIN_KEY_LENGTH) throw new ConfigError(`${which} (${what} ${id}): the API key must be at least ${MIN_KEY_LENGTH} characters`);
    if (credentials.some((p) => p.id === id)) throw new ConfigError(`${which}: ${what} ${id} is listed twice`);
    const digest = keyDigest(key);
    if (digests.has(digest.toString('hex'))) throw new ConfigError(`${which} (${what} ${id}): the API key is already another ${what}'s`);
    digests.add(digest.toString('hex'));
    credentials.push({ id, keyDigest: digest });
  });
  return credentials;
}

/** `partnerId:apiKey` pairs, comma-separated (`GATEWAY_PARTNER_KEYS`). */
export function partnersFromEnv(raw: string | undefined): PartnerCredential[] {
  return keysFromEnv(raw, 'GATEWAY_PARTNER_KEYS', 'partner', true).map((p) => ({ partnerId: p.id, keyDigest: p.keyDigest }));
}
