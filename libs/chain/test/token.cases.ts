import { MINTER_ROLE, WEBI, WebiTokenClient, decodeRevert, deployWebi } from '../src';
import type { Evm } from './evm';

/** Specs of WebiToken; `chain` is the shared in-process EVM, started by the caller. */
export function describeWebiToken(chain: () => Evm): void {
  describe('WebiToken', () => {
    let evm: Evm;
    let asAdmin: WebiTokenClient;

    beforeAll(async () => {
      evm = chain();
      asAdmin = new WebiTokenClient((await deployWebi(evm.accounts[0]!)).address, evm.accounts[0]!);
    });

    it('is WEBI with 18 decimals and no supply', async () => {
      const call = (name: string): Promise<unknown> => asAdmin.contract.getFunction(name).staticCall();
      expect([await call('symbol'), await call('decimals'), await call('totalSupply')]).toEqual(['WEBI', 18n, 0n]);
    });

    it('mints only for holders of MINTER_ROLE, which the admin grants', async () => {
      const holder = await evm.accounts[3]!.getAddress();
      const error = await asAdmin.mint(holder, WEBI).catch((e: unknown) => e);
      expect(decodeRevert(error, asAdmin.contract.interface)).toMatchObject({ name: 'AccessControlUnauthorizedAccount' });

      const minter = await evm.accounts[1]!.getAddress();
      await asAdmin.grantMinter(minter);
      await new WebiTokenClient(await asAdmin.contract.getAddress(), evm.accounts[1]!).mint(holder, 3n * WEBI);

      expect(await asAdmin.contract.getFunction('hasRole').staticCall(MINTER_ROLE, minter)).toBe(true);
      expect(await asAdmin.balanceOf(holder)).toBe(3n * WEBI);
    });
  });
}
