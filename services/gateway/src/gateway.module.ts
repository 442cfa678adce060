import { type DynamicModule, Logger, Module, type Provider, type Type } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { type KV, Kvm } from '@nats-io/kv';
import { type Bus, ContentStore, DataKeyClient } from '@weai/messaging';
import { BUS } from '@weai/runtime';
import { AuthHttpController } from './adapters/auth.http.controller';
import { HealthHttpController } from './adapters/health.http.controller';
import { JobEventsHttpController } from './adapters/job-events.http.controller';
import { JobResultsHttpController } from './adapters/job-results.http.controller';
import { JobsHttpController } from './adapters/jobs.http.controller';
import { ObjectGrantsListener } from './adapters/object-grants.listener';
import { ObjectsHttpController } from './adapters/objects.http.controller';
import { OperatorHttpController } from './adapters/operator.http.controller';
import { OwnerHttpController } from './adapters/owner.http.controller';
import { JobEventsService } from './application/job-events.service';
import { JobsService } from './application/jobs.service';
import { GRANTS_BUCKET, ObjectGrants } from './application/object-grants';
import { ObjectsService } from './application/objects.service';
import { OperatorService } from './application/operator.service';
import { OwnerService } from './application/owner.service';
import { PartnerJobs } from './application/partner-jobs.read-model';
import { readModelProviders } from './adapters/projections.lifecycle';
import { DenialReporter } from './audit/denials';
import { dashboardControllers, dashboardProviders } from './dashboard/dashboard.providers';
import { AuthGuard, type RateLimiters } from './auth/auth.guard';
import { Authenticator } from './auth/authenticator';
import { CHALLENGE_BUCKET, OwnerSignIn } from './auth/owner-sign-in';
import { ApiKeys, PartnerKeys } from './auth/partner-keys';
import { RateLimiter } from './auth/rate-limiter';
import { TokenService } from './auth/tokens';
import type { GatewayConfig } from './config';
import { ApiErrorFilter } from './http/api-error.filter';
import { AUTHENTICATOR, CHALLENGES_KV, CONTENT_STORE, DENIALS, GATEWAY_CONFIG, GRANTS_KV, OWNER_SIGN_IN, PARTNER_KEYS, RATE_LIMITERS, TOKEN_SERVICE } from './tokens';

const controllers: Type<unknown>[] = [
  AuthHttpController,
  ObjectsHttpController,
  JobsHttpController,
  JobEventsHttpController,
  JobResultsHttpController,
  OwnerHttpController,
  OperatorHttpController,
  HealthHttpController,
  ...dashboardControllers,
];

const stores: Provider[] = [
  { provide: CONTENT_STORE, useFactory: (bus: Bus, config: GatewayConfig) => ContentStore.open(bus.js, config.streamReplicas), inject: [BUS, GATEWAY_CONFIG] },
  {
    provide: GRANTS_KV,
    useFactory: (bus: Bus, config: GatewayConfig) => new Kvm(bus.js).create(GRANTS_BUCKET, { history: 1, replicas: config.streamReplicas }),
    inject: [BUS, GATEWAY_CONFIG],
  },
  {
    provide: CHALLENGES_KV,
    // A used challenge needs remembering only until it would have expired anyway.
    useFactory: (bus: Bus, config: GatewayConfig) =>
      new Kvm(bus.js).create(CHALLENGE_BUCKET, { history: 1, replicas: config.streamReplicas, ttl: (config.tokens.challengeTtlSeconds + config.tokens.clockSkewSeconds + 60) * 1000 }),
    inject: [BUS, GATEWAY_CONFIG],
  },
];

const auth: Provider[] = [
  { provide: PARTNER_KEYS, useFactory: (config: GatewayConfig) => new PartnerKeys(config.partners), inject: [GATEWAY_CONFIG] },
  { provide: TOKEN_SERVICE, useFactory: (config: GatewayConfig) => new TokenService(config.tokens.signingKey, config.tokens), inject: [GATEWAY_CONFIG] },
  {
    provide: AUTHENTICATOR,
    useFactory: (config: GatewayConfig, partners: PartnerKeys, tokens: TokenService) => new Authenticator(partners, new ApiKeys(config.operators), tokens),
    inject: [GATEWAY_CONFIG, PARTNER_KEYS, TOKEN_SERVICE],
  },
  {
    provide: RATE_LIMITERS,
    useFactory: (config: GatewayConfig): RateLimiters => ({ identity: new RateLimiter(config.rateLimit), anonymous: new RateLimiter(config.anonymousRateLimit) }),
    inject: [GATEWAY_CONFIG],
  },
  {
    provide: OWNER_SIGN_IN,
    useFactory: (tokens: TokenService, kv: KV, config: GatewayConfig) => new OwnerSignIn(tokens, kv, config.tokens.challengeTtlSeconds),
    inject: [TOKEN_SERVICE, CHALLENGES_KV, GATEWAY_CONFIG],
  },
  {
    provide: DENIALS,
    useFactory: (bus: Bus, config: GatewayConfig) => {
      const logger = new Logger('Audit');
      return new DenialReporter(bus.js, config.pseudonymSecret, (m) => logger.warn(m));
    },
    inject: [BUS, GATEWAY_CONFIG],
  },
];

const services: Provider[] = [
  { provide: ObjectGrants, useFactory: (kv: KV) => new ObjectGrants(kv), inject: [GRANTS_KV] },
  {
    provide: ObjectsService,
    // With sealing on, uploads are sealed under their own object key, fetched from the security service.
    useFactory: (objects: ContentStore, grants: ObjectGrants, bus: Bus, config: GatewayConfig) =>
      new ObjectsService(objects, grants, config.sealing ? new DataKeyClient(bus.nc, 'gateway').cached() : undefined),
    inject: [CONTENT_STORE, ObjectGrants, BUS, GATEWAY_CONFIG],
  },
  { provide: JobsService, useFactory: (bus: Bus, grants: ObjectGrants, jobs: PartnerJobs) => new JobsService(bus, grants, jobs), inject: [BUS, ObjectGrants, PartnerJobs] },
  { provide: JobEventsService, useFactory: (bus: Bus, jobs: JobsService, grants: ObjectGrants) => new JobEventsService(bus, jobs, grants), inject: [BUS, JobsService, ObjectGrants] },
  { provide: OwnerService, useFactory: (bus: Bus) => new OwnerService(bus), inject: [BUS] },
  { provide: OperatorService, useFactory: (bus: Bus) => new OperatorService(bus), inject: [BUS] },
  ObjectGrantsListener,
];

const http: Provider[] = [AuthGuard, { provide: APP_FILTER, useClass: ApiErrorFilter }];

/**
 * The gateway: HTTP in front of NATS, for partners, node owners and operators. It reaches the rest
 * of WE-AI only through request subjects, the object store, the partner's own job events, its
 * two KV buckets (object grants, used sign-in challenges) and its own read model, projected from the
 * jobs and rewards streams (job list, job costs, throughput); it owns no event store and reads no
 * other service's database.
 */
@Module({})
export class GatewayModule {
  static create(config: GatewayConfig, bus: Bus): DynamicModule {
    return {
      module: GatewayModule,
      controllers,
      providers: [{ provide: GATEWAY_CONFIG, useValue: config }, { provide: BUS, useValue: bus }, ...stores, ...auth, ...readModelProviders, ...services, ...dashboardProviders, ...http],
    };
  }
}
