import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EVENT_FAMILIES, type EventFamily } from '@weai/contracts';
import { type EventStoreConfig, eventStoreConfigFromEnv } from '@weai/eventstore';
import { natsServersFromEnv } from '@weai/messaging';

/** Everything a service reads from its environment, validated once at boot. */
export interface ServiceConfig {
  /** Service name, e.g. "nodes"; names its files, consumers and connection. */
  readonly name: string;
  /** The event family this service owns and relays, if it writes events. */
  readonly family: EventFamily | undefined;
  readonly natsServers: string[];
  readonly eventStore: EventStoreConfig;
  /** `sqlite:<path>` or `postgres://…` for the service's read models. */
  readonly readModelUrl: string;
  /** JetStream replicas for the streams this service creates (3 on a cluster). */
  readonly streamReplicas: number;
  /** How long boot waits for NATS and JetStream to answer before the process exits (`WEAI_BOOT_WAIT_MS`). */
  readonly bootWaitMs: number;
}

/** A configuration error names the variable and what is wrong with it. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Reads a service's configuration; fails fast with a message naming the variable. */
export function serviceConfigFromEnv(env: NodeJS.ProcessEnv, name: string, family?: EventFamily): ServiceConfig {
  if (family && !EVENT_FAMILIES.includes(family)) throw new ConfigError(`unknown event family ${family}`);
  const dataDir = env['WEAI_DATA_DIR'] ?? '.data';
  const readModelUrl = env['READ_MODEL_URL'] ?? `sqlite:${join(dataDir, `${name}-read.sqlite`)}`;
  if (!/^(sqlite:.+|postgres(ql)?:\/\/.+)$/.test(readModelUrl)) {
    throw new ConfigError(`READ_MODEL_URL must be sqlite:<path> or postgres://…, got ${JSON.stringify(readModelUrl)}`);
  }
  const replicas = streamReplicasFromEnv(env);
  const bootWaitMs = bootWaitMsFromEnv(env);
  let eventStore: EventStoreConfig;
  try {
    eventStore = eventStoreConfigFromEnv(env, join(dataDir, `${name}.sqlite`));
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
  return { name, family, natsServers: natsServersFromEnv(env), eventStore, readModelUrl, streamReplicas: replicas, bootWaitMs };
}

/**
 * Reads a file holding a secret (a private key): refused, naming the variable and the path but
 * never the content, when it cannot be read or when group or others may read it (on POSIX).
 */
export function readSecretFile(path: string, variable: string): string {
  return readSecretBytes(path, variable).toString('utf8');
}

/** `readSecretFile` for binary secrets (a raw key): the same checks, the bytes as stored. */
export function readSecretBytes(path: string, variable: string): Buffer {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    throw new ConfigError(`${variable}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  try {
    const mode = fstatSync(fd).mode & 0o777;
    if (process.platform !== 'win32' && (mode & 0o077) !== 0) throw new ConfigError(`${variable}: ${path} is readable by group or others (mode ${mode.toString(8)}); chmod 600 it`);
    return readFileSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * `WEAI_STREAM_REPLICAS`: copies JetStream keeps of every stream, bucket and object store a
 * process creates (1 on one server, 3 on a 3-node cluster); default 1.
 */
export function streamReplicasFromEnv(env: NodeJS.ProcessEnv): number {
  const replicas = Number(env['WEAI_STREAM_REPLICAS'] ?? 1);
  if (![1, 3, 5].includes(replicas)) throw new ConfigError(`WEAI_STREAM_REPLICAS must be 1, 3 or 5, got ${env['WEAI_STREAM_REPLICAS']}`);
  return replicas;
}

/** Default of `WEAI_BOOT_WAIT_MS`: two minutes, longer than a cluster takes to elect its leaders. */
export const DEFAULT_BOOT_WAIT_MS = 120_000;

/**
 * `WEAI_BOOT_WAIT_MS`: how long a service waits at boot for NATS to accept its connection and
 * JetStream to answer (servers still starting, a cluster electing its meta leader) before it
 * exits; default 120000, 0 tries once.
 */
export function bootWaitMsFromEnv(env: NodeJS.ProcessEnv): number {
  const raw = env['WEAI_BOOT_WAIT_MS'];
  if (raw === undefined || raw.trim() === '') return DEFAULT_BOOT_WAIT_MS;
  const ms = Number(raw.trim());
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(ms)) {
    throw new ConfigError(`WEAI_BOOT_WAIT_MS must be a whole number of milliseconds, 0 or more, got ${JSON.stringify(raw)}`);
  }
  return ms;
}
