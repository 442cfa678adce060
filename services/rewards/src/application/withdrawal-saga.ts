import { getAddress } from 'ethers';
import { type Redemption, RedemptionFailedError, VoucherRejectedError, type WithdrawalVoucher } from '@weai/chain';
import type { EventOfType } from '@weai/contracts';
import { MalformedMessageError } from '@weai/messaging';
import type { Withdrawal } from '../domain/owner';
import type { OwnerCommand } from '../domain/owner.decide';
import { commandMetadata } from './metadata';
import type { OwnerLedger } from './owner-ledger';
import type { PayoutChain } from './payout-chain';

/**
 * Points in the saga where a test can stop it, as a crash would: throwing from a hook ends the
 * run there (the event is not acknowledged and comes back), and the next run must still end in
 * exactly one payment.
 */
export interface SagaHooks {
  beforeSign?(withdrawal: Withdrawal): Promise<void> | void;
  afterSign?(withdrawal: Withdrawal, signature: string): Promise<void> | void;
  afterSend?(withdrawal: Withdrawal, txHash: string): Promise<void> | void;
  afterConfirm?(withdrawal: Withdrawal, redemption: Redemption): Promise<void> | void;
}

/** Timing of the saga. */
export interface SagaOptions {
  /** The clock that stamps commands. */
  readonly now: () => Date;
  /** Longest wait for one transaction to reach the confirmation depth before asking the chain again. */
  readonly waitTimeoutMs: number;
  /** Pause before asking again when there is nothing to wait on (a voucher past its deadline, not yet final). */
  readonly pollMs: number;
  /** Longest one run keeps at a withdrawal; then it fails the delivery and reconciles on the next one. */
  readonly budgetMs: number;
}

/** The withdrawal is still open on chain after the run's budget; the next delivery reconciles again. */
export class WithdrawalStillOpenError extends Error {
  override readonly name = 'WithdrawalStillOpenError';
}

/**
 * Pays a requested withdrawal on chain, exactly once, whatever crashes on the way. It is driven
 * by `WithdrawalRequested` as JetStream delivers it back (no dual write) and every run starts
 * from chain state, by nonce, never from what the last run meant to do:
 *
 * 1. `settle`: **paid** at depth → `WithdrawalSettled`; **expired** and unspent at depth →
 *    `WithdrawalFailed`, funds released; **open** → go on.
 * 2. Mined but not deep yet → wait for depth. Unspent → sign (the same signature as any earlier
 *    run: same voucher, deterministic ECDSA) and send; the platform pays the gas.
 *    The contract pays a nonce at most once, so a second transaction of a re-run reverts, and a
 *    voucher is never re-issued under another nonce.
 * 3. Wait for depth, then back to 1: only `settle` decides.
 */
export class WithdrawalSaga {
  constructor(
    private readonly ledger: OwnerLedger,
    private readonly chain: PayoutChain,
    private readonly options: SagaOptions,
    private readonly hooks: SagaHooks = {},
  ) {}

  async run(e: EventOfType<'WithdrawalRequested'>): Promise<'settled' | 'failed' | 'closed'> {
    const { ownerId, withdrawalId } = e.data;
    const state = await this.ledger.load(ownerId);
    const w = state.status === 'active' ? state.withdrawals.get(withdrawalId) : undefined;
    // The event comes from this service's own store, so no later delivery will find it either (a
    // forged or corrupt message): parked at once instead of retried for hours.
    if (!w) throw new MalformedMessageError(`withdrawal ${ownerId}/${withdrawalId} is not in the owner's ledger`);
    if (w.status !== 'requested') return 'closed';
    const voucher: WithdrawalVoucher = { owner: w.payoutAddress, amount: w.amount, nonce: BigInt(w.nonce), deadline: BigInt(w.deadline) };
    const started = performance.now();
    // A transaction an earlier run sent may still be pending: wait for it once before sending another.
    let pending = w.txHashes.at(-1);
    for (;;) {
      const s = await this.chain.settle(voucher);
      if (s.status === 'paid') {
        this.checkPaidToUs(voucher, s.redemption);
        await this.hooks.afterConfirm?.(w, s.redemption);
        const { txHash, blockNumber, blockHash } = s.redemption;
        await this.execute(ownerId, 'settle', w, { type: 'SettleWithdrawal', data: { withdrawalId, txHash, blockNumber, blockHash } });
        return 'settled';
      }
      if (s.status === 'expired') {
        const reason = `voucher expired unredeemed (deadline ${w.deadline}, checked at block ${s.checkedAtBlock})`;
        await this.execute(ownerId, 'fail', w, { type: 'FailWithdrawal', data: { withdrawalId, reason, checkedAtBlock: s.checkedAtBlock } });
        return 'failed';
      }
      if (performance.now() - started > this.options.budgetMs) throw new WithdrawalStillOpenError(`withdrawal ${ownerId}/${withdrawalId} is still open on chain; reconciling later`);
      if (s.redemption) {
        this.checkPaidToUs(voucher, s.redemption);
        await this.waitQuietly(s.redemption.txHash);
        continue;
      }
      if (pending) {
        await this.waitQuietly(pending);
        pending = undefined;
        continue;
      }
      await this.hooks.beforeSign?.(w);
      const signature = await this.chain.sign(voucher);
      await this.hooks.afterSign?.(w, signature);
      let txHash: string;
      try {
        txHash = await this.chain.redeem(voucher, signature);
      } catch (error) {
        if (!(error instanceof VoucherRejectedError)) throw error;
        if (error.reason === 'InvalidSigner') throw new Error("the platform key is not the payout contract's signer: fix REWARDS_SIGNER_KEY or the contract's signer", { cause: error });
        // Redeemed by an earlier transaction, or past its deadline: the next settle says which once it is final.
        await new Promise((r) => setTimeout(r, this.options.pollMs));
        continue;
      }
      await this.execute(ownerId, `submit:${txHash}`, w, { type: 'RecordSubmission', data: { withdrawalId, txHash } });
      await this.hooks.afterSend?.(w, txHash);
      await this.waitQuietly(txHash);
    }
  }

  /** Waits for a transaction to reach depth; a revert or a timeout only means asking the chain again. */
  private async waitQuietly(txHash: string): Promise<void> {
    try {
      await this.chain.waitForRedemption(txHash, this.options.waitTimeoutMs);
    } catch (error) {
      if (!(error instanceof RedemptionFailedError)) throw error;
    }
  }

  /** Nonces derive from owner and withdrawal id; a payment to anyone else under ours means a leaked key, never "paid". */
  private checkPaidToUs(voucher: WithdrawalVoucher, r: Redemption): void {
    if (getAddress(r.owner) !== getAddress(voucher.owner) || r.amount !== voucher.amount) {
      throw new Error(`nonce ${voucher.nonce} was redeemed for ${r.owner} (${r.amount}), not this withdrawal's ${voucher.owner} (${voucher.amount}): investigate`);
    }
  }

  private async execute(ownerId: string, step: string, w: Withdrawal, command: Omit<OwnerCommand, 'metadata'>): Promise<void> {
    const metadata = commandMetadata(this.options.now(), { key: `${step}:${ownerId}:${w.withdrawalId}`, correlationId: `withdrawal-${w.withdrawalId}`.slice(0, 128) });
    await this.ledger.execute(ownerId, { ...command, metadata } as OwnerCommand);
  }
}
