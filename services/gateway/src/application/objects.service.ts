import { objectKeyId } from '@weai/contracts';
import { type ContentStore, type KeyResolver, ObjectIntegrityError, RpcError, SealError } from '@weai/messaging';
import { ApiError } from '../http/api-error';
import type { ObjectGrants } from './object-grants';

/** A stored object: its content address and size. */
export interface StoredObject {
  readonly hash: string;
  readonly size: number;
}

/** An object this partner may not read answers exactly as a missing one, and is recorded as a refusal. */
export function objectNotFound(hash: string, message = `no object ${hash}`): ApiError {
  const error = new ApiError(404, 'object.not-found', message);
  error.refusal = { resource: `object:${hash}` };
  return error;
}

/** A key the security service did not give: the object exists but cannot be served now (never a key in the message). */
function keysUnavailable(error: unknown): never {
  if (error instanceof RpcError) throw new ApiError(503, 'object.keys-unavailable', 'the object store key service is unavailable; try again later');
  throw error;
}

/** Models, datasets and outputs in the content-addressed object store, each readable by the partners granted it. */
export class ObjectsService {
  constructor(
    private readonly objects: ContentStore,
    private readonly grants: ObjectGrants,
    /** Data keys (from the security service): when given, uploads are sealed under their object key (`o1:<sha256>`). */
    private readonly keys?: KeyResolver,
  ) {}

  /** Stores bytes under their SHA-256 (storing the same bytes twice stores them once) and grants them to the uploader. */
  async upload(partnerId: string, bytes: Uint8Array): Promise<StoredObject> {
    if (bytes.byteLength === 0) throw new ApiError(400, 'bad-request', 'the body is empty: send the model (ONNX) or dataset (WEAT) bytes');
    const keys = this.keys;
    const hash = keys ? await this.objects.putSealed(bytes, (address) => keys(objectKeyId(address))).catch(keysUnavailable) : await this.objects.put(bytes);
    await this.grants.grant(partnerId, hash);
    return { hash, size: bytes.byteLength };
  }

  /** The bytes of an object this partner may read, verified against their hash. */
  async downloadAs(partnerId: string, hash: string): Promise<Uint8Array> {
    if (!(await this.grants.has(partnerId, hash))) throw objectNotFound(hash);
    return this.download(hash);
  }

  /** The bytes of an object, verified against their hash (the caller has checked the partner may read it). */
  async download(hash: string): Promise<Uint8Array> {
    let bytes: Uint8Array | undefined;
    try {
      // With keys, sealed objects are opened (and plaintext ones from before sealing still verified); without, a sealed one is refused.
      bytes = this.keys ? await this.objects.getOpened(hash, this.keys) : await this.objects.get(hash);
    } catch (error) {
      if (error instanceof ObjectIntegrityError || error instanceof SealError) throw new ApiError(502, 'object.corrupt', `object ${hash} failed its integrity check; it is not served`);
      return keysUnavailable(error);
    }
    if (!bytes) throw new ApiError(404, 'object.not-found', `no object ${hash}`);
    return bytes;
  }
}
