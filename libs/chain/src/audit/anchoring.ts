import type { AuditAnchorClient, AnchoredSegment } from '../anchor-client';
import { SegmentNotContiguousError } from '../anchor-client';
import { leafHash } from './leaf';
import type { AuditLogSource } from './log';
import type { LeafManifests } from './manifest';
import { merkleRoot } from './merkle';

/** Options of {@link anchorPending}. */
export interface AnchorOptions {
  /** Most events per segment (a smaller last segment anchors the tail); at least 1. */
  readonly segmentSize: number;
  /** Where each segment's leaves are kept before it is sent; none: no manifests. */
  readonly manifests?: LeafManifests;
  /** Longest wait for one anchoring transaction to be mined; default 120 s. */
  readonly receiptTimeoutMs?: number;
  /** Stop after this many segments; default: until the head of the log. */
  readonly maxSegments?: number;
  /** Called after each segment is mined. */
  readonly onAnchored?: (segment: AnchoredSegment, events: number, txHash: string) => void;
}

/**
 * Anchors the log from where the chain says the next segment starts up to the current head, in
 * segments of at most `segmentSize` events. The start always comes from the contract, never from
 * local state, so a run that crashed anywhere resumes without a gap or an overlap: the contract
 * refuses both, and a segment refused because another run anchored it first (or a transaction
 * of a crashed run was mined meanwhile) only makes this run re-read the start.
 *
 * @returns the segments this run anchored.
 */
export async function anchorPending(log: AuditLogSource, client: AuditAnchorClient, options: AnchorOptions): Promise<AnchoredSegment[]> {
  if (!Number.isSafeInteger(options.segmentSize) || options.segmentSize < 1) throw new RangeError(`segmentSize must be a positive integer, got ${options.segmentSize}`);
  const provider = client.contract.runner?.provider;
  if (!provider) throw new Error('the AuditAnchorClient needs a signer connected to a provider to anchor');
  const anchored: AnchoredSegment[] = [];
  let refusals = 0;
  while (anchored.length < (options.maxSegments ?? Infinity)) {
    const next = await client.nextPosition();
    const records = await log.readAfter(Number(next) - 1, options.segmentSize);
    if (records.length === 0) break;
    const leaves = records.map((r) => ({ position: r.position, leaf: leafHash(r) }));
    const segment: AnchoredSegment = {
      fromPosition: next,
      toPosition: BigInt(records[records.length - 1]!.position),
      merkleRoot: merkleRoot(leaves.map((l) => l.leaf)),
    };
    await options.manifests?.write(segment, leaves);
    let txHash: string;
    try {
      txHash = await client.anchor(segment);
    } catch (error) {
      if (!(error instanceof SegmentNotContiguousError) || ++refusals > 10) throw error;
      continue;
    }
    const receipt = await provider.waitForTransaction(txHash, 1, options.receiptTimeoutMs ?? 120_000);
    // A revert here means another anchor landed first (both passed simulation): re-read the start.
    if (!receipt || receipt.status !== 1) {
      if (++refusals > 10) throw new Error(`anchoring transaction ${txHash} ${receipt ? 'reverted' : 'was not mined'} repeatedly`);
      continue;
    }
    anchored.push(segment);
    options.onAnchored?.(segment, records.length, txHash);
  }
  return anchored;
}
