import { EsdbEventStore } from './esdb/esdb-event-store';
import type { EventStore } from './port';
import { openSqlEventStore, type SqlEventStoreConfig } from './sql/sql-event-store';

/** Which event store to open. */
export type EventStoreConfig = SqlEventStoreConfig | { readonly type: 'eventstoredb'; readonly url: string };

/**
 * Reads the store from the environment: `EVENT_STORE_URL` is `sqlite:<path>` (the default,
 * `sqlite:<defaultPath>`), `postgres://…` or `esdb://…`. A bad value fails fast, naming the variable.
 */
export function eventStoreConfigFromEnv(env: NodeJS.ProcessEnv, defaultPath: string): EventStoreConfig {
  const url = env['EVENT_STORE_URL'] ?? `sqlite:${defaultPath}`;
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length);
    if (!path) throw new Error('EVENT_STORE_URL=sqlite: needs a file path, e.g. sqlite:.data/jobs.sqlite');
    return { type: 'sqlite', path };
  }
  if (/^postgres(ql)?:\/\//.test(url)) return { type: 'postgres', url };
  if (/^(esdb|esdb\+discover):\/\//.test(url)) return { type: 'eventstoredb', url };
  throw new Error(`EVENT_STORE_URL must start with sqlite:, postgres:// or esdb://, got ${JSON.stringify(url)}`);
}

/** Opens the configured store. */
export async function openEventStore(config: EventStoreConfig): Promise<EventStore> {
  return config.type === 'eventstoredb' ? EsdbEventStore.connect(config.url) : openSqlEventStore(config);
}
