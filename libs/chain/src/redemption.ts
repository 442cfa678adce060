import type { Result } from 'ethers';

/** Why `WebiPayout` refused a voucher; the names of its custom errors. */
export type VoucherRejection = 'VoucherExpired' | 'VoucherAlreadyRedeemed' | 'InvalidSigner';

/** @internal The rejection names, for narrowing a decoded revert. */
export const REJECTIONS: readonly string[] = ['VoucherExpired', 'VoucherAlreadyRedeemed', 'InvalidSigner'] satisfies VoucherRejection[];

/**
 * The contract refused the voucher before it was sent (the node simulated the call). Nothing was
 * paid by this call. `VoucherAlreadyRedeemed` means it was paid earlier: reconcile with
 * {@link PayoutClient.findRedemption}.
 */
export class VoucherRejectedError extends Error {
  /** @param reason the contract's error name. @param nonce the voucher's nonce. */
  constructor(
    readonly reason: VoucherRejection,
    readonly nonce: bigint,
    options?: ErrorOptions,
  ) {
    super(`voucher ${nonce} rejected: ${reason}`, options);
    this.name = 'VoucherRejectedError';
  }
}

/** A redemption transaction did not pay; `reason` says why. Check the voucher with `settle`. */
export class RedemptionFailedError extends Error {
  /** @param txHash the transaction waited for. @param reason what went wrong. */
  constructor(
    readonly txHash: string,
    readonly reason: 'reverted' | 'timeout' | 'not-a-redemption',
    options?: ErrorOptions,
  ) {
    super(`redemption ${txHash} failed: ${reason}`, options);
    this.name = 'RedemptionFailedError';
  }
}

/** A voucher paid on chain, as found in its `Redeemed` log. */
export interface Redemption {
  /** The voucher's nonce. */
  readonly nonce: bigint;
  /** Who was paid. */
  readonly owner: string;
  /** Base units paid. */
  readonly amount: bigint;
  /** Transaction that redeemed it (may have been sent by anyone). */
  readonly txHash: string;
  /** Block it was mined in. */
  readonly blockNumber: number;
  /** Hash of that block; a different hash on a later lookup means the chain reorganised. */
  readonly blockHash: string;
  /** Blocks on top of and including that block at lookup time (1 = just mined). */
  readonly confirmations: number;
}

/**
 * Where a voucher stands once reorgs deeper than the caller's `confirmations` are ruled out:
 * - `paid`: redeemed in a block with at least that many confirmations;
 * - `expired`: unspent in the block that deep, whose timestamp is past the deadline, so it can
 *   never be redeemed on this chain: the amount may go back to the owner's balance;
 * - `open`: neither yet; the voucher may still be (or already have been, shallowly) redeemed.
 *   Never re-issue the amount under a new nonce while open: that is how a payout is paid twice.
 */
export type VoucherSettlement =
  | { readonly status: 'paid'; readonly redemption: Redemption }
  | { readonly status: 'expired'; readonly checkedAtBlock: number }
  | { readonly status: 'open'; readonly redemption: Redemption | null };

/** @internal Where a transaction was mined. */
export interface MinedAt {
  /** Transaction hash. */
  readonly transactionHash: string;
  /** Block number. */
  readonly blockNumber: number;
  /** Block hash. */
  readonly blockHash: string;
}

/** @internal `args` are the decoded `Redeemed(nonce, owner, amount)` arguments. */
export function toRedemption(args: Result, at: MinedAt, head: number): Redemption {
  const [nonce, owner, amount] = args.toArray() as [bigint, string, bigint];
  return {
    nonce,
    owner,
    amount,
    txHash: at.transactionHash,
    blockNumber: at.blockNumber,
    blockHash: at.blockHash,
    confirmations: head - at.blockNumber + 1,
  };
}
