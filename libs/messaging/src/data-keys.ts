import type { NatsConnection } from '@nats-io/transport-node';
import { type KeyReply, keyRequestSubject } from '@weai/contracts';
import { requestJson } from './rpc';
import { type DataKey, type KeyResolver, SealError } from './sealed';

/**
 * Asks the security service for data keys on the requester's own subject
 * (`weai.rpc.security.keys.<requester>`: its bus permissions allow that one). Keys are held in
 * memory only; never log them. A refusal is an RpcError with code `keys.refused`.
 */
export class DataKeyClient {
  constructor(
    private readonly nc: NatsConnection,
    /** The requester's own principal id (node id, or service name). */
    readonly requester: string,
    private readonly timeoutMs = 5000,
  ) {}

  /** Fetches keys; a node names the stream sequence of the work item it holds the lease of. */
  async fetch(keyIds: readonly string[], workItem?: number): Promise<Map<string, DataKey>> {
    const reply = await requestJson<KeyReply>(this.nc, keyRequestSubject(this.requester), { keyIds, ...(workItem !== undefined ? { workItem } : {}) }, this.timeoutMs);
    return new Map(reply.keys.map((k) => [k.id, { id: k.id, key: new Uint8Array(Buffer.from(k.key, 'base64')) }]));
  }

  /** A resolver for a service that may hold any key: each key fetched once and kept (bounded). */
  cached(max = 10_000): KeyResolver & { key: KeyResolver } {
    const keys = new Map<string, Promise<DataKey>>();
    const resolve = (id: string): Promise<DataKey> => {
      let key = keys.get(id);
      if (!key) {
        key = this.fetch([id]).then((m) => m.get(id) ?? Promise.reject(new SealError(`the security service did not release ${id}`)));
        key.catch(() => keys.delete(id));
        if (keys.size >= max) keys.delete(keys.keys().next().value!);
        keys.set(id, key);
      }
      return key;
    };
    return Object.assign(resolve, { key: resolve });
  }

  /**
   * The keys of one leased work item, fetched together on first need (a shard whose data is not
   * sealed never asks). `used()` tells whether they were fetched: a shard that read sealed data
   * seals its output.
   */
  forLease(keyIds: readonly string[], workItem: number): LeaseKeys {
    let fetched: Promise<Map<string, DataKey>> | undefined;
    const key = async (id: string): Promise<DataKey> => {
      fetched ??= this.fetch(keyIds, workItem);
      const k = (await fetched).get(id);
      if (!k) throw new SealError(`${id} is not a key of work item ${workItem}`);
      return k;
    };
    return { key, used: () => fetched !== undefined };
  }
}

/** The keys of one leased work item. */
export interface LeaseKeys {
  /** The key named `id`, fetching the item's keys on first call. */
  readonly key: KeyResolver;
  /** Whether the keys have been asked for. */
  used(): boolean;
}

/**
 * Whether a service seals what it writes (`WEAI_SEALING`: `on` or `off`, default `off`). Sealing
 * needs the security service with a key-encryption key and, to mean anything against bus
 * clients, NATS authentication (the requester id in the key subject is bound to the connection
 * only there): see docs/security.md, "Data at rest".
 */
export function sealingFromEnv(env: NodeJS.ProcessEnv): boolean {
  const raw = (env['WEAI_SEALING'] ?? '').trim().toLowerCase();
  if (raw === '' || raw === 'off') return false;
  if (raw === 'on') return true;
  throw Object.assign(new Error(`WEAI_SEALING must be "on" or "off", got ${JSON.stringify(env['WEAI_SEALING'])}`), { name: 'ConfigError' });
}
