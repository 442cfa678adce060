import { type JsonRpcSigner, Wallet, id } from 'ethers';
import {
  PayoutClient,
  VoucherRejectedError,
  WEBI,
  WebiTokenClient,
  type PayoutDomain,
  type WithdrawalVoucher,
  deployPayout,
  deployWebi,
  signWithdrawalVoucher,
  withdrawalDigest,
  withdrawalNonce,
} from '../src';
import type { Evm } from './evm';

/** Specs of WebiPayout; `chain` is the shared in-process EVM, started by the caller. */
export function describeWebiPayout(chain: () => Evm): void {
  describe('WebiPayout', () => {
    let evm: Evm;
    let owner: string;
    let platform: Wallet;
    let domain: PayoutDomain;
    let token: WebiTokenClient;
    let asOwner: PayoutClient;
    let asRelayer: PayoutClient;
    let deadline: bigint;
    const funded = 1_000n * WEBI;

    beforeAll(async () => {
      evm = chain();
      const [admin, ownerSigner, relayer] = evm.accounts as [JsonRpcSigner, JsonRpcSigner, JsonRpcSigner];
      owner = await ownerSigner.getAddress();
      platform = new Wallet(id('platform key of the payout spec'));
      const webi = await deployWebi(admin);
      const payout = await deployPayout(admin, { token: webi.address, platformSigner: platform.address });
      token = new WebiTokenClient(webi.address, admin);
      await token.grantMinter(await admin.getAddress());
      await token.mint(payout.address, funded);
      domain = { payoutContract: payout.address, chainId: evm.chainId };
      asOwner = new PayoutClient(payout.address, ownerSigner);
      asRelayer = new PayoutClient(payout.address, relayer);
      deadline = (await evm.latestTimestamp()) + 3600n;
    });

    const voucher = (withdrawalId: string, amount: bigint, overrides: Partial<WithdrawalVoucher> = {}): WithdrawalVoucher => ({
      owner,
      amount,
      nonce: withdrawalNonce(withdrawalId),
      deadline,
      ...overrides,
    });
    const payoutAddress = (): string => domain.payoutContract;

    it('signs the digest the contract computes', async () => {
      const v = voucher('w-digest', 1n);
      const onChain = (await asOwner.contract.getFunction('hashWithdrawal').staticCall(v)) as string;
      expect(withdrawalDigest(domain, v)).toBe(onChain);
    });

    it('pays exactly the amount once; a second redeem of the same voucher is rejected', async () => {
      const v = voucher('w-1', 12_345_678_901_234_567_890n);
      const signature = await signWithdrawalVoucher(platform, domain, v);
      const before = await token.balanceOf(owner);

      const txHash = await asOwner.redeem(v, signature);
      const redemption = await asOwner.waitForRedemption(txHash);

      expect(redemption).toMatchObject({ nonce: v.nonce, owner, amount: v.amount, txHash });
      expect((await token.balanceOf(owner)) - before).toBe(v.amount);
      expect(await token.balanceOf(payoutAddress())).toBe(funded - v.amount);
      expect(await asOwner.isRedeemed(v.nonce)).toBe(true);

      await expect(asOwner.redeem(v, signature)).rejects.toMatchObject({ reason: 'VoucherAlreadyRedeemed', nonce: v.nonce });
      expect((await token.balanceOf(owner)) - before).toBe(v.amount);
    });

    it('pays the owner when someone else submits the voucher', async () => {
      const v = voucher('w-relayed', 5n * WEBI);
      const before = await token.balanceOf(owner);
      const relayer = await (asRelayer.contract.runner as JsonRpcSigner).getAddress();

      const redemption = await asRelayer.waitForRedemption(await asRelayer.redeem(v, await signWithdrawalVoucher(platform, domain, v)));

      expect(redemption.owner).toBe(owner);
      expect((await token.balanceOf(owner)) - before).toBe(5n * WEBI);
      expect(await token.balanceOf(relayer)).toBe(0n);
    });

    it('rejects an expired voucher and accepts one at its deadline (inclusive)', async () => {
      const now = await evm.latestTimestamp();
      const expired = voucher('w-expired', 1n, { deadline: now });
      await expect(asOwner.redeem(expired, await signWithdrawalVoucher(platform, domain, expired))).rejects.toMatchObject({
        reason: 'VoucherExpired',
      });

      const lastSecond = voucher('w-last-second', 1n, { deadline: now + 100n });
      await evm.setNextBlockTimestamp(now + 100n);
      await asOwner.waitForRedemption(await asOwner.redeem(lastSecond, await signWithdrawalVoucher(platform, domain, lastSecond)));
      expect(await asOwner.isRedeemed(expired.nonce)).toBe(false);
    });

    it('rejects a voucher signed by another key, or altered after signing', async () => {
      const v = voucher('w-forged', 7n * WEBI);
      const forged = await signWithdrawalVoucher(Wallet.createRandom(), domain, v);
      const error = await asOwner.redeem(v, forged).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(VoucherRejectedError);
      expect(error).toMatchObject({ reason: 'InvalidSigner' });

      const genuine = await signWithdrawalVoucher(platform, domain, v);
      await expect(asOwner.redeem({ ...v, amount: 70n * WEBI }, genuine)).rejects.toMatchObject({ reason: 'InvalidSigner' });
      await expect(asOwner.redeem(v, await signWithdrawalVoucher(platform, { ...domain, chainId: 1n }, v))).rejects.toMatchObject({
        reason: 'InvalidSigner',
      });
      expect(await asOwner.isRedeemed(v.nonce)).toBe(false);
    });

    it('after a signer rotation honours only the new key, and a spent nonce stays spent', async () => {
      const admin = new PayoutClient(payoutAddress(), evm.accounts[0]!);
      const next = new Wallet(id('rotated platform key'));
      const pending = voucher('w-pending-at-rotation', 3n);
      const spent = voucher('w-1', 12_345_678_901_234_567_890n);

      await (await admin.contract.getFunction('setSigner').send(next.address)).wait();

      expect(await admin.platformSigner()).toBe(next.address);
      await expect(asOwner.redeem(pending, await signWithdrawalVoucher(platform, domain, pending))).rejects.toMatchObject({ reason: 'InvalidSigner' });
      await asOwner.waitForRedemption(await asOwner.redeem(pending, await signWithdrawalVoucher(next, domain, pending)));
      await expect(asOwner.redeem(spent, await signWithdrawalVoucher(next, domain, spent))).rejects.toMatchObject({
        reason: 'VoucherAlreadyRedeemed',
      });
      await (await admin.contract.getFunction('setSigner').send(platform.address)).wait();
    });

    describe('reconciliation by nonce', () => {
      it('finds nothing for an unspent nonce', async () => {
        expect(await asOwner.findRedemption(withdrawalNonce('w-never-sent'))).toBeNull();
        expect(await asOwner.isRedeemed(withdrawalNonce('w-never-sent'))).toBe(false);
      });

      it('finds the redeeming transaction and counts its confirmations', async () => {
        const v = voucher('w-reconcile', 2n * WEBI);
        const txHash = await asRelayer.redeem(v, await signWithdrawalVoucher(platform, domain, v));
        await evm.mine(5);

        // A service that crashed after signing knows only the withdrawal id.
        const found = await asOwner.findRedemption(withdrawalNonce('w-reconcile'));

        expect(found).toMatchObject({ nonce: v.nonce, owner, amount: v.amount, txHash, confirmations: 6 });
        expect(await asOwner.isRedeemed(v.nonce, found!.blockNumber - 1)).toBe(false);
        expect(await asOwner.isRedeemed(v.nonce, found!.blockNumber)).toBe(true);
        await expect(asOwner.waitForRedemption(txHash, 6)).resolves.toEqual(found);
      });

      it('reports a transaction that lost the race to another redemption of the same voucher', async () => {
        const v = voucher('w-raced', 1n * WEBI);
        const signature = await signWithdrawalVoucher(platform, domain, v);
        const before = await token.balanceOf(owner);
        const winner = await asRelayer.redeem(v, signature);
        // Sent without a gas estimate, as a transaction already in flight when the winner landed.
        const loser = await asOwner.contract.getFunction('redeem').send(v, signature, { gasLimit: 200_000n });

        await expect(asOwner.waitForRedemption(loser.hash)).rejects.toMatchObject({ name: 'RedemptionFailedError', reason: 'reverted' });
        expect(await asOwner.findRedemption(v.nonce)).toMatchObject({ txHash: winner, amount: v.amount });
        expect((await token.balanceOf(owner)) - before).toBe(v.amount);
      });

      it('settles as paid, or as expired, only once that is as deep as the confirmations asked', async () => {
        const paid = voucher('w-settle-paid', 1n);
        expect(await asOwner.settle(paid, 3)).toEqual({ status: 'open', redemption: null });
        await asOwner.redeem(paid, await signWithdrawalVoucher(platform, domain, paid));
        expect(await asOwner.settle(paid, 3)).toMatchObject({ status: 'open', redemption: { confirmations: 1 } });
        await evm.mine(2);
        expect(await asOwner.settle(paid, 3)).toMatchObject({ status: 'paid', redemption: { nonce: paid.nonce, confirmations: 3 } });

        const now = await evm.latestTimestamp();
        const lapsing = voucher('w-settle-expired', 1n, { deadline: now + 10n });
        await evm.setNextBlockTimestamp(now + 11n);
        await evm.mine(1);
        // Past the deadline at the head, but that block could still be reorganised away.
        expect(await asOwner.settle(lapsing, 3)).toEqual({ status: 'open', redemption: null });
        await evm.mine(2);
        expect(await asOwner.settle(lapsing, 3)).toMatchObject({ status: 'expired' });
      });

      it('loses a redemption that a reorg drops, and the voucher pays once on the new chain', async () => {
        const v = voucher('w-reorged', 4n * WEBI);
        const signature = await signWithdrawalVoucher(platform, domain, v);
        const forkPoint = await evm.snapshot();
        const before = await token.balanceOf(owner);
        await asOwner.waitForRedemption(await asOwner.redeem(v, signature));
        expect(await asOwner.findRedemption(v.nonce)).toMatchObject({ confirmations: 1 });

        await evm.revert(forkPoint);

        expect(await asOwner.findRedemption(v.nonce)).toBeNull();
        expect(await token.balanceOf(owner)).toBe(before);
        const again = await asRelayer.waitForRedemption(await asRelayer.redeem(v, signature));
        expect(again.amount).toBe(v.amount);
        await expect(asOwner.redeem(v, signature)).rejects.toMatchObject({ reason: 'VoucherAlreadyRedeemed' });
        expect((await token.balanceOf(owner)) - before).toBe(v.amount);
      });
    });

    it('derives the same nonce and signature for the same withdrawal', async () => {
      const v = voucher('w-deterministic', 9n);
      expect(withdrawalNonce('w-deterministic')).toBe(v.nonce);
      expect(await signWithdrawalVoucher(platform, domain, v)).toBe(await signWithdrawalVoucher(platform, domain, { ...v }));
      await expect(signWithdrawalVoucher(platform, domain, { ...v, amount: 0n })).rejects.toThrow(RangeError);
      await expect(signWithdrawalVoucher(platform, domain, { ...v, amount: -1n })).rejects.toThrow(RangeError);
    });
  });
}
