import { type Decider, DomainError, assertNever } from '@weai/decider';
import type { CommandMetadata } from '@weai/eventstore';
import { type OwnerEvent, type OwnerState, type Withdrawal, evolveOwner, initialOwnerState } from './owner';
import { type AccrualTerms, type Work, accrue } from './policy';

type Meta = { readonly metadata: CommandMetadata };

/** Commands of the owner's ledger. Policy, chain identities and time arrive on the command. */
export type OwnerCommand =
  | ({
      type: 'AccrueReward';
      data: { ownerId: string; nodeId: string; jobId: string; shardId: string; partnerId: string; work: Work; terms: AccrualTerms };
    } & Meta)
  | ({
      type: 'RequestWithdrawal';
      data: {
        ownerId: string;
        withdrawalId: string;
        amount: bigint;
        /** The smallest withdrawal allowed. */
        minimum: bigint;
        /** The owner's payout address, if known. */
        payoutAddress: string | undefined;
        /** Voucher nonce and deadline (unix seconds), decimal. */
        nonce: string;
        deadline: string;
      };
    } & Meta)
  | ({ type: 'RecordSubmission'; data: { withdrawalId: string; txHash: string } } & Meta)
  | ({ type: 'SettleWithdrawal'; data: { withdrawalId: string; txHash: string; blockNumber: number; blockHash: string } } & Meta)
  | ({ type: 'FailWithdrawal'; data: { withdrawalId: string; reason: string; checkedAtBlock?: number } } & Meta);

type Decided = Omit<OwnerEvent, 'metadata'>;

function withdrawal(state: OwnerState, id: string): { ownerId: string; w: Withdrawal } {
  const w = state.status === 'active' ? state.withdrawals.get(id) : undefined;
  if (state.status !== 'active' || !w) throw new DomainError(`no withdrawal ${id}`, 'rewards.unknown-withdrawal');
  return { ownerId: state.ownerId, w };
}

export function decideOwner(command: OwnerCommand, state: OwnerState): Decided[] {
  switch (command.type) {
    case 'AccrueReward': {
      const { ownerId, nodeId, jobId, shardId, partnerId, work, terms } = command.data;
      const a = accrue(work, terms);
      if (a.gross === 0n) return [];
      const basis = {
        computeMs: work.computeMs,
        benchmarkScore: work.benchmarkScore,
        workMicroUnits: String(a.workMicroUnits),
        ratePerMillionUnits: String(terms.ratePerMillionUnits),
        platformFeeBps: terms.platformFeeBps,
        partnerShareBps: terms.partnerShareBps,
      };
      const data = { ownerId, nodeId, jobId, shardId, amount: String(a.owner), platformFee: String(a.platformFee), partnerId, partnerShare: String(a.partnerShare), basis };
      return [{ type: 'RewardAccrued', data }];
    }
    case 'RequestWithdrawal': {
      const d = command.data;
      const known = state.status === 'active' ? state.withdrawals.get(d.withdrawalId) : undefined;
      // The withdrawal id is the client's idempotency key: the same request again is the same withdrawal.
      if (known) {
        if (known.amount === d.amount) return [];
        throw new DomainError(`withdrawal ${d.withdrawalId} was requested for ${known.amount}, not ${d.amount}`, 'rewards.withdrawal-id-reused');
      }
      if (d.amount <= 0n) throw new DomainError('a withdrawal must be of a positive amount', 'rewards.bad-amount');
      if (d.amount < d.minimum) throw new DomainError(`the smallest withdrawal is ${d.minimum}`, 'rewards.below-minimum');
      if (!d.payoutAddress) throw new DomainError('no payout address is known for this owner: register a node first', 'rewards.no-payout-address');
      const available = state.status === 'active' ? state.available : 0n;
      if (d.amount > available) throw new DomainError(`the available balance is ${available}, less than ${d.amount}`, 'rewards.insufficient-balance');
      const { ownerId, withdrawalId, payoutAddress, nonce, deadline } = d;
      return [{ type: 'WithdrawalRequested', data: { withdrawalId, ownerId, amount: String(d.amount), payoutAddress, nonce, deadline } }];
    }
    case 'RecordSubmission': {
      const { ownerId, w } = withdrawal(state, command.data.withdrawalId);
      if (w.status !== 'requested' || w.txHashes.includes(command.data.txHash)) return [];
      return [{ type: 'WithdrawalSubmitted', data: { withdrawalId: w.withdrawalId, ownerId, nonce: w.nonce, txHash: command.data.txHash } }];
    }
    case 'SettleWithdrawal': {
      const { ownerId, w } = withdrawal(state, command.data.withdrawalId);
      if (w.status === 'settled') return [];
      // Released funds that were paid after all: a double payment the saga must never cause.
      if (w.status === 'failed') throw new DomainError(`withdrawal ${w.withdrawalId} was released but is paid on chain`, 'rewards.paid-after-release');
      const { txHash, blockNumber, blockHash } = command.data;
      return [{ type: 'WithdrawalSettled', data: { withdrawalId: w.withdrawalId, ownerId, amount: String(w.amount), txHash, nonce: w.nonce, blockNumber, blockHash } }];
    }
    case 'FailWithdrawal': {
      const { ownerId, w } = withdrawal(state, command.data.withdrawalId);
      if (w.status === 'failed') return [];
      if (w.status === 'settled') throw new DomainError(`withdrawal ${w.withdrawalId} is paid; it cannot fail`, 'rewards.already-settled');
      const { reason, checkedAtBlock } = command.data;
      return [{ type: 'WithdrawalFailed', data: { withdrawalId: w.withdrawalId, ownerId, amount: String(w.amount), reason, ...(checkedAtBlock === undefined ? {} : { checkedAtBlock }) } }];
    }
    default:
      return assertNever(command, 'rewards command');
  }
}

/** The owner's ledger decider. */
export const ownerDecider: Decider<OwnerCommand, OwnerEvent, OwnerState> = {
  decide: (command, state) => decideOwner(command, state) as OwnerEvent[],
  evolve: evolveOwner,
  initialState: initialOwnerState,
};
