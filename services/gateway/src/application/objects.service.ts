import { type ContentStore, ObjectIntegrityError } from '@weai/messaging';
import { ApiError } from '../http/api-error';

/** A stored object: its content address and size. */
export interface StoredObject {
  readonly hash: string;
  readonly size: number;
}

/** Models, datasets and outputs in the content-addressed object store. */
export class ObjectsService {
  constructor(private readonly objects: ContentStore) {}

  /** Stores bytes under their SHA-256; storing the same bytes twice stores them once. */
  async upload(bytes: Uint8Array): Promise<StoredObject> {
    if (bytes.byteLength === 0) throw new ApiError(400, 'bad-request', 'the body is empty: send the model (ONNX) or dataset (WEAT) bytes');
    return { hash: await this.objects.put(bytes), size: bytes.byteLength };
  }

  /** The bytes of an object, verified against their hash. */
  async download(hash: string): Promise<Uint8Array> {
    let bytes: Uint8Array | undefined;
    try {
      bytes = await this.objects.get(hash);
    } catch (error) {
      if (error instanceof ObjectIntegrityError) throw new ApiError(502, 'object.corrupt', `object ${hash} failed its integrity check; it is not served`);
      throw error;
    }
    if (!bytes) throw new ApiError(404, 'object.not-found', `no object ${hash}`);
    return bytes;
  }
}
