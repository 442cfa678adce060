import { type Contract, type ContractRunner, type EventLog, type Provider, isError } from 'ethers';
import { attach } from './deploy';
import {
  REJECTIONS,
  type Redemption,
  RedemptionFailedError,
  type VoucherRejection,
  VoucherRejectedError,
  type VoucherSettlement,
  toRedemption,
} from './redemption';
import { decodeRevert } from './reverts';
import type { WithdrawalVoucher } from './voucher';

/**
 * Redeems vouchers and answers, from chain state alone, whether and where a voucher was paid.
 * Reads need a provider; {@link PayoutClient.redeem} needs a signer (owner or relayer).
 */
export class PayoutClient {
  /** The ethers contract, for calls this client does not wrap. */
  readonly contract: Contract;

  /** @param address the `WebiPayout` address. @param runner a Signer (to redeem) or a Provider. */
  constructor(address: string, runner: ContractRunner) {
    this.contract = attach('WebiPayout', address, runner);
  }

  private get provider(): Provider {
    const provider = this.contract.runner?.provider;
    if (!provider) throw new Error('PayoutClient needs a runner connected to a provider');
    return provider;
  }

  /**
   * Submits the voucher and returns the transaction hash as soon as the node accepted it, so the
   * caller can store it before waiting. Being sent is not being paid: confirm with
   * {@link PayoutClient.waitForRedemption} or {@link PayoutClient.findRedemption}.
   *
   * @throws VoucherRejectedError when the node's simulation reverts (expired, used, bad signer).
   */
  async redeem(voucher: WithdrawalVoucher, signature: string): Promise<string> {
    try {
      const tx = await this.contract.getFunction('redeem').send(
        { owner: voucher.owner, amount: voucher.amount, nonce: voucher.nonce, deadline: voucher.deadline },
        signature,
      );
      return tx.hash;
    } catch (error) {
      const revert = decodeRevert(error, this.contract.interface);
      if (revert && REJECTIONS.includes(revert.name)) {
        throw new VoucherRejectedError(revert.name as VoucherRejection, voucher.nonce, { cause: error });
      }
      throw error;
    }
  }

  /** Whether the nonce is spent in the state at `blockTag` (default: latest, not yet final). */
  async isRedeemed(nonce: bigint, blockTag: number | 'latest' | 'safe' | 'finalized' = 'latest'): Promise<boolean> {
    return ((await this.contract.getFunction('redeemedAtBlock').staticCall(nonce, { blockTag })) as bigint) !== 0n;
  }

  /**
   * Finds the `Redeemed` log of a nonce on the current chain, or null when the nonce is unspent.
   * Reads one block only (the contract records where), so it works on RPCs that cap log ranges.
   * Judge finality by `confirmations`: a result with few may vanish in a reorg.
   */
  async findRedemption(nonce: bigint): Promise<Redemption | null> {
    const head = await this.provider.getBlockNumber();
    const at = (await this.contract.getFunction('redeemedAtBlock').staticCall(nonce, { blockTag: head })) as bigint;
    if (at === 0n) return null;
    const logs = await this.contract.queryFilter(this.contract.getEvent('Redeemed')(nonce), Number(at), Number(at));
    const log = logs.find((l): l is EventLog => 'args' in l);
    // The state said "spent in block `at`" but that block has no such log: it was replaced between
    // the two reads. Refuse rather than answer "unspent"; a retry sees a consistent chain.
    if (!log) throw new Error(`Redeemed log of nonce ${nonce} not found in block ${at}; chain reorganised, retry`);
    return toRedemption(log.args, log, head);
  }

  /**
   * Settles a voucher from chain state alone (see {@link VoucherSettlement}), for reconciliation
   * after a crash between signing and confirming, or after a reorg.
   *
   * @param confirmations depth the caller trusts not to be reorganised (e.g. 12 on Ethereum).
   */
  async settle(voucher: Pick<WithdrawalVoucher, 'nonce' | 'deadline'>, confirmations: number): Promise<VoucherSettlement> {
    if (!Number.isSafeInteger(confirmations) || confirmations < 1) throw new RangeError('confirmations must be a positive integer');
    const redemption = await this.findRedemption(voucher.nonce);
    if (redemption && redemption.confirmations >= confirmations) return { status: 'paid', redemption };
    if (redemption) return { status: 'open', redemption };
    const settledBlock = (await this.provider.getBlockNumber()) - confirmations + 1;
    const block = settledBlock >= 0 ? await this.provider.getBlock(settledBlock) : null;
    // Every later block has a timestamp at least this one's, so past the deadline here means the
    // contract will refuse the voucher on every chain that keeps this block.
    if (block && BigInt(block.timestamp) > voucher.deadline && !(await this.isRedeemed(voucher.nonce, settledBlock))) {
      return { status: 'expired', checkedAtBlock: settledBlock };
    }
    return { status: 'open', redemption: null };
  }

  /**
   * Waits until `txHash` has `confirmations` confirmations and returns what it paid. A transaction
   * that is dropped, never mined, waits forever unless `timeoutMs` is given; after a timeout,
   * {@link PayoutClient.settle} says whether the voucher was paid some other way.
   *
   * @throws RedemptionFailedError when the transaction reverted on chain (e.g. another one redeemed
   * the same voucher first; {@link PayoutClient.findRedemption} tells which), is not a redemption
   * on this contract, or did not confirm within `timeoutMs`.
   */
  async waitForRedemption(txHash: string, confirmations = 1, timeoutMs?: number): Promise<Redemption> {
    let receipt;
    try {
      receipt = await this.provider.waitForTransaction(txHash, confirmations, timeoutMs);
    } catch (error) {
      if (isError(error, 'TIMEOUT')) throw new RedemptionFailedError(txHash, 'timeout', { cause: error });
      throw error;
    }
    if (!receipt) throw new RedemptionFailedError(txHash, 'timeout');
    if (receipt.status !== 1) throw new RedemptionFailedError(txHash, 'reverted');
    const address = await this.contract.getAddress();
    for (const raw of receipt.logs) {
      if (raw.address.toLowerCase() !== address.toLowerCase()) continue;
      const parsed = this.contract.interface.parseLog(raw);
      if (parsed?.name !== 'Redeemed') continue;
      const at = { transactionHash: txHash, blockNumber: receipt.blockNumber, blockHash: receipt.blockHash };
      return toRedemption(parsed.args, at, await this.provider.getBlockNumber());
    }
    throw new RedemptionFailedError(txHash, 'not-a-redemption');
  }

  /** The platform signer address the contract accepts now. */
  async platformSigner(): Promise<string> {
    return (await this.contract.getFunction('signer').staticCall()) as string;
  }
}
