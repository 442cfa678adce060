import { TensorFormatError, agreeWithin, concatItems, decodeTensor, encodeTensor, float32Tensor, sha256, sliceItems, toFloat64Array } from '../src';

const t = float32Tensor([3, 2], [1, 2, 3, 4, 5, 6]);

describe('WEAT tensors', () => {
  it('round-trips through the container', () => {
    const back = decodeTensor(encodeTensor(t));
    expect(back.dims).toEqual([3, 2]);
    expect([...toFloat64Array(back)]).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('slices items and concatenates them back to the same bytes', () => {
    const parts = [sliceItems(t, 0, 1), sliceItems(t, 1, 3)];
    expect(parts[1]!.dims).toEqual([2, 2]);
    expect(sha256(encodeTensor(concatItems(parts)))).toBe(sha256(encodeTensor(t)));
  });

  it('refuses malformed containers with a reason', () => {
    const good = encodeTensor(t);
    expect(() => decodeTensor(good.subarray(0, good.length - 1))).toThrow(/needs 24 data bytes, container has 23/);
    expect(() => decodeTensor(new Uint8Array([1, 2, 3]))).toThrow(TensorFormatError);
    const badType = good.slice();
    badType[5] = 99;
    expect(() => decodeTensor(badType)).toThrow(/unknown dtype/);
    expect(() => sliceItems(t, 2, 5)).toThrow(/cannot take items \[2, 5\) of 3/);
    expect(() => concatItems([t, float32Tensor([1, 3], [1, 2, 3])])).toThrow(/cannot concatenate/);
  });

  it('compares float outputs within a tolerance, ints exactly', () => {
    const near = float32Tensor([3, 2], [1, 2, 3, 4, 5, 6.000001]);
    const far = float32Tensor([3, 2], [1, 2, 3, 4, 5, 6.1]);
    expect(agreeWithin(t, near, 1e-5)).toBe(true);
    expect(agreeWithin(t, far, 1e-5)).toBe(false);
    expect(agreeWithin(t, near, 0)).toBe(false);
    expect(agreeWithin(t, float32Tensor([2, 3], [1, 2, 3, 4, 5, 6]), 1)).toBe(false);
  });
});
