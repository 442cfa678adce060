import type { RewardsFamilyEvent } from '@weai/contracts';
import { assertNever } from '@weai/decider';

/** Events of the owner's ledger aggregate: the whole rewards family. */
export type OwnerEvent = RewardsFamilyEvent;

/** One withdrawal as the owner's aggregate knows it. */
export interface Withdrawal {
  readonly withdrawalId: string;
  readonly amount: bigint;
  readonly payoutAddress: string;
  readonly nonce: string;
  readonly deadline: string;
  readonly status: 'requested' | 'settled' | 'failed';
  /** Transactions sent with the voucher, oldest first. */
  readonly txHashes: readonly string[];
}

/**
 * One owner's account, tagged by status: `available` is the `owner:<id>` balance, `inFlight`
 * what the owner's open withdrawals hold.
 */
export type OwnerState =
  | { readonly status: 'empty' }
  | {
      readonly status: 'active';
      readonly ownerId: string;
      readonly available: bigint;
      readonly inFlight: bigint;
      readonly withdrawals: ReadonlyMap<string, Withdrawal>;
    };

/** Stream id of one owner's ledger. */
export const toOwnerStreamId = (ownerId: string) => `rewards-owner-${ownerId}`;

export const initialOwnerState = (): OwnerState => ({ status: 'empty' });

type Active = Extract<OwnerState, { status: 'active' }>;

function active(state: OwnerState, ownerId: string): Active {
  return state.status === 'active' ? state : { status: 'active', ownerId, available: 0n, inFlight: 0n, withdrawals: new Map() };
}

function withWithdrawal(s: Active, id: string, change: (w: Withdrawal) => Withdrawal): ReadonlyMap<string, Withdrawal> {
  const w = s.withdrawals.get(id);
  if (!w) return s.withdrawals;
  return new Map(s.withdrawals).set(id, change(w));
}

export function evolveOwner(state: OwnerState, event: OwnerEvent): OwnerState {
  const s = active(state, event.data.ownerId);
  switch (event.type) {
    case 'RewardAccrued':
      return { ...s, available: s.available + BigInt(event.data.amount) };
    case 'WithdrawalRequested': {
      const { withdrawalId, payoutAddress, nonce, deadline } = event.data;
      const amount = BigInt(event.data.amount);
      const w: Withdrawal = { withdrawalId, amount, payoutAddress, nonce, deadline, status: 'requested', txHashes: [] };
      return { ...s, available: s.available - amount, inFlight: s.inFlight + amount, withdrawals: new Map(s.withdrawals).set(withdrawalId, w) };
    }
    case 'WithdrawalSubmitted':
      return { ...s, withdrawals: withWithdrawal(s, event.data.withdrawalId, (w) => ({ ...w, txHashes: [...w.txHashes, event.data.txHash] })) };
    case 'WithdrawalSettled':
      return {
        ...s,
        inFlight: s.inFlight - BigInt(event.data.amount),
        withdrawals: withWithdrawal(s, event.data.withdrawalId, (w) => ({ ...w, status: 'settled' })),
      };
    case 'WithdrawalFailed':
      return {
        ...s,
        available: s.available + BigInt(event.data.amount),
        inFlight: s.inFlight - BigInt(event.data.amount),
        withdrawals: withWithdrawal(s, event.data.withdrawalId, (w) => ({ ...w, status: 'failed' })),
      };
    default:
      return assertNever(event, 'rewards event');
  }
}
