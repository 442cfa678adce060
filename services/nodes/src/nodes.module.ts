import { Module, type DynamicModule, type Provider } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import type { EventStore } from '@weai/eventstore';
import { type Bus, ProjectionRunner } from '@weai/messaging';
import { BUS, CLOCK, type Clock, EVENT_STORE, EventSourcingModule, READ_MODEL, type ServiceConfig } from '@weai/runtime';
import { LivenessMonitor } from './application/liveness';
import { NodeCommands } from './application/node.commands';
import { CreateNodesView1764200000000, NodeViewEntity, nodesProjection } from './application/nodes.read-model';
import { HeartbeatListener } from './adapters/heartbeat.listener';
import { OperatorMessageController } from './adapters/operator.message.controller';
import { RegistrationMessageController } from './adapters/registration.message.controller';
import { PROJECTIONS, QUARANTINE_AFTER } from './adapters/tokens';
import { ValidationMessageController } from './adapters/validation.message.controller';

/** Rejected results before quarantine: NODES_QUARANTINE_AFTER_STRIKES, default 3. */
export function quarantineAfterFromEnv(env: NodeJS.ProcessEnv): number {
  const n = Number(env['NODES_QUARANTINE_AFTER_STRIKES'] ?? 3);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error('NODES_QUARANTINE_AFTER_STRIKES must be a positive integer');
  return n;
}

/**
 * Liveness settings, from NODES_OFFLINE_AFTER_MS and NODES_SWEEP_MS. The default, 15 s of silence
 * with a sweep every second, tolerates one late heartbeat of the agents' 10 s period and still
 * detects a dead node within two periods.
 */
export function livenessFromEnv(env: NodeJS.ProcessEnv): { offlineAfterMs: number; sweepMs: number } {
  const offlineAfterMs = Number(env['NODES_OFFLINE_AFTER_MS'] ?? 15_000);
  const sweepMs = Number(env['NODES_SWEEP_MS'] ?? 1_000);
  if (!Number.isSafeInteger(offlineAfterMs) || offlineAfterMs < 100) throw new Error('NODES_OFFLINE_AFTER_MS must be an integer >= 100');
  if (!Number.isSafeInteger(sweepMs) || sweepMs < 10 || sweepMs > offlineAfterMs) throw new Error('NODES_SWEEP_MS must be an integer from 10 to NODES_OFFLINE_AFTER_MS');
  return { offlineAfterMs, sweepMs };
}

const applicationProviders: Provider[] = [
  { provide: NodeCommands, useFactory: (store: EventStore) => new NodeCommands(store), inject: [EVENT_STORE] },
  {
    provide: PROJECTIONS,
    useFactory: (dataSource: DataSource, bus: Bus) => [new ProjectionRunner({ dataSource, js: bus.js, projection: nodesProjection })],
    inject: [READ_MODEL, BUS],
  },
];

/** The nodes service. */
@Module({})
export class NodesModule {
  static create(config: ServiceConfig, bus: Bus, liveness = livenessFromEnv(process.env)): DynamicModule {
    return {
      module: NodesModule,
      imports: [EventSourcingModule.forService({ config, bus, readModelMigrations: [CreateNodesView1764200000000], readModelEntities: [NodeViewEntity] })],
      controllers: [RegistrationMessageController, OperatorMessageController, ValidationMessageController],
      providers: [
        ...applicationProviders,
        {
          provide: LivenessMonitor,
          useFactory: (commands: NodeCommands, clock: Clock) => new LivenessMonitor(commands, { ...liveness, now: () => clock.now() }),
          inject: [NodeCommands, CLOCK],
        },
        HeartbeatListener,
        { provide: QUARANTINE_AFTER, useValue: quarantineAfterFromEnv(process.env) },
      ],
    };
  }
}
