import { createHash } from 'node:crypto';
import { ID_PATTERN } from '@weai/contracts';
import { natsServersFromEnv } from '@weai/messaging';
import { ConfigError } from '@weai/runtime';

/** A partner allowed in, known only by the SHA-256 of its key: the key itself is not kept. */
export interface PartnerCredential {
  readonly partnerId: string;
  readonly keyDigest: Buffer;
}

/** Everything the gateway reads from its environment, validated once at boot. */
export interface GatewayConfig {
  readonly natsServers: string[];
  readonly host: string;
  readonly port: number;
  /** Largest object `POST /v1/objects` accepts, in bytes. */
  readonly maxUploadBytes: number;
  readonly partners: readonly PartnerCredential[];
}

export const DEFAULT_MAX_UPLOAD_BYTES = 256 * 1024 * 1024;
export const MIN_KEY_LENGTH = 24;

/** The SHA-256 of an API key, the only form in which the gateway holds or compares keys. */
export function keyDigest(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

/**
 * Reads `NATS_URL`, `GATEWAY_HOST`, `GATEWAY_PORT`, `GATEWAY_MAX_UPLOAD_BYTES` and
 * `GATEWAY_PARTNER_KEYS`; fails fast with a ConfigError naming the variable. Messages never
 * repeat a key.
 */
export function gatewayConfigFromEnv(env: NodeJS.ProcessEnv): GatewayConfig {
  const host = env['GATEWAY_HOST'] ?? '127.0.0.1';
  if (!host.trim()) throw new ConfigError('GATEWAY_HOST must not be empty');
  return {
    natsServers: natsServersFromEnv(env),
    host,
    port: integer(env, 'GATEWAY_PORT', 8080, 0, 65_535),
    maxUploadBytes: integer(env, 'GATEWAY_MAX_UPLOAD_BYTES', DEFAULT_MAX_UPLOAD_BYTES, 1, Number.MAX_SAFE_INTEGER),
    partners: partnersFromEnv(env['GATEWAY_PARTNER_KEYS']),
  };
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

/** `partnerId:apiKey` pairs, comma-separated. */
export function partnersFromEnv(raw: string | undefined): PartnerCredential[] {
  const name = 'GATEWAY_PARTNER_KEYS';
  if (!raw?.trim()) throw new ConfigError(`${name} is required: comma-separated partnerId:apiKey pairs`);
  const partners: PartnerCredential[] = [];
  const digests = new Set<string>();
  raw.split(',').forEach((entry, i) => {
    const at = entry.indexOf(':');
    const partnerId = (at < 0 ? entry : entry.slice(0, at)).trim();
    const key = at < 0 ? '' : entry.slice(at + 1).trim();
    const which = `${name} entry ${i + 1}`;
    if (at < 0) throw new ConfigError(`${which} is not partnerId:apiKey`);
    if (!ID_PATTERN.test(partnerId)) throw new ConfigError(`${which}: partner id must be 1-128 characters of [A-Za-z0-9_-]`);
    if (key.length < MIN_KEY_LENGTH) throw new ConfigError(`${which} (partner ${partnerId}): the API key must be at least ${MIN_KEY_LENGTH} characters`);
    if (partners.some((p) => p.partnerId === partnerId)) throw new ConfigError(`${which}: partner ${partnerId} is listed twice`);
    const digest = keyDigest(key);
    if (digests.has(digest.toString('hex'))) throw new ConfigError(`${which} (partner ${partnerId}): the API key is already another partner's`);
    digests.add(digest.toString('hex'));
    partners.push({ partnerId, keyDigest: digest });
  });
  return partners;
}
