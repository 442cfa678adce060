import { type JsonRpcProvider, Wallet, id } from 'ethers';
import {
  type ChainConfig,
  PayoutClient,
  WEBI,
  WebiTokenClient,
  chainConfigFromEnv,
  connectChain,
  deployPayout,
  deployWebi,
  signWithdrawalVoucher,
  withdrawalNonce,
} from '../src';
import { type Evm, serveRpc } from './evm';

/** Specs of the production path: configuration, and the clients over HTTP JSON-RPC. */
export function describeChainConfig(chain: () => Evm): void {
  describe('chain configuration and the JSON-RPC path', () => {
    const valid = { CHAIN_RPC_URL: 'http://127.0.0.1:8545', CHAIN_ID: '31337' };

    it('reads and validates the environment, naming the bad variable', () => {
      const payout = '0x5FbDB2315678afecb367f032d93F642f64180aa3';
      expect(chainConfigFromEnv({ ...valid, WEBI_PAYOUT_ADDRESS: payout.toLowerCase() })).toEqual({
        rpcUrl: valid.CHAIN_RPC_URL,
        chainId: 31337n,
        confirmations: 12,
        tokenAddress: undefined,
        payoutAddress: payout,
        auditAnchorAddress: undefined,
      } satisfies ChainConfig);
      expect(() => chainConfigFromEnv({})).toThrow('CHAIN_RPC_URL is required');
      expect(() => chainConfigFromEnv({ ...valid, CHAIN_ID: '0x7a69' })).toThrow(/^CHAIN_ID/);
      expect(() => chainConfigFromEnv({ ...valid, CHAIN_CONFIRMATIONS: '0' })).toThrow(/^CHAIN_CONFIRMATIONS/);
      expect(() => chainConfigFromEnv({ ...valid, WEBI_PAYOUT_ADDRESS: '0x5FBDB2315678afecb367f032d93F642f64180aa3' })).toThrow(
        /^WEBI_PAYOUT_ADDRESS/,
      );
    });

    describe('over HTTP', () => {
      let rpc: Awaited<ReturnType<typeof serveRpc>>;
      let provider: JsonRpcProvider;

      beforeAll(async () => {
        rpc = await serveRpc(chain().node);
        const config = chainConfigFromEnv({ CHAIN_RPC_URL: rpc.url, CHAIN_ID: String(chain().chainId) });
        provider = await connectChain(config, { pollingIntervalMs: 50 });
      });
      afterAll(async () => {
        provider.destroy();
        await rpc.close();
      });

      it('refuses a node that serves another chain, or none', async () => {
        await expect(connectChain({ rpcUrl: rpc.url, chainId: 1n })).rejects.toThrow('serves chain 31337, CHAIN_ID says 1');
        const gone = await serveRpc(chain().node);
        await gone.close();
        await expect(connectChain({ rpcUrl: gone.url, chainId: 31337n })).rejects.toThrow(/^CHAIN_RPC_URL .* did not answer/);
      });

      it('redeems, rejects a replay and reconciles through a JsonRpcProvider', async () => {
        const [admin, owner] = chain().accounts;
        const platform = new Wallet(id('platform key of the rpc spec'));
        const webi = await deployWebi(admin!);
        const payout = await deployPayout(admin!, { token: webi.address, platformSigner: platform.address });
        const token = new WebiTokenClient(webi.address, admin!);
        await token.grantMinter(await admin!.getAddress());
        await token.mint(payout.address, 10n * WEBI);
        const ownerWallet = Wallet.createRandom(provider);
        await (await owner!.sendTransaction({ to: ownerWallet.address, value: 10n ** 18n })).wait();
        const client = new PayoutClient(payout.address, ownerWallet);
        const domain = { payoutContract: payout.address, chainId: chain().chainId };
        const deadline = BigInt((await provider.getBlock('latest'))!.timestamp) + 600n;
        const voucher = { owner: ownerWallet.address, amount: 2n * WEBI, nonce: withdrawalNonce('w-rpc'), deadline };
        const signature = await signWithdrawalVoucher(platform, domain, voucher);

        const txHash = await client.redeem(voucher, signature);
        await client.waitForRedemption(txHash);

        await expect(client.redeem(voucher, signature)).rejects.toMatchObject({ reason: 'VoucherAlreadyRedeemed' });
        expect(await client.findRedemption(voucher.nonce)).toMatchObject({ txHash, amount: 2n * WEBI });
        expect(await token.balanceOf(ownerWallet.address)).toBe(2n * WEBI);
      });
    });
  });
}
