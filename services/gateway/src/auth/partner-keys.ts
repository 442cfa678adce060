import { timingSafeEqual } from 'node:crypto';
import { type PartnerCredential, keyDigest } from '../config';

/**
 * Who a bearer key belongs to. Keys are compared as SHA-256 digests with `timingSafeEqual`, and
 * every configured partner is compared on every call, so neither the time taken nor an early exit
 * tells a caller how much of a key, or which partner's, it guessed.
 */
export class PartnerKeys {
  constructor(private readonly partners: readonly PartnerCredential[]) {}

  /** The partner whose key this is, or undefined. */
  identify(presentedKey: string): string | undefined {
    const digest = keyDigest(presentedKey);
    let match: string | undefined;
    for (const p of this.partners) {
      if (timingSafeEqual(digest, p.keyDigest) && match === undefined) match = p.partnerId;
    }
    return match;
  }
}
