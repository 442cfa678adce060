import { type Interface, isError } from 'ethers';

/** A custom Solidity error a contract reverted with, decoded from its ABI. */
export interface DecodedRevert {
  /** Error name, e.g. `VoucherAlreadyRedeemed`. */
  readonly name: string;
  /** Decoded arguments, in declaration order. */
  readonly args: readonly unknown[];
}

/**
 * Decodes the custom error behind an ethers CALL_EXCEPTION (a failed estimate, call or mined
 * transaction), or returns null when `error` is something else (network, nonce, funds).
 */
export function decodeRevert(error: unknown, contractInterface: Interface): DecodedRevert | null {
  if (!isError(error, 'CALL_EXCEPTION')) return null;
  if (error.revert) return { name: error.revert.name, args: [...error.revert.args] };
  if (!error.data) return null;
  const parsed = contractInterface.parseError(error.data);
  return parsed ? { name: parsed.name, args: [...parsed.args] } : null;
}
