import { Contract, ContractFactory, type ContractRunner, type Signer } from 'ethers';
import { type ContractName, loadArtifact } from './artifacts';

/** A contract deployed by one of the `deploy*` helpers, mined. */
export interface Deployment {
  /** Checksummed contract address. */
  readonly address: string;
  /** Hash of the creation transaction. */
  readonly txHash: string;
  /** Block the creation transaction was mined in: the lowest block worth scanning for its logs. */
  readonly blockNumber: number;
}

/** Returns an ethers `Contract` for a deployed `name` at `address`, with the committed ABI. */
export function attach(name: ContractName, address: string, runner: ContractRunner): Contract {
  return new Contract(address, loadArtifact(name).abi as never[], runner);
}

async function deploy(name: ContractName, deployer: Signer, args: unknown[]): Promise<Deployment> {
  const { abi, bytecode } = loadArtifact(name);
  const contract = await new ContractFactory(abi as never[], bytecode, deployer).deploy(...args);
  const tx = contract.deploymentTransaction();
  const receipt = tx ? await tx.wait() : null;
  if (!tx || !receipt || receipt.status !== 1) throw new Error(`${name} deployment failed`);
  return { address: await contract.getAddress(), txHash: tx.hash, blockNumber: receipt.blockNumber };
}

/** Options of {@link deployWebi}. */
export interface DeployWebiOptions {
  /** Holder of DEFAULT_ADMIN_ROLE (grants MINTER_ROLE); defaults to the deployer. */
  readonly admin?: string;
}

/** Deploys `WebiToken`. Nobody can mint until the admin grants MINTER_ROLE. */
export async function deployWebi(deployer: Signer, options: DeployWebiOptions = {}): Promise<Deployment> {
  return deploy('WebiToken', deployer, [options.admin ?? (await deployer.getAddress())]);
}

/** Options of {@link deployPayout}. */
export interface DeployPayoutOptions {
  /** Address of the WEBI token the contract pays out. */
  readonly token: string;
  /** Address of the platform key whose vouchers the contract honours. */
  readonly platformSigner: string;
  /** Holder of DEFAULT_ADMIN_ROLE (rotates the signer); defaults to the deployer. */
  readonly admin?: string;
}

/** Deploys `WebiPayout`. It pays from its own WEBI balance: mint or transfer WEBI to it. */
export async function deployPayout(deployer: Signer, options: DeployPayoutOptions): Promise<Deployment> {
  const admin = options.admin ?? (await deployer.getAddress());
  return deploy('WebiPayout', deployer, [options.token, options.platformSigner, admin]);
}

/** Options of {@link deployAuditAnchor}. */
export interface DeployAuditAnchorOptions {
  /** Holder of OPERATOR_ROLE (may anchor); defaults to the deployer. */
  readonly operator?: string;
  /** Holder of DEFAULT_ADMIN_ROLE (grants OPERATOR_ROLE); defaults to the deployer. */
  readonly admin?: string;
  /** Log position the first segment must start at; defaults to 1n. */
  readonly firstPosition?: bigint;
}

/** Deploys `AuditAnchor`. */
export async function deployAuditAnchor(deployer: Signer, options: DeployAuditAnchorOptions = {}): Promise<Deployment> {
  const self = await deployer.getAddress();
  return deploy('AuditAnchor', deployer, [options.admin ?? self, options.operator ?? self, options.firstPosition ?? 1n]);
}
