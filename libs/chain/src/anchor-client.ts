import type { Contract, ContractRunner } from 'ethers';
import { attach } from './deploy';
import { decodeRevert } from './reverts';

/** One anchored segment of the event log: positions `fromPosition..toPosition`, both inclusive. */
export interface AnchoredSegment {
  /** First log position covered. */
  readonly fromPosition: bigint;
  /** Last log position covered. */
  readonly toPosition: bigint;
  /** Merkle root over the segment's events, 0x-hex bytes32. */
  readonly merkleRoot: string;
}

/**
 * The segment does not start right after the last anchored one (or ends before it starts);
 * nothing was sent. `expectedFrom` is where the next segment must start.
 */
export class SegmentNotContiguousError extends Error {
  /** @param segment the refused segment. @param expectedFrom where the next segment must start; null for an empty range. */
  constructor(
    readonly segment: AnchoredSegment,
    readonly expectedFrom: bigint | null,
    options?: ErrorOptions,
  ) {
    super(
      expectedFrom === null
        ? `segment ${segment.fromPosition}..${segment.toPosition} is empty`
        : `segment starts at ${segment.fromPosition}, the next position to anchor is ${expectedFrom}`,
      options,
    );
    this.name = 'SegmentNotContiguousError';
  }
}

/** Anchors event-log segments in `AuditAnchor` and reads them back. */
export class AuditAnchorClient {
  /** The ethers contract, for calls this client does not wrap. */
  readonly contract: Contract;

  /** @param address the `AuditAnchor` address. @param runner an operator Signer (to anchor) or a Provider. */
  constructor(address: string, runner: ContractRunner) {
    this.contract = attach('AuditAnchor', address, runner);
  }

  /**
   * Sends the segment and returns the transaction hash once the node accepted it.
   *
   * @throws SegmentNotContiguousError when the node's simulation refuses the range.
   */
  async anchor(segment: AnchoredSegment): Promise<string> {
    try {
      const tx = await this.contract.getFunction('anchor').send(segment.fromPosition, segment.toPosition, segment.merkleRoot);
      return tx.hash;
    } catch (error) {
      const revert = decodeRevert(error, this.contract.interface);
      if (revert?.name === 'NotContiguous') throw new SegmentNotContiguousError(segment, revert.args[0] as bigint, { cause: error });
      if (revert?.name === 'EmptyRange') throw new SegmentNotContiguousError(segment, null, { cause: error });
      throw error;
    }
  }

  /** Number of anchored segments. */
  async segmentCount(): Promise<bigint> {
    return (await this.contract.getFunction('segmentCount').staticCall()) as bigint;
  }

  /** The position the next segment must start at. */
  async nextPosition(): Promise<bigint> {
    return (await this.contract.getFunction('nextPosition').staticCall()) as bigint;
  }

  /** Segment `index` (0-based); rejects past the end. */
  async segment(index: bigint): Promise<AnchoredSegment> {
    const [fromPosition, toPosition, merkleRoot] = (await this.contract.getFunction('segment').staticCall(index)) as [bigint, bigint, string];
    return { fromPosition, toPosition, merkleRoot };
  }
}
