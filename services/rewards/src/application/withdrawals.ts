import { WithdrawRequestSchema } from '@weai/contracts';
import { withdrawalNonce } from '@weai/chain';
import { DomainError } from '@weai/decider';
import type { OwnerLedger } from './owner-ledger';
import type { NodeDirectory } from './node-directory';
import { commandMetadata } from './metadata';

/** Withdrawal limits, from configuration. */
export interface WithdrawalOptions {
  /** Smallest amount one withdrawal may take, base units. */
  readonly minimum: bigint;
  /** How long a voucher may be redeemed, from the request. */
  readonly voucherTtlSeconds: number;
}

/** A withdrawal as its requester sees it. */
export interface WithdrawalReceipt {
  readonly ownerId: string;
  readonly withdrawalId: string;
  readonly amount: string;
  readonly status: 'requested' | 'settled' | 'failed';
  /** The voucher's nonce on chain, decimal. */
  readonly nonce: string;
  /** The voucher's deadline, unix seconds. */
  readonly deadline: string;
}

/**
 * Requests a withdrawal: the amount moves from the owner's balance to in flight, and the saga
 * takes it from there. The voucher's nonce derives from owner and withdrawal id (withdrawal ids
 * are the owner's idempotency keys, unique per owner only, while nonces are global to the payout
 * contract); its deadline is fixed here, so the voucher the saga signs is the same after any crash.
 */
export class WithdrawalRequests {
  constructor(
    private readonly ledger: OwnerLedger,
    private readonly nodes: NodeDirectory,
    private readonly options: WithdrawalOptions,
  ) {}

  async request(body: unknown, now: Date): Promise<WithdrawalReceipt> {
    const { ownerId, withdrawalId, amount } = WithdrawRequestSchema.parse(body);
    const payoutAddress = await this.nodes.payoutAddressOf(ownerId);
    const deadline = String(Math.floor(now.getTime() / 1000) + this.options.voucherTtlSeconds);
    const nonce = String(withdrawalNonce(`${ownerId}:${withdrawalId}`));
    const { state } = await this.ledger.execute(ownerId, {
      type: 'RequestWithdrawal',
      data: { ownerId, withdrawalId, amount: BigInt(amount), minimum: this.options.minimum, payoutAddress, nonce, deadline },
      metadata: commandMetadata(now, { key: `withdraw:${ownerId}:${withdrawalId}` }),
    });
    const w = state.status === 'active' ? state.withdrawals.get(withdrawalId) : undefined;
    if (!w) throw new DomainError(`withdrawal ${withdrawalId} was not recorded`, 'rewards.unknown-withdrawal');
    return { ownerId, withdrawalId, amount: String(w.amount), status: w.status, nonce: w.nonce, deadline: w.deadline };
  }
}
