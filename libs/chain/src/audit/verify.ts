import type { AuditAnchorClient, AnchoredSegment } from '../anchor-client';
import { type AuditRecord, leafHash } from './leaf';
import { type AuditLogSource, readRange } from './log';
import type { LeafManifests } from './manifest';
import { merkleRoot } from './merkle';

/** The range asked for is not (wholly) anchored; nothing was verified. */
export class RangeNotAnchoredError extends Error {
  override readonly name = 'RangeNotAnchoredError';
}

/** An event of the store that does not match what was anchored. */
export interface AuditMismatch {
  /** `altered`: the stored event differs; `extra`: the store holds an event that was not anchored; `missing`: an anchored event is gone. */
  readonly kind: 'altered' | 'extra' | 'missing';
  /** The stored event's position (for `missing`, the anchored event's). */
  readonly position: number;
  /** The stored event's stream and type; null for `missing`. */
  readonly streamId: string | null;
  readonly type: string | null;
  /** Index and range of the anchored segment. */
  readonly segmentIndex: bigint;
  readonly segment: AnchoredSegment;
}

/** A segment whose root differs but whose leaves are not available to name the event. */
export interface SegmentMismatch {
  readonly segmentIndex: bigint;
  readonly segment: AnchoredSegment;
  /** The root recomputed from the store. */
  readonly actualRoot: string;
  /** Why no event is named: no manifest, or one that does not hash to the anchored root. */
  readonly reason: string;
}

/** What {@link verifyRange} found. */
export type VerifyReport =
  | { readonly ok: true; readonly events: number; readonly segments: number; readonly fromPosition: bigint; readonly toPosition: bigint }
  | { readonly ok: false; readonly events: number; readonly segments: number; readonly mismatch: AuditMismatch | SegmentMismatch };

/** Options of {@link verifyRange}. */
export interface VerifyOptions {
  /** Leaves written at anchoring time, to name the event of a segment that does not match. */
  readonly manifests?: LeafManifests;
  /** Called after each segment checked (progress). */
  readonly onSegment?: (index: bigint, segment: AnchoredSegment, events: number) => void;
}

/** First anchored segment whose `toPosition` is at least `position` (binary search on chain). */
async function firstSegmentEndingAtOrAfter(client: AuditAnchorClient, count: bigint, position: bigint): Promise<bigint> {
  let lo = 0n;
  let hi = count - 1n;
  while (lo < hi) {
    const mid = (lo + hi) / 2n;
    if ((await client.segment(mid)).toPosition < position) lo = mid + 1n;
    else hi = mid;
  }
  return lo;
}

/**
 * Re-reads every anchored segment overlapping `[from, to]` from the store, recomputes its root
 * and compares it with the chain's. The first segment that differs ends the check: with its
 * manifest (authenticated by the anchored root) the first event that differs is named.
 *
 * @throws RangeNotAnchoredError when part of the range lies outside the anchored segments.
 */
export async function verifyRange(log: AuditLogSource, client: AuditAnchorClient, from: bigint, to: bigint, options: VerifyOptions = {}): Promise<VerifyReport> {
  if (from < 1n || to < from) throw new RangeError(`the range must satisfy 1 <= from <= to, got ${from}..${to}`);
  const count = await client.segmentCount();
  if (count === 0n) throw new RangeNotAnchoredError('nothing is anchored yet');
  const [first, last] = [await client.segment(0n), await client.segment(count - 1n)];
  if (from < first.fromPosition || to > last.toPosition) {
    throw new RangeNotAnchoredError(`positions ${from}..${to} are not all anchored: the anchored log is ${first.fromPosition}..${last.toPosition}`);
  }
  let events = 0;
  let segments = 0;
  let fromPosition: bigint | undefined;
  for (let i = await firstSegmentEndingAtOrAfter(client, count, from); i < count; i++) {
    const segment = await client.segment(i);
    if (segment.fromPosition > to) break;
    fromPosition ??= segment.fromPosition;
    const records = await readRange(log, Number(segment.fromPosition), Number(segment.toPosition));
    const leaves = records.map(leafHash);
    const actualRoot = merkleRoot(leaves);
    if (actualRoot !== segment.merkleRoot) {
      return { ok: false, events, segments, mismatch: await locate(i, segment, records, leaves, actualRoot, options.manifests) };
    }
    events += records.length;
    segments += 1;
    options.onSegment?.(i, segment, records.length);
    if (segment.toPosition >= to) return { ok: true, events, segments, fromPosition, toPosition: segment.toPosition };
  }
  throw new RangeNotAnchoredError(`positions up to ${to} are not anchored`);
}

async function locate(
  segmentIndex: bigint,
  segment: AnchoredSegment,
  records: readonly AuditRecord[],
  leaves: readonly string[],
  actualRoot: string,
  manifests: LeafManifests | undefined,
): Promise<AuditMismatch | SegmentMismatch> {
  const anchored = manifests ? await manifests.read(segment) : null;
  if (!anchored) return { segmentIndex, segment, actualRoot, reason: 'no leaf manifest for this segment' };
  if (merkleRoot(anchored.map((l) => l.leaf)) !== segment.merkleRoot) {
    return { segmentIndex, segment, actualRoot, reason: 'the leaf manifest does not hash to the anchored root' };
  }
  const n = Math.max(records.length, anchored.length);
  for (let k = 0; k < n; k++) {
    const record = records[k];
    const expected = anchored[k];
    if (record && expected && leaves[k] === expected.leaf) continue;
    if (!record) return { kind: 'missing', position: expected!.position, streamId: null, type: null, segmentIndex, segment };
    // An event whose position the anchor does not list at this index was inserted, or an anchored one deleted before it.
    const kind = !expected ? 'extra' : record.position < expected.position ? 'extra' : record.position > expected.position ? 'missing' : 'altered';
    return kind === 'missing'
      ? { kind, position: expected!.position, streamId: null, type: null, segmentIndex, segment }
      : { kind, position: record.position, streamId: record.streamId, type: record.type, segmentIndex, segment };
  }
  // Same leaves but a different root cannot happen; report the segment rather than claim success.
  return { segmentIndex, segment, actualRoot, reason: 'leaves match the manifest but the root differs' };
}
