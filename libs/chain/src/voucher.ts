import { type Signer, type TypedDataDomain, type TypedDataField, TypedDataEncoder, getAddress, id, verifyTypedData } from 'ethers';

/**
 * A withdrawal the platform approved, as `WebiPayout` checks it. All numbers are bigint: WEBI has
 * 18 decimals, far past what a JavaScript number holds exactly.
 */
export interface WithdrawalVoucher {
  /** Address that receives the WEBI, whoever submits the voucher. */
  readonly owner: string;
  /** Base units (10^-18 WEBI); 1 WEBI is `10n ** 18n`. */
  readonly amount: bigint;
  /** Unique per payout contract (not per owner); the voucher's identity on chain. */
  readonly nonce: bigint;
  /** Last block timestamp (unix seconds, inclusive) at which the voucher may be redeemed. */
  readonly deadline: bigint;
}

/** Which contract on which chain a voucher is for; both are in the EIP-712 domain, so a voucher
 * cannot be replayed on another chain or against another payout deployment. */
export interface PayoutDomain {
  /** Address of the `WebiPayout` contract. */
  readonly payoutContract: string;
  /** EIP-155 chain id of the network the contract is on. */
  readonly chainId: bigint;
}

/** EIP-712 types of the voucher; must match `WITHDRAWAL_TYPEHASH` in `WebiPayout.sol`. */
export const WITHDRAWAL_TYPES: Record<string, TypedDataField[]> = {
  Withdrawal: [
    { name: 'owner', type: 'address' },
    { name: 'amount', type: 'uint256' },
    { name: 'nonce', type: 'uint256' },
    { name: 'deadline', type: 'uint256' },
  ],
};

const UINT256_MAX = 2n ** 256n - 1n;

/** The EIP-712 domain `WebiPayout` computes (name `WebiPayout`, version `1`). */
export function payoutTypedDataDomain(domain: PayoutDomain): TypedDataDomain {
  return { name: 'WebiPayout', version: '1', chainId: domain.chainId, verifyingContract: getAddress(domain.payoutContract) };
}

/**
 * Derives a voucher nonce from the rewards service's own withdrawal id. Deterministic on purpose:
 * after a crash the service re-derives the same nonce (and, ECDSA signing in ethers being
 * deterministic, the same signature), so a withdrawal can never be issued under two nonces.
 */
export function withdrawalNonce(withdrawalId: string): bigint {
  if (withdrawalId.length === 0) throw new Error('withdrawalId must not be empty');
  return BigInt(id(`weai.withdrawal:${withdrawalId}`));
}

function checkVoucher(voucher: WithdrawalVoucher): Record<string, string | bigint> {
  for (const field of ['amount', 'nonce', 'deadline'] as const) {
    const value = voucher[field];
    if (typeof value !== 'bigint' || value < 0n || value > UINT256_MAX) {
      throw new RangeError(`voucher.${field} must be a bigint in uint256 range, got ${String(value)}`);
    }
  }
  if (voucher.amount === 0n) throw new RangeError('voucher.amount must be positive');
  return { owner: getAddress(voucher.owner), amount: voucher.amount, nonce: voucher.nonce, deadline: voucher.deadline };
}

/**
 * Signs a voucher with the platform key (EIP-712 `signTypedData`). The contract accepts it while
 * `platformWallet`'s address is its `signer`.
 *
 * @returns the 65-byte signature, 0x-hex.
 */
export async function signWithdrawalVoucher(platformWallet: Signer, domain: PayoutDomain, voucher: WithdrawalVoucher): Promise<string> {
  return platformWallet.signTypedData(payoutTypedDataDomain(domain), WITHDRAWAL_TYPES, checkVoucher(voucher));
}

/** The EIP-712 digest of a voucher; equals `WebiPayout.hashWithdrawal(voucher)`. */
export function withdrawalDigest(domain: PayoutDomain, voucher: WithdrawalVoucher): string {
  return TypedDataEncoder.hash(payoutTypedDataDomain(domain), WITHDRAWAL_TYPES, checkVoucher(voucher));
}

/** The address that signed `signature` over `voucher`, to check a voucher before sending it. */
export function recoverVoucherSigner(domain: PayoutDomain, voucher: WithdrawalVoucher, signature: string): string {
  return verifyTypedData(payoutTypedDataDomain(domain), WITHDRAWAL_TYPES, checkVoucher(voucher), signature);
}
