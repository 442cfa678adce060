import type { RewardsFamilyEvent } from '@weai/contracts';
import { assertNever } from '@weai/decider';

/** Funds every reward: its balance is minus everything ever accrued. */
export const TREASURY = 'treasury';
/** The platform's fees. */
export const PLATFORM_FEES = 'platform:fees';
/** Withdrawals requested and neither paid nor released yet. */
export const IN_FLIGHT = 'withdrawals:in-flight';
/** Money that left on chain: the sum of settled withdrawals. */
export const CHAIN = 'chain';
/** A node owner's withdrawable balance. */
export const ownerAccount = (ownerId: string) => `owner:${ownerId}`;
/** A partner's revenue share. */
export const partnerShareAccount = (partnerId: string) => `partner-share:${partnerId}`;

/** One movement: `amount` leaves `debit` and arrives in `credit`. */
export interface Posting {
  readonly debit: string;
  readonly credit: string;
  readonly amount: bigint;
}

/** Balances by account; a balance is credits minus debits. */
export type Balances = Map<string, bigint>;

/**
 * The postings of one event: the one definition of how each event moves money, used by the
 * ledger projection, the invariant check and the replay. Zero amounts post nothing. Each posting
 * debits and credits the same amount, so the sum over all accounts stays zero.
 */
export function postingsOf(event: RewardsFamilyEvent): Posting[] {
  const all = ((): Posting[] => {
    switch (event.type) {
      case 'RewardAccrued': {
        const d = event.data;
        const share = d.partnerId ? [{ debit: TREASURY, credit: partnerShareAccount(d.partnerId), amount: BigInt(d.partnerShare ?? '0') }] : [];
        return [{ debit: TREASURY, credit: ownerAccount(d.ownerId), amount: BigInt(d.amount) }, { debit: TREASURY, credit: PLATFORM_FEES, amount: BigInt(d.platformFee) }, ...share];
      }
      case 'WithdrawalRequested':
        return [{ debit: ownerAccount(event.data.ownerId), credit: IN_FLIGHT, amount: BigInt(event.data.amount) }];
      case 'WithdrawalSubmitted':
        return [];
      case 'WithdrawalSettled':
        return [{ debit: IN_FLIGHT, credit: CHAIN, amount: BigInt(event.data.amount) }];
      case 'WithdrawalFailed':
        return [{ debit: IN_FLIGHT, credit: ownerAccount(event.data.ownerId), amount: BigInt(event.data.amount) }];
      default:
        return assertNever(event, 'rewards event');
    }
  })();
  return all.filter((p) => p.amount !== 0n);
}

/** Applies postings to balances in place (a fold's accumulator). */
export function applyPostings(balances: Balances, postings: readonly Posting[]): void {
  for (const p of postings) {
    balances.set(p.debit, (balances.get(p.debit) ?? 0n) - p.amount);
    balances.set(p.credit, (balances.get(p.credit) ?? 0n) + p.amount);
  }
}

/** Sum over all accounts: zero in a balanced ledger. */
export function sumOf(balances: ReadonlyMap<string, bigint>): bigint {
  let sum = 0n;
  for (const v of balances.values()) sum += v;
  return sum;
}
