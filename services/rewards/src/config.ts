import { ConfigError, readSecretFile } from '@weai/runtime';
import type { RewardPolicy } from './domain/policy';
import type { WithdrawalOptions } from './application/withdrawals';

/** The rewards service's own settings; chain settings come from `chainConfigFromEnv` (libs/chain). */
export interface RewardsConfig {
  readonly policy: RewardPolicy;
  readonly withdrawals: WithdrawalOptions;
  /** File holding the platform's voucher-signing key (`REWARDS_SIGNER_KEY`). */
  readonly signerKeyPath: string;
  /** File holding the key of the wallet that sends redemptions and pays their gas (`REWARDS_RELAYER_KEY`); the signer's when unset. */
  readonly relayerKeyPath: string | undefined;
}

const DECIMAL = /^(0|[1-9][0-9]{0,77})$/;

function bps(value: string | undefined, variable: string, fallback: number): number {
  const n = Number(value ?? fallback);
  if (!Number.isInteger(n) || n < 0 || n > 10_000) throw new ConfigError(`${variable} must be an integer number of basis points from 0 to 10000, got ${JSON.stringify(value)}`);
  return n;
}

/** `partnerA:500,partnerB:250` → { partnerA: 500, partnerB: 250 }. */
function partnerShares(value: string | undefined): Record<string, number> {
  const shares: Record<string, number> = {};
  for (const item of (value ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([A-Za-z0-9_-]{1,128}):([0-9]+)$/.exec(item);
    if (!m) throw new ConfigError(`REWARDS_PARTNER_SHARES must be a comma-separated list of <partnerId>:<bps>, got ${JSON.stringify(item)}`);
    shares[m[1]!] = bps(m[2], `REWARDS_PARTNER_SHARES (${m[1]})`, 0);
  }
  return shares;
}

/** Reads the rewards settings once at boot; fails fast with a message naming the variable. */
export function rewardsConfigFromEnv(env: NodeJS.ProcessEnv): RewardsConfig {
  const rate = env['REWARDS_RATE_PER_MILLION_UNITS'];
  if (!rate || !DECIMAL.test(rate)) throw new ConfigError(`REWARDS_RATE_PER_MILLION_UNITS must be the base units paid per million work units, a decimal integer; got ${JSON.stringify(rate)}`);
  const platformFeeBps = bps(env['REWARDS_PLATFORM_FEE_BPS'], 'REWARDS_PLATFORM_FEE_BPS', 0);
  const partnerShareBps = partnerShares(env['REWARDS_PARTNER_SHARES']);
  for (const [partner, share] of Object.entries(partnerShareBps)) {
    if (share + platformFeeBps > 10_000) throw new ConfigError(`REWARDS_PARTNER_SHARES: ${partner}'s share plus REWARDS_PLATFORM_FEE_BPS exceeds 10000`);
  }
  const minimum = env['REWARDS_MIN_WITHDRAWAL'] ?? '1000000000000000000';
  if (!DECIMAL.test(minimum) || minimum === '0') throw new ConfigError(`REWARDS_MIN_WITHDRAWAL must be a positive decimal integer of base units, got ${JSON.stringify(minimum)}`);
  const ttl = Number(env['REWARDS_VOUCHER_TTL_SECONDS'] ?? 86_400);
  if (!Number.isSafeInteger(ttl) || ttl < 60) throw new ConfigError(`REWARDS_VOUCHER_TTL_SECONDS must be an integer of at least 60, got ${JSON.stringify(env['REWARDS_VOUCHER_TTL_SECONDS'])}`);
  const signerKeyPath = env['REWARDS_SIGNER_KEY'];
  if (!signerKeyPath) throw new ConfigError('REWARDS_SIGNER_KEY is required: the path of a file holding the platform signing key');
  return {
    policy: { ratePerMillionUnits: BigInt(rate), platformFeeBps, partnerShareBps },
    withdrawals: { minimum: BigInt(minimum), voucherTtlSeconds: ttl },
    signerKeyPath,
    relayerKeyPath: env['REWARDS_RELAYER_KEY'] || undefined,
  };
}

/**
 * Reads a private key (32 bytes, hex, optional 0x) from a file. Errors name the variable and the
 * path, never the content.
 */
export function readPrivateKey(path: string, variable: string): string {
  const text = readSecretFile(path, variable).trim();
  if (!/^(0x)?[0-9a-fA-F]{64}$/.test(text)) throw new ConfigError(`${variable}: ${path} does not hold a 32-byte hex private key`);
  return text.startsWith('0x') ? text : `0x${text}`;
}
