import { keccak256 } from 'ethers';

/**
 * One event of a store's global log exactly as the store holds it: the columns of a stored row,
 * `data` and `metadata` as the stored JSON text (not re-serialised, not upcast), so the leaf
 * follows the bytes on disk and a schema upcaster added later does not change it.
 */
export interface AuditRecord {
  /** Global log position, from 1 (a safe integer). */
  readonly position: number;
  /** Stream id. */
  readonly streamId: string;
  /** Revision within the stream, from 0. */
  readonly revision: number;
  /** Stored event type. */
  readonly type: string;
  /** Schema version the payload was written in. */
  readonly schemaVersion: number;
  /** Payload, the stored JSON text. */
  readonly data: string;
  /** Metadata (event id, correlation, causation, time, trace), the stored JSON text. */
  readonly metadata: string;
  /** When the store recorded the event (store clock, ISO-8601), as stored. */
  readonly recordedAt: string;
}

/** Prefix of a leaf's preimage; interior nodes use 0x01 (RFC 6962), so a node can never pass as a leaf. */
const LEAF_PREFIX = 0x00;
const UTF8 = new TextEncoder();

/**
 * The canonical bytes of a record (docs/chain.md, "Leaf encoding"):
 *
 * `0x00 ‖ u64(position) ‖ u32(revision) ‖ u32(schemaVersion) ‖ str(streamId) ‖ str(type) ‖
 * str(data) ‖ str(metadata) ‖ str(recordedAt)`, integers big-endian, `str(s) = u32(byte length) ‖
 * UTF-8(s)`. Every field has a fixed width or a length prefix, so two different records never
 * encode to the same bytes.
 */
export function encodeLeaf(record: AuditRecord): Uint8Array {
  if (!Number.isSafeInteger(record.position) || record.position < 0) throw new RangeError(`position must be a non-negative safe integer, got ${record.position}`);
  for (const [name, v] of [['revision', record.revision], ['schemaVersion', record.schemaVersion]] as const) {
    if (!Number.isInteger(v) || v < 0 || v > 0xffff_ffff) throw new RangeError(`${name} must be a 32-bit unsigned integer, got ${v}`);
  }
  const strings = [record.streamId, record.type, record.data, record.metadata, record.recordedAt].map((s) => UTF8.encode(s));
  const out = new Uint8Array(1 + 8 + 4 + 4 + strings.reduce((n, s) => n + 4 + s.length, 0));
  const view = new DataView(out.buffer);
  out[0] = LEAF_PREFIX;
  view.setBigUint64(1, BigInt(record.position));
  view.setUint32(9, record.revision);
  view.setUint32(13, record.schemaVersion);
  let at = 17;
  for (const s of strings) {
    view.setUint32(at, s.length);
    out.set(s, at + 4);
    at += 4 + s.length;
  }
  return out;
}

/** keccak256 of {@link encodeLeaf}: the record's leaf in the segment's Merkle tree, 0x-hex. */
export function leafHash(record: AuditRecord): string {
  return keccak256(encodeLeaf(record));
}
