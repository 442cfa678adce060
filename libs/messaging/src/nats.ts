import { connect, type NatsConnection, type ConnectionOptions } from '@nats-io/transport-node';
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

/** Connects to NATS (`NATS_URL`, comma-separated servers) and opens JetStream. */
export async function connectBus(options: ConnectionOptions & { name: string }): Promise<Bus> {
  let nc: NatsConnection;
  try {
    // Async stack traces cost two Error objects per request: a third of the relay's CPU.
    nc = await connect({ maxReconnectAttempts: -1, reconnectTimeWait: 500, noAsyncTraces: true, ...options });
  } catch (error) {
    throw new Error(
      `cannot connect to NATS at ${String(options.servers ?? '127.0.0.1:4222')} (${(error as Error).message}). ` +
        'Start it with: nats-server -js (Debian: apt-get install nats-server)',
      { cause: error },
    );
  }
  const jsm = await jetstreamManager(nc);
  return {
    nc,
    js: jetstream(nc),
    jsm,
    close: async () => {
      if (!nc.isClosed()) await nc.drain();
    },
  };
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
