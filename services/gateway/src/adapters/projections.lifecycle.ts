import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown, type Provider } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { type Bus, ProjectionRunner } from '@weai/messaging';
import { BUS, openReadModel } from '@weai/runtime';
import { CreatePartnerJobs1764900000001, PARTNER_JOB_ENTITIES, PartnerJobs, jobCostsProjection, partnerJobsProjection } from '../application/partner-jobs.read-model';
import { CreateThroughput1764900000002, Throughput, ThroughputEntity, throughputProjection } from '../application/throughput.read-model';
import { DEFAULT_READ_MODEL_URL, type GatewayConfig } from '../config';
import { GATEWAY_CONFIG, GATEWAY_READ_MODEL, PROJECTION_RUNNERS } from '../tokens';

/** Migrations and entities of the gateway's read model. */
export const GATEWAY_READ_MODEL_MIGRATIONS = [CreatePartnerJobs1764900000001, CreateThroughput1764900000002];
export const GATEWAY_READ_MODEL_ENTITIES = [...PARTNER_JOB_ENTITIES, ThroughputEntity];
/** The projections the gateway runs. */
export const GATEWAY_PROJECTIONS = [partnerJobsProjection, jobCostsProjection, throughputProjection];

/** Opens the gateway's read model (creating a SQLite file's folder) and runs its migrations. */
export function openGatewayReadModel(url = DEFAULT_READ_MODEL_URL): Promise<DataSource> {
  if (url.startsWith('sqlite:') && url !== 'sqlite::memory:') mkdirSync(dirname(url.slice('sqlite:'.length)), { recursive: true });
  return openReadModel(url, GATEWAY_READ_MODEL_MIGRATIONS, GATEWAY_READ_MODEL_ENTITIES);
}

/** Starts the projection runners with the app and stops them with it (`startGateway` made sure the streams exist). */
@Injectable()
export class ProjectionsLifecycle implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(
    @Inject(PROJECTION_RUNNERS) private readonly runners: ProjectionRunner[],
    @Inject(GATEWAY_READ_MODEL) private readonly readModel: DataSource,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    for (const runner of this.runners) await runner.start();
  }

  async onApplicationShutdown(): Promise<void> {
    for (const runner of this.runners) await runner.stop();
    if (this.readModel.isInitialized) await this.readModel.destroy();
  }
}

/** The read model, its runners and its queries. */
export const readModelProviders: Provider[] = [
  { provide: GATEWAY_READ_MODEL, useFactory: (config: GatewayConfig) => openGatewayReadModel(config.readModelUrl), inject: [GATEWAY_CONFIG] },
  {
    provide: PROJECTION_RUNNERS,
    useFactory: (dataSource: DataSource, bus: Bus) => {
      const logger = new Logger('Projections');
      return GATEWAY_PROJECTIONS.map((projection) => new ProjectionRunner({ dataSource, js: bus.js, projection, onError: (e) => logger.warn(`${projection.name}: ${(e as Error).message}`) }));
    },
    inject: [GATEWAY_READ_MODEL, BUS],
  },
  { provide: PartnerJobs, useFactory: (ds: DataSource) => new PartnerJobs(ds), inject: [GATEWAY_READ_MODEL] },
  { provide: Throughput, useFactory: (ds: DataSource) => new Throughput(ds), inject: [GATEWAY_READ_MODEL] },
  ProjectionsLifecycle,
];
