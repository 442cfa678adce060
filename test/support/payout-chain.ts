/**
 * The chain side of a rewards test network: an in-process EVM chain in a child process with WEBI
 * and the payout contract deployed, the payout contract funded, the platform's signing key in a
 * 0600 file, and the environment the rewards service reads to use them.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type JsonRpcProvider, Wallet, parseEther } from 'ethers';
import { WEBI, WebiTokenClient, connectChain, deployPayout, deployWebi } from '@weai/chain';
import { type EvmChild, startEvmChild } from '../../services/rewards/test/support';

export interface PayoutChain {
  readonly evm: EvmChild;
  readonly provider: JsonRpcProvider;
  /** WEBI, as the chain's admin (minter). */
  readonly token: WebiTokenClient;
  /** A folder of the test's own, removed by `stop` (the key file lives there). */
  readonly dir: string;
  /** The rewards service's chain settings: one confirmation, 10^15 per million units, minimum 1. */
  readonly env: Record<string, string>;
  stop(): Promise<void>;
}

export async function startPayoutChain(name: string): Promise<PayoutChain> {
  const evm = await startEvmChild();
  const provider = await connectChain({ rpcUrl: evm.url, chainId: BigInt(evm.chainId) }, { pollingIntervalMs: 50 });
  const admin = await provider.getSigner(0);
  const platform = Wallet.createRandom();
  const webi = await deployWebi(admin);
  const payout = await deployPayout(admin, { token: webi.address, platformSigner: platform.address });
  const token = new WebiTokenClient(webi.address, admin);
  await token.grantMinter(await admin.getAddress());
  await token.mint(payout.address, 1_000_000n * WEBI);
  await (await admin.sendTransaction({ to: platform.address, value: parseEther('10') })).wait();
  await provider.send('evm_setIntervalMining', [100]);
  const dir = mkdtempSync(join(tmpdir(), `weai-${name}-`));
  const keyPath = join(dir, 'platform.key');
  writeFileSync(keyPath, `${platform.privateKey}\n`);
  chmodSync(keyPath, 0o600);
  return {
    evm,
    provider,
    token,
    dir,
    env: {
      CHAIN_RPC_URL: evm.url,
      CHAIN_ID: evm.chainId,
      CHAIN_CONFIRMATIONS: '1',
      WEBI_PAYOUT_ADDRESS: payout.address,
      REWARDS_RATE_PER_MILLION_UNITS: String(10n ** 15n),
      REWARDS_MIN_WITHDRAWAL: '1',
      REWARDS_SIGNER_KEY: keyPath,
    },
    async stop() {
      provider.destroy();
      await evm.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
