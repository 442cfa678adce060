import { Objm, type ObjectStore, setSha256Backend } from '@nats-io/obj';
import type { JetStreamClient } from '@nats-io/jetstream';
import { OBJECT_BUCKET, objectKeyId } from '@weai/contracts';
import { sha256 } from '@weai/tensors';
import { type DataKey, type KeyResolver, isSealed, openPayload, sealPayload, sealedKeyId } from './sealed';

// The object store verifies chunks with SHA-256; its default is pure JavaScript, which cost the
// agent and the scheduler seconds of CPU per job (bench:jobs). Node's native hash is exact and fast.
// Jest's module sandbox cannot run the dynamic import the native backend loads with, so test
// processes keep the default (the services and agents they start run with the native one).
if (!process.env['JEST_WORKER_ID']) setSha256Backend('native');

/**
 * A read of an object that receives no chunk for this long is abandoned and started again. The
 * object store reads through a push consumer whose idle heartbeat is 30 s: when the server serving
 * it dies mid-read, the read waited a minute or more (or, on nats-server 2.9 with a replica
 * catching up, for good), and with it the scheduler's dispatch or an agent's shard.
 */
export const OBJECT_READ_IDLE_MS = 10_000;
/** Reads of one object, each abandoned after OBJECT_READ_IDLE_MS without a chunk, before giving up. */
export const OBJECT_READ_ATTEMPTS = 4;

/** An object whose bytes could not be read (the store stalled on every attempt). */
export class ObjectReadError extends Error {
  override readonly name = 'ObjectReadError';
}

/** An object whose bytes do not hash to its name: corrupt or forged; never used. */
export class ObjectIntegrityError extends Error {
  override readonly name = 'ObjectIntegrityError';
}

/**
 * Content-addressed objects in the JetStream object store: the name of an object is the SHA-256
 * of its bytes, so a put is idempotent and every get is verified.
 */
export class ContentStore {
  private constructor(
    private readonly bucket: ObjectStore,
    /** Set on a sealing view (`withKeys`): puts are sealed under each object's own key, gets opened. */
    private readonly keys?: KeyResolver,
    private readonly idleMs = OBJECT_READ_IDLE_MS,
  ) {}

  /** A store on a bucket already opened; `idleMs` as OBJECT_READ_IDLE_MS (tests shorten it). */
  static on(bucket: ObjectStore, idleMs = OBJECT_READ_IDLE_MS): ContentStore {
    return new ContentStore(bucket, undefined, idleMs);
  }

  /**
   * A view of the same bucket for a service that holds data keys: `put` seals under the object's
   * own key (`o1:<sha256>`), `get` opens sealed objects (and still reads unsealed ones, verified),
   * and `sealInline`/`openInline` do the same for payloads carried in messages.
   */
  withKeys(keys: KeyResolver): ContentStore {
    return new ContentStore(this.bucket, keys, this.idleMs);
  }

  /** Whether this view seals what it writes. */
  get sealing(): boolean {
    return this.keys !== undefined;
  }

  /** Bytes to carry inline in a message: sealed under the object key of `hash` on a sealing view, unchanged otherwise. */
  async sealInline(bytes: Uint8Array, hash: string): Promise<Uint8Array> {
    return this.keys ? sealPayload(bytes, hash, await this.keys(objectKeyId(hash))) : bytes;
  }

  /**
   * An inline payload that claims to hold the bytes named `hash`, opened when it is sealed (a
   * sealing view only; otherwise it is returned as it came). The caller verifies the hash.
   */
  async openInline(bytes: Uint8Array, hash: string): Promise<Uint8Array> {
    if (!this.keys || !isSealed(bytes) || sha256(bytes) === hash) return bytes;
    return openPayload(bytes, hash, await this.keys(sealedKeyId(bytes)));
  }

  /** Opens (creating if needed) the `weai-objects` bucket. */
  static async open(js: JetStreamClient, replicas = 1): Promise<ContentStore> {
    const bucket = await new Objm(js).create(OBJECT_BUCKET, { replicas });
    return new ContentStore(bucket);
  }

