import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { ProjectionRunner } from '@weai/messaging';
import { PROJECTIONS } from './tokens';

/** Starts the read models' projection runners with the app and stops them with it. */
@Injectable()
export class ProjectionsLifecycle implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(@Inject(PROJECTIONS) private readonly runners: ProjectionRunner[]) {}

  async onApplicationBootstrap(): Promise<void> {
    for (const runner of this.runners) await runner.start();
  }

  async onApplicationShutdown(): Promise<void> {
    for (const runner of this.runners) await runner.stop();
  }
}
