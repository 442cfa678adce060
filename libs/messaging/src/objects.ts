import { Objm, type ObjectStore, setSha256Backend } from '@nats-io/obj';
import type { JetStreamClient } from '@nats-io/jetstream';
import { OBJECT_BUCKET } from '@weai/contracts';
import { sha256 } from '@weai/tensors';

// The object store verifies chunks with SHA-256; its default is pure JavaScript, which cost the
// agent and the scheduler seconds of CPU per job (bench:jobs). Node's native hash is exact and fast.
// Jest's module sandbox cannot run the dynamic import the native backend loads with, so test
// processes keep the default (the services and agents they start run with the native one).
if (!process.env['JEST_WORKER_ID']) setSha256Backend('native');

/** An object whose bytes do not hash to its name: corrupt or forged; never used. */
export class ObjectIntegrityError extends Error {
  override readonly name = 'ObjectIntegrityError';
}

/**
 * Content-addressed objects in the JetStream object store: the name of an object is the SHA-256
 * of its bytes, so a put is idempotent and every get is verified.
 */
export class ContentStore {
  private constructor(private readonly bucket: ObjectStore) {}

  /** Opens (creating if needed) the `weai-objects` bucket. */
  static async open(js: JetStreamClient, replicas = 1): Promise<ContentStore> {
    const bucket = await new Objm(js).create(OBJECT_BUCKET, { replicas });
    return new ContentStore(bucket);
  }

  /** Stores bytes under their SHA-256 and returns it; storing the same bytes again does nothing. */
  async put(bytes: Uint8Array): Promise<string> {
    const hash = sha256(bytes);
    const existing = await this.bucket.info(hash);
    if (!existing || existing.deleted) await this.bucket.putBlob({ name: hash }, bytes);
    return hash;
  }

  /** Whether an object exists. */
  async has(hash: string): Promise<boolean> {
    const info = await this.bucket.info(hash);
    return !!info && !info.deleted;
  }

  /** Size of an object in bytes, or undefined when it does not exist. */
  async size(hash: string): Promise<number | undefined> {
    const info = await this.bucket.info(hash);
    return info && !info.deleted ? info.size : undefined;
  }

  /** The bytes of an object, verified against its name; undefined when it does not exist. */
  async get(hash: string): Promise<Uint8Array | undefined> {
    const bytes = await this.bucket.getBlob(hash);
    if (!bytes) return undefined;
    const actual = sha256(bytes);
    if (actual !== hash) throw new ObjectIntegrityError(`object ${hash} holds bytes hashing to ${actual}`);
    return bytes;
  }
}