  /** Stores bytes under their SHA-256 and returns it (sealed on a sealing view); storing the same bytes again does nothing. */
  async put(bytes: Uint8Array): Promise<string> {
    const keys = this.keys;
    if (keys) return this.putSealed(bytes, (address) => keys(objectKeyId(address)));
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

  /** The bytes of an object (opened on a sealing view), verified against its name; undefined when it does not exist. */
  async get(hash: string): Promise<Uint8Array | undefined> {
    if (this.keys) return this.getOpened(hash, this.keys);
    const bytes = await this.readBlob(hash);
    if (!bytes) return undefined;
    const actual = sha256(bytes);
    if (actual !== hash) {
      if (isSealed(bytes)) throw new ObjectIntegrityError(`object ${hash} is sealed under key ${sealedKeyId(bytes)}: read it with getOpened`);
      throw new ObjectIntegrityError(`object ${hash} holds bytes hashing to ${actual}`);
    }
    return bytes;
  }

  /**
   * Stores `plaintext` sealed under `key` (AES-256-GCM, see sealed.ts), named by the plaintext's
   * SHA-256 as an unsealed put would be, so that hashes in events keep their meaning. The name
   * reveals that two objects hold the same bytes to whoever may list the bucket. When an object of
   * that name exists already, nothing is written: it stays under the key it was first sealed with.
   * `key` may be a function of the address (an object's own key, `o1:<sha256>`).
   */
  async putSealed(plaintext: Uint8Array, key: DataKey | ((address: string) => Promise<DataKey>)): Promise<string> {
    const hash = sha256(plaintext);
    const existing = await this.bucket.info(hash);
    if (!existing || existing.deleted) await this.bucket.putBlob({ name: hash }, sealPayload(plaintext, hash, typeof key === 'function' ? await key(hash) : key));
    return hash;
  }

  /**
   * The plaintext of an object, sealed or not: a sealed one is opened with the key its header
   * names (from `keys`, which may refuse), and either way the plaintext is verified against the
   * name. Undefined when it does not exist. Throws SealError or ObjectIntegrityError.
   */
  async getOpened(hash: string, keys: KeyResolver): Promise<Uint8Array | undefined> {
    const bytes = await this.readBlob(hash);
    if (!bytes) return undefined;
    if (sha256(bytes) === hash) return bytes; // stored unsealed (before sealing was switched on)
    if (!isSealed(bytes)) throw new ObjectIntegrityError(`object ${hash} holds bytes that neither hash to its name nor are sealed`);
    const plaintext = openPayload(bytes, hash, await keys(sealedKeyId(bytes)));
    const actual = sha256(plaintext);
    if (actual !== hash) throw new ObjectIntegrityError(`sealed object ${hash} opens to bytes hashing to ${actual}`);
    return plaintext;
  }

  /**
   * An object's bytes as stored, or null when it does not exist. A read that stalls (no chunk for
   * `idleMs`) is cancelled and started again, up to OBJECT_READ_ATTEMPTS times; the object store
   * checks the digest of what it delivers, and the callers check the hash.
   */
  private async readBlob(hash: string): Promise<Uint8Array | null> {
    for (let attempt = 1; ; attempt++) {
      const result = await this.bucket.get(hash);
      if (!result) return null;
      result.error.catch(() => undefined); // a read abandoned below may still fail later: not unhandled
      const reader = result.data.getReader();
      const chunks: Uint8Array[] = [];
      let size = 0;
      let stalled = false;
      let timer: NodeJS.Timeout | undefined;
      const arm = () => {
        clearTimeout(timer);
        timer = setTimeout(() => {
          stalled = true;
          void reader.cancel().catch(() => undefined);
        }, this.idleMs);
      };
      try {
        arm();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          chunks.push(value);
          size += value.byteLength;
          arm();
        }
      } catch (error) {
        if (!stalled) throw error;
      } finally {
        clearTimeout(timer);
      }
      if (!stalled) {
        const failure = await result.error;
        if (failure) throw failure;
        const bytes = new Uint8Array(size);
        let at = 0;
        for (const c of chunks) {
          bytes.set(c, at);
          at += c.byteLength;
        }
        return bytes;
      }
      if (attempt >= OBJECT_READ_ATTEMPTS) throw new ObjectReadError(`object ${hash}: no data for ${this.idleMs} ms, ${attempt} times (is a NATS server down?)`);
    }
  }

  /** The stored bytes as they are (ciphertext for a sealed object), unverified: for audits and tests. */
  async getRaw(hash: string): Promise<Uint8Array | undefined> {
    return (await this.readBlob(hash)) ?? undefined;
  }
}
