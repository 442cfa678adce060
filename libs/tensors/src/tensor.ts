import { createHash } from 'node:crypto';

/**
 * The WE-AI tensor container, `WEAT` v1: one dense tensor, little-endian.
 *
 *   bytes 0-3  "WEAT"      magic
 *   byte  4    1           version
 *   byte  5    dtype       1 float32, 2 int32, 3 int64, 4 uint8, 5 float64
 *   byte  6    rank        1..8
 *   byte  7    0           reserved
 *   then       rank × u32  dimensions; dimension 0 counts the items of a dataset
 *   then       the elements, row-major
 *
 * Datasets, shard inputs and outputs all use it, so a shard is a slice along dimension 0 and
 * the integrated output is the concatenation of the shard outputs in order.
 */
export const DTYPES = { float32: 1, int32: 2, int64: 3, uint8: 4, float64: 5 } as const;
export type DType = keyof typeof DTYPES;
const BYTES: Record<DType, number> = { float32: 4, int32: 4, int64: 8, uint8: 1, float64: 8 };
const BY_CODE = new Map<number, DType>(Object.entries(DTYPES).map(([k, v]) => [v, k as DType]));

/** A decoded tensor: the element bytes are a view into the container, not a copy. */
export interface Tensor {
  readonly dtype: DType;
  readonly dims: readonly number[];
  /** Raw little-endian element bytes. */
  readonly data: Uint8Array;
}

/** A container that is not a valid WEAT tensor. */
export class TensorFormatError extends Error {
  override readonly name = 'TensorFormatError';
}

const MAGIC = [0x57, 0x45, 0x41, 0x54];

/** Elements of a tensor of these dimensions. */
export function elementCount(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

/** Encodes a tensor into a WEAT container. */
export function encodeTensor(t: Tensor): Uint8Array {
  if (t.dims.length < 1 || t.dims.length > 8) throw new TensorFormatError(`rank must be 1 to 8, got ${t.dims.length}`);
  if (t.data.byteLength !== elementCount(t.dims) * BYTES[t.dtype]) {
    throw new TensorFormatError(`data has ${t.data.byteLength} bytes; ${t.dtype}[${t.dims.join(',')}] needs ${elementCount(t.dims) * BYTES[t.dtype]}`);
  }
  const header = 8 + 4 * t.dims.length;
  const out = new Uint8Array(header + t.data.byteLength);
  out.set(MAGIC, 0);
  out[4] = 1;
  out[5] = DTYPES[t.dtype];
  out[6] = t.dims.length;
  const view = new DataView(out.buffer);
  t.dims.forEach((d, i) => view.setUint32(8 + 4 * i, d, true));
  out.set(t.data, header);
  return out;
}

/** Decodes a WEAT container, checking every field; throws TensorFormatError saying what is wrong. */
export function decodeTensor(bytes: Uint8Array): Tensor {
  if (bytes.byteLength < 12 || MAGIC.some((m, i) => bytes[i] !== m)) throw new TensorFormatError('not a WEAT tensor (bad magic)');
  if (bytes[4] !== 1) throw new TensorFormatError(`unsupported WEAT version ${bytes[4]}`);
  const dtype = BY_CODE.get(bytes[5]!);
  if (!dtype) throw new TensorFormatError(`unknown dtype code ${bytes[5]}`);
  const rank = bytes[6]!;
  if (rank < 1 || rank > 8) throw new TensorFormatError(`rank must be 1 to 8, got ${rank}`);
  const header = 8 + 4 * rank;
  if (bytes.byteLength < header) throw new TensorFormatError('truncated header');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(8 + 4 * i, true));
  const expected = elementCount(dims) * BYTES[dtype];
  if (bytes.byteLength - header !== expected) {
    throw new TensorFormatError(`${dtype}[${dims.join(',')}] needs ${expected} data bytes, container has ${bytes.byteLength - header}`);
  }
  return { dtype, dims, data: bytes.subarray(header) };
}

