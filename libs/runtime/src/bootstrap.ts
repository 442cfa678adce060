import 'reflect-metadata';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { INestMicroservice, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { type Bus, JetStreamServer, connectBus, ensureStreams } from '@weai/messaging';
import type { ServiceConfig } from './config';

/**
 * Starts a service as a Nest microservice on the JetStream transport: connects the bus, makes
 * sure the streams exist, builds the app module with the bus, listens, and shuts down cleanly on
 * SIGINT/SIGTERM.
 */
export async function bootstrapService(config: ServiceConfig, appModule: (bus: Bus) => Type<unknown> | import('@nestjs/common').DynamicModule): Promise<INestMicroservice> {
  for (const url of [config.readModelUrl, config.eventStore.type === 'sqlite' ? `sqlite:${config.eventStore.path}` : '']) {
    if (url.startsWith('sqlite:')) mkdirSync(dirname(url.slice('sqlite:'.length)), { recursive: true });
  }
  const bus = await connectBus({ servers: config.natsServers, name: `weai-${config.name}` });
  await ensureStreams(bus.jsm, config.streamReplicas);
  const app = await NestFactory.createMicroservice(appModule(bus), { strategy: new JetStreamServer(bus) });
  app.enableShutdownHooks();
  await app.listen();
  const close = async () => {
    await app.close();
    await bus.close();
  };
  process.once('SIGTERM', () => void close());
  process.once('SIGINT', () => void close());
  return app;
}
