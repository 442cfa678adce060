import { randomBytes } from 'node:crypto';
import type { KV } from '@nats-io/kv';
import { getAddress, verifyMessage } from 'ethers';
import { ApiError } from '../http/api-error';
import { ownerIdOf } from './owner-id';
import { type ChallengeClaims, TokenError, type TokenService } from './tokens';

/** The KV bucket where used challenges are marked, shared by every replica (entries expire with the challenges). */
export const CHALLENGE_BUCKET = 'weai-gateway-challenges';

/** A challenge as the owner receives it: `message` is what its wallet signs (EIP-191 personal_sign). */
export interface OwnerChallenge {
  readonly challenge: string;
  readonly message: string;
  readonly expiresAt: string;
}

const iso = (seconds: number) => new Date(seconds * 1000).toISOString();

/** The text an owner signs; derived from the challenge alone, so no replica needs to remember it. */
export function challengeMessage(c: ChallengeClaims): string {
  return [
    'WE-AI node owner sign-in',
    '',
    'Signing proves you control this payout address. It moves no funds and costs no gas.',
    '',
    `Address: ${getAddress(c.address)}`,
    `Gateway: ${c.aud}`,
    `Nonce: ${c.nonce}`,
    `Issued at: ${iso(c.iat)}`,
    `Expires at: ${iso(c.exp)}`,
  ].join('\n');
}

const unauthorized = (message: string) => new ApiError(401, 'unauthorized', message, { 'www-authenticate': 'Bearer realm="weai"' });

/**
 * Owners sign in by signing a one-time challenge with the key of their payout address. The
 * challenge is itself signed by the gateway (any replica can check it, none has to store it);
 * using it is recorded with a create-only put in a shared KV bucket, so it works once across all
 * replicas. The owner's id is derived from the address as the nodes service derives it.
 */
export class OwnerSignIn {
  constructor(
    private readonly tokens: TokenService,
    private readonly used: KV,
    private readonly ttlSeconds: number,
  ) {}

  challenge(address: string, now: Date): OwnerChallenge {
    const { token, claims } = this.tokens.challenge(getAddress(address.toLowerCase()), randomBytes(18).toString('base64url'), now, this.ttlSeconds);
    return { challenge: token, message: challengeMessage(claims), expiresAt: iso(claims.exp) };
  }

  /** The owner id proven by the signature, or a 401 saying what is wrong; the challenge is then used up. */
  async verify(challenge: string, signature: string, now: Date): Promise<string> {
    let claims: ChallengeClaims;
    try {
      claims = this.tokens.verifyChallenge(challenge, now, this.ttlSeconds);
    } catch (error) {
      if (error instanceof TokenError) throw unauthorized(`challenge: ${error.message}`);
      throw error;
    }
    let signer: string;
    try {
      signer = verifyMessage(challengeMessage(claims), signature);
    } catch {
      throw unauthorized('signature: not an EIP-191 signature (65 bytes, 0x-prefixed hex) of the challenge message');
    }
    if (signer.toLowerCase() !== claims.address.toLowerCase()) throw unauthorized('signature: not made by the key of the challenged address');
    try {
      await this.used.create(`used.${claims.nonce}`, '1');
    } catch (error) {
      if (/wrong last sequence|exists/i.test((error as Error).message)) throw unauthorized('challenge: already used; ask for a new one');
      throw error;
    }
    return ownerIdOf(claims.address);
  }
}
