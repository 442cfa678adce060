/**
 * The rewards family: the node owners' ledger, kept by the rewards service (`docs/rewards.md`).
 *
 * Every event here moves money between ledger accounts by fixed double-entry rules (each
 * posting debits one account and credits another by the same amount), so the sum over all
 * accounts is zero after every event:
 *
 * | event                 | postings (debit → credit)                                                                 |
 * |-----------------------|-------------------------------------------------------------------------------------------|
 * | `RewardAccrued`       | `treasury` → `owner:<ownerId>` (amount), → `platform:fees` (fee), → `partner-share:<id>` (share) |
 * | `WithdrawalRequested` | `owner:<ownerId>` → `withdrawals:in-flight`                                               |
 * | `WithdrawalSubmitted` | none (records the transaction that carries the voucher)                                   |
 * | `WithdrawalSettled`   | `withdrawals:in-flight` → `chain`                                                          |
 * | `WithdrawalFailed`    | `withdrawals:in-flight` → `owner:<ownerId>` (the funds are released)                      |
 *
 * Amounts are base units of WEBI (10^-18 WEBI) as decimal strings: no float ever touches money.
 * A change to these rules for an existing type needs a new schema version, so that history
 * always posts the way it did when it was written.
 */
import { z } from 'zod';
import { defineEvent } from '../event';
import { Amount, Id } from '../metadata';

const family = 'rewards' as const;
const scope = (d: { ownerId: string }) => d.ownerId;

/** A 0x-prefixed 20-byte address (checksummed or not). */
const Address = z.string().regex(/^0x[0-9a-fA-F]{40}$/, 'must be a 0x-prefixed 20-byte hex address');
/** A uint256 as a decimal string (voucher nonces and deadlines). */
const Uint256 = z.string().regex(/^(0|[1-9][0-9]{0,77})$/, 'must be a non-negative integer in decimal');
/** A transaction or block hash, lowercase hex. */
const Hash32 = z.string().regex(/^0x[0-9a-f]{64}$/, 'must be a lowercase 0x-prefixed 32-byte hex hash');
/** Basis points, 0 to 10,000 (100 %). */
const Bps = z.number().int().min(0).max(10_000);

/** What an accrual was computed from, so that an auditor can recompute it without the service's configuration. */
export const AccrualBasisSchema = z
  .object({
    /** Compute time the scheduler accepted for this node's result, in milliseconds, as reported. */
    computeMs: z.number().nonnegative().finite(),
    /** The node's benchmark score used (its last `NodeCapabilitiesReported`). */
    benchmarkScore: z.number().positive().finite(),
    /**
     * Work in millionths of a work unit: round(computeMs × 1000) × round(benchmarkScore × 1000).
     * One work unit is one millisecond at benchmark score 1.
     */
    workMicroUnits: Amount,
    /** Base units paid per million work units, before the split. */
    ratePerMillionUnits: Amount,
    /** Platform fee rate in basis points of the gross reward. */
    platformFeeBps: Bps,
    /** Partner revenue share rate in basis points of the gross reward (0 when none applies). */
    partnerShareBps: Bps,
  })
  .strict();

export const RewardAccrued = defineEvent({
  type: 'RewardAccrued',
  family,
  schema: z
    .object({
      ownerId: Id,
      nodeId: Id,
      jobId: Id,
      shardId: Id,
      /** Credited to the owner, in the smallest WEBI unit: the gross reward less fee and share (it carries their rounding remainders). */
      amount: Amount,
      /** Retained by the platform (`platform:fees`). */
      platformFee: Amount,
      /** The job's partner; names the `partner-share:<partnerId>` account when a share is paid. */
      partnerId: Id.optional(),
      /** Credited to `partner-share:<partnerId>`; absent means none. */
      partnerShare: Amount.optional(),
      /** How the gross reward (`amount + platformFee + partnerShare`) was computed; written on every accrual by the rewards service. */
      basis: AccrualBasisSchema.optional(),
    })
    .strict()
    .refine((d) => d.partnerShare === undefined || d.partnerShare === '0' || d.partnerId !== undefined, {
      message: 'a partner share needs the partnerId it is credited to',
      path: ['partnerId'],
    }),
  scope,
});

