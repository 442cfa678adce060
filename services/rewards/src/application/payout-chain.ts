import type { Redemption, VoucherSettlement, WithdrawalVoucher } from '@weai/chain';

/**
 * The chain as the withdrawal saga uses it (the adapter is `adapters/payout.chain.ts`): the
 * platform key signs vouchers, a platform wallet sends them and pays the gas, and every answer
 * about payment comes from chain state at the configured depth.
 */
export interface PayoutChain {
  /** Depth at which a redemption or an expiry counts as final. */
  readonly confirmations: number;
  /** Where the voucher stands, from chain state alone (`PayoutClient.settle`). */
  settle(voucher: WithdrawalVoucher): Promise<VoucherSettlement>;
  /** The platform's EIP-712 signature; deterministic, so the same voucher always gets the same one. */
  sign(voucher: WithdrawalVoucher): Promise<string>;
  /** Sends a redemption paid by the platform; resolves with the transaction hash once the node accepted it. */
  redeem(voucher: WithdrawalVoucher, signature: string): Promise<string>;
  /** Waits until the transaction is `confirmations` deep and returns what it paid; throws RedemptionFailedError otherwise. */
  waitForRedemption(txHash: string, timeoutMs: number): Promise<Redemption>;
  /** Releases the connection; the service calls it when it shuts down. */
  close?(): void;
}
