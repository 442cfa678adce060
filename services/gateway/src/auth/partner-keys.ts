import { timingSafeEqual } from 'node:crypto';
import { type KeyCredential, type PartnerCredential, keyDigest } from '../config';

/**
 * Who a bearer key belongs to. Keys are compared as SHA-256 digests with `timingSafeEqual`, and
 * every configured key is compared on every call, so neither the time taken nor an early exit
 * tells a caller how much of a key, or whose, it guessed.
 */
export class ApiKeys {
  constructor(private readonly credentials: readonly KeyCredential[]) {}

  /** The id whose key this is, or undefined. */
  identify(presentedKey: string): string | undefined {
    const digest = keyDigest(presentedKey);
    let match: string | undefined;
    for (const c of this.credentials) {
      if (timingSafeEqual(digest, c.keyDigest) && match === undefined) match = c.id;
    }
    return match;
  }

  /** Whether an id still has a key (tokens of an id whose key was removed are refused). */
  knows(id: string): boolean {
    return this.credentials.some((c) => c.id === id);
  }
}

/** The partners' keys (`GATEWAY_PARTNER_KEYS`). */
export class PartnerKeys extends ApiKeys {
  constructor(partners: readonly PartnerCredential[]) {
    super(partners.map((p) => ({ id: p.partnerId, keyDigest: p.keyDigest })));
  }
}
