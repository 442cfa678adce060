import { Global, Inject, Logger, Module, type DynamicModule, type OnApplicationBootstrap, type OnApplicationShutdown, type Provider } from '@nestjs/common';
import type { EntitySchema, MigrationInterface } from 'typeorm';
import { DataSource } from 'typeorm';
import { type EventStore, openEventStore } from '@weai/eventstore';
import { APP_FILTER } from '@nestjs/core';
import { type Bus, CreateProjectionCheckpoints1764100000001, EventRelay, PassThroughRpcErrors } from '@weai/messaging';
import type { EventFamily } from '@weai/contracts';
import type { ServiceConfig } from './config';
import { relayMetrics } from './metrics';
import { LEADERSHIP, type Leadership, electedLeadership, leadershipConfigFromEnv, soleLeadership } from './leadership';
import { BUS, CLOCK, type Clock, EVENT_STORE, READ_MODEL, SERVICE_CONFIG } from './tokens';

/** What `EventSourcingModule.forService` needs: the validated config, a connected bus, read-model migrations. */
export interface EventSourcingOptions {
  readonly config: ServiceConfig;
  readonly bus: Bus;
  /** Migrations of the service's read models (the projection checkpoint table is added). */
  readonly readModelMigrations?: ReadonlyArray<new () => MigrationInterface>;
  /** Entities of the service's read models. */
  readonly readModelEntities?: ReadonlyArray<EntitySchema<never> | EntitySchema>;
}

/**
 * Starts the relay of the service's own family once the app is up, on the elected replica only
 * (every replica with leader election off, the default), and closes what it opened.
 */
class Lifecycle implements OnApplicationBootstrap, OnApplicationShutdown {
  private relay: EventRelay | undefined;
  private relayMetrics: ReturnType<typeof relayMetrics> | undefined;
  private readonly logger = new Logger('EventSourcing');

  constructor(
    @Inject(SERVICE_CONFIG) private readonly config: ServiceConfig,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(BUS) private readonly bus: Bus,
    @Inject(READ_MODEL) private readonly readModel: DataSource,
    @Inject(LEADERSHIP) private readonly leadership: Leadership,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const family = this.config.family;
    if (!family) return;
    await this.leadership.whileLeader({ name: 'relay', start: () => this.startRelay(family), stop: () => this.stopRelay() });
  }

  private async startRelay(family: EventFamily): Promise<void> {
    const metrics = (this.relayMetrics = relayMetrics(family, this.store));
    this.relay = new EventRelay({
      store: this.store,
      nc: this.bus.nc,
      js: this.bus.js,
      jsm: this.bus.jsm,
      family,
      onError: (e) => this.logger.warn(`relay: ${(e as Error).message}`),
      onPublished: (event) => metrics.published(event),
    });
    await this.relay.start();
    // Only for the lag gauge before the first publish: never delays or fails the relay's start.
    void this.relay.checkpoint().then(
      (c) => metrics.startsAt(c.position),
      () => undefined,
    );
  }

  private async stopRelay(): Promise<void> {
    const relay = this.relay;
    this.relay = undefined;
    this.relayMetrics?.stop();
    await relay?.stop();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.leadership.close();
    await this.stopRelay();
    await this.store.close();
    if (this.readModel.isInitialized) await this.readModel.destroy();
  }
}

/** Opens a read-model DataSource from a `sqlite:` or `postgres://` URL and runs its migrations. */
export async function openReadModel(
  url: string,
  migrations: ReadonlyArray<new () => MigrationInterface>,
  entities: ReadonlyArray<EntitySchema<never> | EntitySchema> = [],
): Promise<DataSource> {
  const common = { migrations: [CreateProjectionCheckpoints1764100000001, ...migrations], migrationsRun: true, migrationsTableName: 'weai_read_migrations', entities: [...entities] };
  const ds = url.startsWith('sqlite:')
    ? new DataSource({
        type: 'better-sqlite3',
        database: url.slice('sqlite:'.length),
        enableWAL: true,
        // No disk sync per commit: a read model is rebuilt from JetStream and stores its position
        // in the same transaction as its rows, so a power cut only loses commits it re-applies
        // (WAL keeps the file consistent). Its writes share the event loop with the service's work.
        // The event store keeps synchronous=FULL: it is the system of record.
        prepareDatabase: (db: { pragma(source: string): unknown }) => {
          db.pragma('synchronous = NORMAL');
        },
        ...common,
      })
    : new DataSource({ type: 'postgres', url, ...common });
  return ds.initialize();
}

/**
 * The event-sourcing plumbing of one service: its store, its bus, its read-model database and
 * its relay, bound to Symbol tokens. Global so that every module of the service can inject them.
 */
@Global()
@Module({})
export class EventSourcingModule {
  static forService(options: EventSourcingOptions): DynamicModule {
    const providers: Provider[] = [
      { provide: SERVICE_CONFIG, useValue: options.config },
      { provide: BUS, useValue: options.bus },
      { provide: EVENT_STORE, useFactory: () => openEventStore(options.config.eventStore) },
      { provide: READ_MODEL, useFactory: () => openReadModel(options.config.readModelUrl, options.readModelMigrations ?? [], options.readModelEntities ?? []) },
      { provide: CLOCK, useValue: { now: () => new Date() } satisfies Clock },
      {
        provide: LEADERSHIP,
        useFactory: () => {
          const logger = new Logger('Leadership');
          const onError = (e: unknown) => logger.warn((e as Error).message ?? String(e));
          const leadership = leadershipConfigFromEnv(process.env);
          if (!leadership.enabled) return soleLeadership(onError);
          const { bus, config } = options;
          return electedLeadership({ bus, service: config.name, ttlMs: leadership.ttlMs, replicas: config.streamReplicas, onError, onChange: (m) => logger.log(m) });
        },
      },
      Lifecycle,
      { provide: APP_FILTER, useClass: PassThroughRpcErrors },
    ];
    return { module: EventSourcingModule, providers, exports: [SERVICE_CONFIG, BUS, EVENT_STORE, READ_MODEL, CLOCK, LEADERSHIP] };
  }
}
