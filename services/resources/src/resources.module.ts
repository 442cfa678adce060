import { Inject, Module, type DynamicModule, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { type Bus, ProjectionRunner } from '@weai/messaging';
import { BUS, EventSourcingModule, READ_MODEL, type ServiceConfig } from '@weai/runtime';
import { CapacityClassEntity, CapacityNodeEntity, CreateCapacityIndex1764300000000, capacityProjection } from './application/capacity.read-model';
import { CapacityMessageController } from './adapters/capacity.message.controller';

/** Runs the capacity projection for the life of the service. */
class CapacityIndexRunner implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly runner: ProjectionRunner;
  constructor(@Inject(READ_MODEL) dataSource: DataSource, @Inject(BUS) bus: Bus) {
    this.runner = new ProjectionRunner({ dataSource, js: bus.js, projection: capacityProjection });
  }
  onApplicationBootstrap() {
    return this.runner.start();
  }
  onApplicationShutdown() {
    return this.runner.stop();
  }
}

/** The resources service: it writes no events of its own, it indexes the node network's. */
@Module({})
export class ResourcesModule {
  static create(config: ServiceConfig, bus: Bus): DynamicModule {
    return {
      module: ResourcesModule,
      imports: [
        EventSourcingModule.forService({
          config,
          bus,
          readModelMigrations: [CreateCapacityIndex1764300000000],
          readModelEntities: [CapacityNodeEntity, CapacityClassEntity],
        }),
      ],
      controllers: [CapacityMessageController],
      providers: [CapacityIndexRunner],
    };
  }
}
