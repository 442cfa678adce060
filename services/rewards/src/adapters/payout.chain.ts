import { Wallet } from 'ethers';
import { type ChainConfig, type ConnectOptions, PayoutClient, type WithdrawalVoucher, connectChain, signWithdrawalVoucher } from '@weai/chain';
import { ConfigError } from '@weai/runtime';
import type { PayoutChain } from '../application/payout-chain';

/** The payout chain of a running service, with what it opened. */
export interface ConnectedPayoutChain extends PayoutChain {
  /** Address of the platform signing key. */
  readonly signerAddress: string;
  /** Address of the wallet that sends redemptions and pays the gas. */
  readonly relayerAddress: string;
}

/**
 * Connects to the configured chain (`connectChain` checks the chain id) and checks at boot that
 * the signing key is the one `WebiPayout` honours, so a wrong key fails here rather than on
 * the first withdrawal. The keys stay inside the wallets; nothing here logs them.
 */
export async function connectPayoutChain(
  config: ChainConfig,
  keys: { readonly signerKey: string; readonly relayerKey?: string },
  options: ConnectOptions = {},
): Promise<ConnectedPayoutChain> {
  const payoutContract = config.payoutAddress;
  if (!payoutContract) throw new ConfigError('WEBI_PAYOUT_ADDRESS is required by the rewards service');
  const provider = await connectChain(config, options);
  try {
    const signer = new Wallet(keys.signerKey);
    const relayer = new Wallet(keys.relayerKey ?? keys.signerKey, provider);
    const reader = new PayoutClient(payoutContract, provider);
    const sender = new PayoutClient(payoutContract, relayer);
    const honoured = await reader.platformSigner();
    if (honoured !== signer.address) throw new ConfigError(`REWARDS_SIGNER_KEY is the key of ${signer.address}, but the payout contract honours ${honoured}`);
    const domain = { payoutContract, chainId: config.chainId };
    // One wallet sends every redemption: sends go one at a time so its account nonces stay in order.
    let sending: Promise<unknown> = Promise.resolve();
    return {
      confirmations: config.confirmations,
      signerAddress: signer.address,
      relayerAddress: relayer.address,
      settle: (voucher) => reader.settle(voucher, config.confirmations),
      sign: (voucher: WithdrawalVoucher) => signWithdrawalVoucher(signer, domain, voucher),
      redeem: (voucher, signature) => {
        const sent = sending.catch(() => undefined).then(() => sender.redeem(voucher, signature));
        sending = sent;
        return sent;
      },
      waitForRedemption: (txHash, timeoutMs) => reader.waitForRedemption(txHash, config.confirmations, timeoutMs),
      close: () => provider.destroy(),
    };
  } catch (error) {
    provider.destroy();
    throw error;
  }
}
