import { readFileSync, statSync } from 'node:fs';
import { connect, nkeyAuthenticator, type NatsConnection, type ConnectionOptions } from '@nats-io/transport-node';
import {
  DiscardPolicy,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type JetStreamClient,
  type JetStreamManager,
  type StreamConfig,
} from '@nats-io/jetstream';
import {
  EVENT_FAMILIES,
  PARKED_STREAM,
  RESULTS_STREAM,
  SHARDS_STREAM,
  TELEMETRY_STREAM,
  familySubjects,
  streamOfFamily,
} from '@weai/contracts';

/** A NATS connection with its JetStream client and manager. */
export interface Bus {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  close(): Promise<void>;
}

/** TLS and identity of a bus connection: each optional; an empty string counts as unset. */
export interface BusSecuritySettings {
  /** PEM file of the CA that signed the server's certificate; TLS is then required and verified. */
  readonly caFile?: string | undefined;
  /** File holding this identity's nkey seed (`SU…`), issued by the security service; must be 0600. */
  readonly seedFile?: string | undefined;
  /** The identity's inbox prefix (`_INBOX.<principal id>`), the only place its permissions let it receive replies. */
  readonly inboxPrefix?: string | undefined;
}

/** What errors call each setting: environment variables, command-line flags or SDK options. */
export interface BusSecurityNames {
  readonly caFile: string;
  readonly seedFile: string;
  readonly inboxPrefix: string;
}

/** The environment variables of `busSecurityFromEnv`. */
export const BUS_SECURITY_ENV: BusSecurityNames = { caFile: 'NATS_TLS_CA', seedFile: 'NATS_NKEY_SEED_FILE', inboxPrefix: 'NATS_INBOX_PREFIX' };

/**
 * Connection options for TLS, an nkey and an inbox prefix; nothing changes when no setting is given.
 * Errors name the setting (`names`: a variable, a flag, an option) and the path, never the file's content.
 */
export function busSecurity(settings: BusSecuritySettings, names: BusSecurityNames = BUS_SECURITY_ENV): Partial<ConnectionOptions> {
  const options: Partial<ConnectionOptions> = {};
  const ca = settings.caFile;
  if (ca) {
    try {
      statSync(ca);
    } catch (error) {
      throw new Error(`${names.caFile}: cannot read ${ca} (${(error as NodeJS.ErrnoException).code ?? 'error'})`, { cause: error });
    }
    options.tls = { caFile: ca };
  }
  const seedFile = settings.seedFile;
  if (seedFile) {
    let seed: string;
    try {
      if ((statSync(seedFile).mode & 0o077) !== 0) throw Object.assign(new Error('readable by others'), { code: 'mode' });
      seed = readFileSync(seedFile, 'utf8').trim();
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new Error(code === 'mode' ? `${names.seedFile}: ${seedFile} must be readable by its owner only (chmod 600)` : `${names.seedFile}: cannot read ${seedFile} (${code ?? 'error'})`, { cause: error });
    }
    if (!/^SU[A-Z2-7]{56}$/.test(seed)) throw new Error(`${names.seedFile}: ${seedFile} does not hold an nkey user seed (SU…)`);
    options.authenticator = nkeyAuthenticator(new TextEncoder().encode(seed));
  }
  const inboxPrefix = settings.inboxPrefix;
  if (inboxPrefix) {
    if (!/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(inboxPrefix)) throw new Error(`${names.inboxPrefix} must be dot-separated tokens of [A-Za-z0-9_-] (no wildcards), got ${JSON.stringify(inboxPrefix)}`);
    options.inboxPrefix = inboxPrefix;
  }
  return options;
}

/**
 * TLS and identity of a bus connection, from the environment; all optional, and nothing changes when
 * none is set:
 * - `NATS_TLS_CA`: PEM file of the CA that signed the server's certificate; TLS is then required.
 * - `NATS_NKEY_SEED_FILE`: file holding this identity's nkey seed (`SU…`), issued by the security
 *   service; must not be readable by group or others (0600).
 * - `NATS_INBOX_PREFIX`: the identity's inbox prefix (`_INBOX.<principal id>`), the only place its
 *   permissions let it receive replies.
 * Errors name the variable and the path, never the file's content.
 */
export function busSecurityFromEnv(env: NodeJS.ProcessEnv): Partial<ConnectionOptions> {
  return busSecurity({ caFile: env['NATS_TLS_CA'], seedFile: env['NATS_NKEY_SEED_FILE'], inboxPrefix: env['NATS_INBOX_PREFIX'] });
}

/**
 * Connects to NATS (`NATS_URL`, comma-separated servers) and opens JetStream. TLS, nkey and inbox
 * prefix come from `busSecurityFromEnv(process.env)` unless the options set them.
 */
