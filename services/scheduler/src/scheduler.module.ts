import { Module, type DynamicModule, type Provider } from '@nestjs/common';
import { Kvm } from '@nats-io/kv';
import { JOB_STATUS_BUCKET } from '@weai/contracts';
import type { EventStore } from '@weai/eventstore';
import { type Bus, ContentStore, DataKeyClient, sealingFromEnv } from '@weai/messaging';
import { BUS, EVENT_STORE, EventSourcingModule, READ_MODEL, type ServiceConfig } from '@weai/runtime';
import type { DataSource } from 'typeorm';
import { DatasetCache } from './application/datasets';
import { Dispatcher } from './application/dispatcher';
import { Integrator } from './application/integration';
import { JobRepository } from './application/job.repository';
import { RunningJobs } from './application/running-jobs';
import { CreateSchedulerNodes1764400000000, NodeDirectory, NodeRecordEntity } from './application/node-directory';
import { ResultHandler } from './application/results';
import { JobEventsMessageController } from './adapters/job-events.message.controller';
import { JobsMessageController } from './adapters/jobs.message.controller';
import { DeadlineWatcher } from './adapters/deadline.watcher';
import { ResultsListener } from './adapters/results.listener';
import { CONTENT_STORE, JOB_STATUS_KV } from './adapters/tokens';

const providers: Provider[] = [
  {
    provide: CONTENT_STORE,
    // WEAI_SEALING=on: objects are sealed and opened with keys from the security service (docs/security.md, "Data at rest").
    useFactory: async (bus: Bus, config: ServiceConfig) => {
      const store = await ContentStore.open(bus.js, config.streamReplicas);
      return sealingFromEnv(process.env) ? store.withKeys(new DataKeyClient(bus.nc, 'scheduler').cached()) : store;
    },
    inject: [BUS, 'WEAI_CONFIG'],
  },
  {
    provide: JOB_STATUS_KV,
    useFactory: (bus: Bus, config: ServiceConfig) => new Kvm(bus.js).create(JOB_STATUS_BUCKET, { history: 1, ttl: 7 * 24 * 3600 * 1000, replicas: config.streamReplicas }),
    inject: [BUS, 'WEAI_CONFIG'],
  },
  { provide: JobRepository, useFactory: (store: EventStore) => new JobRepository(store), inject: [EVENT_STORE] },
  { provide: RunningJobs, useFactory: (store: EventStore) => new RunningJobs(store), inject: [EVENT_STORE] },
  { provide: DatasetCache, useFactory: (objects: ContentStore) => new DatasetCache(objects), inject: [CONTENT_STORE] },
  { provide: NodeDirectory, useFactory: (ds: DataSource) => new NodeDirectory(ds), inject: [READ_MODEL] },
  {
    provide: Dispatcher,
    useFactory: (bus: Bus, jobs: JobRepository, datasets: DatasetCache, objects: ContentStore) => new Dispatcher(bus.js, jobs, datasets, objects),
    inject: [BUS, JobRepository, DatasetCache, CONTENT_STORE],
  },
  { provide: Integrator, useFactory: (bus: Bus, jobs: JobRepository, objects: ContentStore) => new Integrator(bus.js, bus.jsm, jobs, objects), inject: [BUS, JobRepository, CONTENT_STORE] },
  {
    provide: ResultHandler,
    useFactory: (jobs: JobRepository, nodes: NodeDirectory, bus: Bus, objects: ContentStore) => new ResultHandler(jobs, nodes, bus.jsm, objects),
    inject: [JobRepository, NodeDirectory, BUS, CONTENT_STORE],
  },
  ResultsListener,
  DeadlineWatcher,
];

/** The scheduler service: jobs from submission to integrated output. */
@Module({})
export class SchedulerModule {
  static create(config: ServiceConfig, bus: Bus): DynamicModule {
    return {
      module: SchedulerModule,
      imports: [
        EventSourcingModule.forService({ config, bus, readModelMigrations: [CreateSchedulerNodes1764400000000], readModelEntities: [NodeRecordEntity] }),
      ],
      controllers: [JobsMessageController, JobEventsMessageController],
      providers: [{ provide: 'WEAI_CONFIG', useValue: config }, ...providers],
    };
  }
}
