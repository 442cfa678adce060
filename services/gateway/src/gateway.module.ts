import { type DynamicModule, Module, type Provider, type Type } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { type Bus, ContentStore } from '@weai/messaging';
import { BUS } from '@weai/runtime';
import { HealthHttpController } from './adapters/health.http.controller';
import { JobEventsHttpController } from './adapters/job-events.http.controller';
import { JobResultsHttpController } from './adapters/job-results.http.controller';
import { JobsHttpController } from './adapters/jobs.http.controller';
import { ObjectsHttpController } from './adapters/objects.http.controller';
import { JobEventsService } from './application/job-events.service';
import { JobsService } from './application/jobs.service';
import { ObjectsService } from './application/objects.service';
import { PartnerAuthGuard } from './auth/partner-auth.guard';
import { PartnerKeys } from './auth/partner-keys';
import type { GatewayConfig } from './config';
import { ApiErrorFilter } from './http/api-error.filter';
import { CONTENT_STORE, GATEWAY_CONFIG, PARTNER_KEYS } from './tokens';

const controllers: Type<unknown>[] = [ObjectsHttpController, JobsHttpController, JobEventsHttpController, JobResultsHttpController, HealthHttpController];

const services: Provider[] = [
  { provide: CONTENT_STORE, useFactory: (bus: Bus) => ContentStore.open(bus.js), inject: [BUS] },
  { provide: PARTNER_KEYS, useFactory: (config: GatewayConfig) => new PartnerKeys(config.partners), inject: [GATEWAY_CONFIG] },
  { provide: ObjectsService, useFactory: (objects: ContentStore) => new ObjectsService(objects), inject: [CONTENT_STORE] },
  { provide: JobsService, useFactory: (bus: Bus) => new JobsService(bus), inject: [BUS] },
  { provide: JobEventsService, useFactory: (bus: Bus, jobs: JobsService) => new JobEventsService(bus, jobs), inject: [BUS, JobsService] },
];

const http: Provider[] = [PartnerAuthGuard, { provide: APP_FILTER, useClass: ApiErrorFilter }];

/**
 * The partner gateway: HTTP in front of NATS. It reaches the rest of WE-AI only through the
 * scheduler's request subjects, the object store and the partner's own job events; it owns no
 * store and reads no other service's database.
 */
@Module({})
export class GatewayModule {
  static create(config: GatewayConfig, bus: Bus): DynamicModule {
    return {
      module: GatewayModule,
      controllers,
      providers: [{ provide: GATEWAY_CONFIG, useValue: config }, { provide: BUS, useValue: bus }, ...services, ...http],
    };
  }
}
