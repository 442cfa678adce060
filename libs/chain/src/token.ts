import { type Contract, type ContractRunner, id } from 'ethers';
import { attach } from './deploy';

/** `keccak256("MINTER_ROLE")`, the role `WebiToken.mint` requires. */
export const MINTER_ROLE = id('MINTER_ROLE');

/** WEBI has 18 decimals: 1 WEBI is this many base units. */
export const WEBI = 10n ** 18n;

/** Thin typed access to `WebiToken`; amounts are base units (bigint). */
export class WebiTokenClient {
  /** The ethers contract, for calls this client does not wrap. */
  readonly contract: Contract;

  /** @param address the `WebiToken` address. @param runner a Signer (to write) or a Provider. */
  constructor(address: string, runner: ContractRunner) {
    this.contract = attach('WebiToken', address, runner);
  }

  /** Grants MINTER_ROLE (the runner must be the admin); resolves when mined. */
  async grantMinter(minter: string): Promise<void> {
    await (await this.contract.getFunction('grantRole').send(MINTER_ROLE, minter)).wait();
  }

  /** Mints `amount` base units to `to` (the runner must be a minter); resolves when mined, with the tx hash. */
  async mint(to: string, amount: bigint): Promise<string> {
    const tx = await this.contract.getFunction('mint').send(to, amount);
    await tx.wait();
    return tx.hash;
  }

  /** Balance of `account`, base units. */
  async balanceOf(account: string): Promise<bigint> {
    return (await this.contract.getFunction('balanceOf').staticCall(account)) as bigint;
  }
}