export async function connectBus(options: ConnectionOptions & { name: string }): Promise<Bus> {
  const security = busSecurityFromEnv(process.env);
  let nc: NatsConnection;
  try {
    // Async stack traces cost two Error objects per request: a third of the relay's CPU.
    nc = await connect({ maxReconnectAttempts: -1, reconnectTimeWait: 500, noAsyncTraces: true, ...security, ...options });
  } catch (error) {
    throw new Error(`cannot connect to NATS at ${String(options.servers ?? '127.0.0.1:4222')} (${(error as Error).message}). ${connectHint(error)}`, { cause: error });
  }
  let jsm: JetStreamManager;
  try {
    jsm = await jetstreamManager(nc);
  } catch (error) {
    // JetStream not answering (yet): a caller that tries again must not leave this connection reconnecting forever.
    await nc.close().catch(() => undefined);
    throw error;
  }
  return {
    nc,
    js: jetstream(nc),
    jsm,
    close: async () => {
      if (!nc.isClosed()) await nc.drain();
    },
  };
}

/** What to do about a failed connect: the server refused who we are, the TLS handshake failed, or no server answered. */
export function connectHint(error: unknown): string {
  const e = error as { name?: string; message?: string; code?: string };
  const text = `${e?.name ?? ''} ${e?.code ?? ''} ${e?.message ?? ''}`;
  if (/authori[sz]ation|authentication|permission/i.test(text)) {
    return 'The server refused this identity: check NATS_NKEY_SEED_FILE (the seed the security service issued, not revoked) and that the server runs with the users file.';
  }
  if (/tls|ssl|certificate|self[- ]signed/i.test(text)) return 'The TLS handshake failed: check NATS_TLS_CA (the CA that signed the server certificate) and the server URL (tls://).';
  return 'Start it with: nats-server -js (Debian: apt-get install nats-server)';
}

/** NATS servers from the environment: `NATS_URL`, default 127.0.0.1:4222. */
export function natsServersFromEnv(env: NodeJS.ProcessEnv): string[] {
  return (env['NATS_URL'] ?? 'nats://127.0.0.1:4222').split(',').map((s) => s.trim()).filter(Boolean);
}

const TWO_MINUTES_NS = 120 * 1_000_000_000;

/** The configuration of every WE-AI stream; `replicas` is 3 on a cluster. */
export function streamConfigs(replicas = 1): Array<Partial<StreamConfig> & { name: string; subjects: string[] }> {
  const base = { storage: StorageType.File, num_replicas: replicas };
  return [
    ...EVENT_FAMILIES.map((family) => ({
      ...base,
      name: streamOfFamily(family),
      subjects: [familySubjects(family)],
      retention: RetentionPolicy.Limits,
      duplicate_window: TWO_MINUTES_NS,
    })),
    {
      ...base,
      name: SHARDS_STREAM,
      subjects: ['weai.shard.>'],
      retention: RetentionPolicy.Workqueue,
      duplicate_window: TWO_MINUTES_NS,
    },
    {
      ...base,
      name: RESULTS_STREAM,
      subjects: ['weai.result.>'],
      retention: RetentionPolicy.Limits,
      max_age: 7 * 24 * 3600 * 1_000_000_000,
      duplicate_window: TWO_MINUTES_NS,
      allow_direct: true,
    },
    {
      ...base,
      name: TELEMETRY_STREAM,
      subjects: ['weai.hb.>'],
      retention: RetentionPolicy.Limits,
      max_msgs_per_subject: 1,
      max_age: 10 * 60 * 1_000_000_000,
      discard: DiscardPolicy.Old,
    },
    {
      ...base,
      name: PARKED_STREAM,
      subjects: ['weai.parked.>'],
      retention: RetentionPolicy.Limits,
      max_age: 30 * 24 * 3600 * 1_000_000_000,
    },
  ];
}

/** Creates the streams WE-AI needs, or brings their configuration up to date. Idempotent. */
export async function ensureStreams(jsm: JetStreamManager, replicas = 1): Promise<void> {
  for (const config of streamConfigs(replicas)) {
    try {
      await jsm.streams.info(config.name);
      const { name, retention: _retention, storage: _storage, ...update } = config;
      await jsm.streams.update(name, update);
    } catch (error) {
      if (!isNotFound(error)) throw error;
      await jsm.streams.add(config);
    }
  }
}

/** Whether a JetStream API error says "not found". */
export function isNotFound(error: unknown): boolean {
  const e = error as { code?: unknown; api_error?: { code?: number }; message?: string };
  return e?.api_error?.code === 404 || /not found/i.test(e?.message ?? '');
}