/** Items `[start, end)` along dimension 0, as a tensor sharing the data. */
export function sliceItems(t: Tensor, start: number, end: number): Tensor {
  const items = t.dims[0]!;
  if (!(Number.isInteger(start) && Number.isInteger(end) && 0 <= start && start < end && end <= items)) {
    throw new TensorFormatError(`cannot take items [${start}, ${end}) of ${items}`);
  }
  const itemBytes = (elementCount(t.dims) / items) * BYTES[t.dtype];
  return { dtype: t.dtype, dims: [end - start, ...t.dims.slice(1)], data: t.data.subarray(start * itemBytes, end * itemBytes) };
}

/** Concatenates tensors of one dtype and item shape along dimension 0. */
export function concatItems(parts: readonly Tensor[]): Tensor {
  const first = parts[0];
  if (!first) throw new TensorFormatError('nothing to concatenate');
  const itemShape = first.dims.slice(1).join(',');
  let items = 0;
  let bytes = 0;
  for (const p of parts) {
    if (p.dtype !== first.dtype || p.dims.slice(1).join(',') !== itemShape) {
      throw new TensorFormatError(`cannot concatenate ${p.dtype}[${p.dims.join(',')}] after ${first.dtype}[${first.dims.join(',')}]`);
    }
    items += p.dims[0]!;
    bytes += p.data.byteLength;
  }
  const data = new Uint8Array(bytes);
  let at = 0;
  for (const p of parts) {
    data.set(p.data, at);
    at += p.data.byteLength;
  }
  return { dtype: first.dtype, dims: [items, ...first.dims.slice(1)], data };
}

/** The SHA-256 content address of some bytes, lowercase hex. */
export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** A float32 tensor from numbers (tests, examples). */
export function float32Tensor(dims: readonly number[], values: ArrayLike<number>): Tensor {
  const arr = Float32Array.from(values);
  return { dtype: 'float32', dims, data: new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength) };
}

/** The elements of a float tensor as numbers (copying, so alignment never matters). */
export function toFloat64Array(t: Tensor): Float64Array {
  const view = new DataView(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  const n = elementCount(t.dims);
  const out = new Float64Array(n);
  switch (t.dtype) {
    case 'float32':
      for (let i = 0; i < n; i++) out[i] = view.getFloat32(i * 4, true);
      return out;
    case 'float64':
      for (let i = 0; i < n; i++) out[i] = view.getFloat64(i * 8, true);
      return out;
    case 'int32':
      for (let i = 0; i < n; i++) out[i] = view.getInt32(i * 4, true);
      return out;
    case 'int64':
      for (let i = 0; i < n; i++) out[i] = Number(view.getBigInt64(i * 8, true));
      return out;
    case 'uint8':
      for (let i = 0; i < n; i++) out[i] = view.getUint8(i);
      return out;
    default: {
      const never: never = t.dtype;
      throw new TensorFormatError(`unknown dtype ${String(never)}`);
    }
  }
}

/**
 * Whether two outputs agree within a tolerance suited to floating point on different hardware:
 * same dtype and dimensions, and every element within `tolerance` absolutely or relatively.
 */
export function agreeWithin(a: Tensor, b: Tensor, tolerance: number): boolean {
  if (a.dtype !== b.dtype || a.dims.join(',') !== b.dims.join(',')) return false;
  if (tolerance === 0 || a.dtype === 'int32' || a.dtype === 'int64' || a.dtype === 'uint8') return Buffer.compare(a.data, b.data) === 0;
  const x = toFloat64Array(a);
  const y = toFloat64Array(b);
  for (let i = 0; i < x.length; i++) {
    const d = Math.abs(x[i]! - y[i]!);
    if (!(d <= tolerance || d <= tolerance * Math.max(Math.abs(x[i]!), Math.abs(y[i]!)))) return false;
  }
  return true;
}
