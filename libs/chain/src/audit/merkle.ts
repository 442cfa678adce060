import { getBytes, hexlify, keccak256 } from 'ethers';

/** Root of a segment without events (keccak256 of nothing, as RFC 6962 defines the empty tree). */
export const EMPTY_ROOT = keccak256(new Uint8Array(0));

const NODE_PREFIX = 0x01;

/**
 * The Merkle tree hash of RFC 6962 (Certificate Transparency, section 2.1) with keccak256:
 * one leaf is its own root; n > 1 leaves split at k, the largest power of two below n, and
 * `root = keccak256(0x01 ‖ root(first k) ‖ root(rest))`. The tree is fixed by the number of
 * leaves alone (no duplicated last leaf, as Bitcoin's has), so appending a copy of the last
 * event cannot give the same root.
 *
 * @param leaves 0x-hex 32-byte leaf hashes ({@link leafHash}), in log order.
 */
export function merkleRoot(leaves: readonly string[]): string {
  if (leaves.length === 0) return EMPTY_ROOT;
  const bytes = leaves.map((leaf) => {
    const b = getBytes(leaf);
    if (b.length !== 32) throw new RangeError(`a leaf is 32 bytes, got ${b.length}`);
    return b;
  });
  return hexlify(rootOf(bytes, 0, bytes.length));
}

const buffer = new Uint8Array(65);

function rootOf(leaves: readonly Uint8Array[], from: number, to: number): Uint8Array {
  const n = to - from;
  if (n === 1) return leaves[from]!;
  let k = 1;
  while (k * 2 < n) k *= 2;
  const left = rootOf(leaves, from, from + k);
  const right = rootOf(leaves, from + k, to);
  buffer[0] = NODE_PREFIX;
  buffer.set(left, 1);
  buffer.set(right, 33);
  return getBytes(keccak256(buffer));
}
