import type { ObjectResult, ObjectStore } from '@nats-io/obj';
import { sha256 } from '@weai/tensors';
import { ContentStore, OBJECT_READ_ATTEMPTS, ObjectReadError } from '../src/objects';

/**
 * A stalled object read cannot be produced on demand against a real server (it takes a server dying
 * mid-read at the wrong moment), so the bucket here is a stand-in whose reads stall as that one
 * did: the stream delivers nothing and never ends. Real reads are covered by the int tests.
 */
describe('ContentStore: an object read that stalls is started again', () => {
  const bytes = new TextEncoder().encode('the shard input');
  const hash = sha256(bytes);

  function bucketStalling(times: number): { bucket: ObjectStore; reads: () => number } {
    let reads = 0;
    const get = async (): Promise<ObjectResult> => {
      reads++;
      const stall = reads <= times;
      return {
        error: Promise.resolve(null),
        data: new ReadableStream<Uint8Array>({
          start(c) {
            if (stall) return; // nothing, ever
            c.enqueue(bytes.subarray(0, 4));
            c.enqueue(bytes.subarray(4));
            c.close();
          },
        }),
      } as unknown as ObjectResult;
    };
    return { bucket: { get } as unknown as ObjectStore, reads: () => reads };
  }

  it('given a read that stalls once, when the object is read, then the second read returns the verified bytes', async () => {
    const { bucket, reads } = bucketStalling(1);
    await expect(ContentStore.on(bucket, 50).get(hash)).resolves.toEqual(bytes);
    expect(reads()).toBe(2);
  });

  it('given reads that always stall, when the object is read, then it fails with a clear error after bounded attempts', async () => {
    const { bucket, reads } = bucketStalling(Infinity);
    await expect(ContentStore.on(bucket, 20).get(hash)).rejects.toThrow(ObjectReadError);
    await expect(ContentStore.on(bucket, 20).get(hash)).rejects.toThrow(/no data for 20 ms, 4 times/);
    expect(reads()).toBe(2 * OBJECT_READ_ATTEMPTS);
  });
});