export const WithdrawalRequested = defineEvent({
  type: 'WithdrawalRequested',
  family,
  schema: z
    .object({
      /** Chosen by the client, unique per owner: requesting the same id again is the same withdrawal. */
      withdrawalId: Id,
      ownerId: Id,
      /** Held in `withdrawals:in-flight` until the withdrawal settles or fails. */
      amount: Amount,
      /** Where the WEBI are paid: the owner's payout address at request time. */
      payoutAddress: Address,
      /** Voucher nonce: `withdrawalNonce("<ownerId>:<withdrawalId>")`, the withdrawal's identity on chain. */
      nonce: Uint256,
      /** Voucher deadline, unix seconds (inclusive): after it the voucher can never be redeemed. */
      deadline: Uint256,
    })
    .strict(),
  scope,
});

export const WithdrawalSubmitted = defineEvent({
  type: 'WithdrawalSubmitted',
  family,
  schema: z
    .object({
      withdrawalId: Id,
      ownerId: Id,
      nonce: Uint256,
      /** A transaction that redeems the voucher, accepted by the node (not yet mined, maybe never). */
      txHash: Hash32,
    })
    .strict(),
  scope,
});

export const WithdrawalSettled = defineEvent({
  type: 'WithdrawalSettled',
  family,
  schema: z
    .object({
      withdrawalId: Id,
      ownerId: Id,
      amount: Amount,
      /** The transaction that redeemed the voucher (whoever sent it). */
      txHash: Hash32,
      /** Voucher nonce, as in `WithdrawalRequested`. */
      nonce: Uint256,
      /** Block the redemption was mined in, at least the configured confirmations deep when recorded. */
      blockNumber: z.number().int().nonnegative(),
      /** Hash of that block: a later lookup with another hash means the chain reorganised. */
      blockHash: Hash32,
    })
    .strict(),
  scope,
});

export const WithdrawalFailed = defineEvent({
  type: 'WithdrawalFailed',
  family,
  schema: z
    .object({
      withdrawalId: Id,
      ownerId: Id,
      /** Released back to the owner's balance. */
      amount: Amount,
      reason: z.string().min(1).max(1024),
      /** The confirmed block in which the voucher was seen expired and unspent. */
      checkedAtBlock: z.number().int().nonnegative().optional(),
    })
    .strict(),
  scope,
});

export const REWARD_EVENTS = [RewardAccrued, WithdrawalRequested, WithdrawalSubmitted, WithdrawalSettled, WithdrawalFailed] as const;

/**
 * Request subjects of the rewards service (core NATS request/reply, queue group `rewards`).
 * Who may send which is enforced by NATS permissions: an owner only its own `withdraw`,
 * `balance` and `history` — sent to `<subject>.<ownerId>` ({@link ownerRequestSubject}), the owner
 * being the last token and the only one its credential may publish to — operators `accounts` and `check`.
 */
export const REWARDS_RPC = {
  /** `{ ownerId, withdrawalId, amount }` on `.<ownerId>` → the withdrawal, held in flight until it settles or fails. */
  withdraw: 'weai.rpc.rewards.withdraw',
  /** `{ ownerId }` on `.<ownerId>` → the owner's available and in-flight balances and withdrawals. */
  balance: 'weai.rpc.rewards.balance',
  /** `{ ownerId, limit? }` on `.<ownerId>` → the owner's postings, newest first. */
  history: 'weai.rpc.rewards.history',
  /** `{}` → every ledger account's balance (operators). */
  accounts: 'weai.rpc.rewards.accounts',
  /** `{}` → replays the service's store and compares it with the live ledger (operators). */
  check: 'weai.rpc.rewards.check',
} as const;

/** The subject of an owner's request about its own account. */
export function ownerRequestSubject(request: 'withdraw' | 'balance' | 'history', ownerId: string): string {
  return `${REWARDS_RPC[request]}.${ownerId}`;
}

/** The body of `weai.rpc.rewards.withdraw`. */
export const WithdrawRequestSchema = z
  .object({
    ownerId: Id,
    /** The client's idempotency key: sending the same request again pays once. */
    withdrawalId: Id,
    /** Base units, decimal string. */
    amount: Amount,
  })
  .strict();
