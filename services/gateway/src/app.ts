import 'reflect-metadata';
import type { INestApplication, LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { Bus } from '@weai/messaging';
import { DEFAULT_BOOT_WAIT_MS, bootWait, connectServiceBus } from '@weai/runtime';
import { ensureReportsStream } from './audit/denials';
import type { GatewayConfig } from './config';
import { GatewayModule } from './gateway.module';
import { httpTelemetry } from './http/telemetry';
import { buildOpenApi, serveOpenApi } from './openapi';

/** A running gateway: its Nest app and NATS connection. */
export interface RunningGateway {
  readonly app: INestApplication;
  readonly bus: Bus;
  /** Where it listens, e.g. http://127.0.0.1:8080. */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Connects to NATS (waiting for it at boot, see `bootWait`), builds the app, serves the OpenAPI document and listens. No body parser is
 * installed: each route reads its own body with its own limit, after authentication.
 */
export async function startGateway(config: GatewayConfig, options: { logger?: LoggerService } = {}): Promise<RunningGateway> {
  // Until it listens it waits for NATS and JetStream, as the services do (WEAI_BOOT_WAIT_MS).
  // The gateway's listeners and projections follow the family streams: a gateway started before the services creates them.
  const boot = bootWait({ servers: config.natsServers, waitMs: config.bootWaitMs ?? DEFAULT_BOOT_WAIT_MS });
  const bus = boot.patient(await connectServiceBus({ name: 'gateway', streamReplicas: config.streamReplicas }, boot));
  let app: NestExpressApplication | undefined;
  try {
    await ensureReportsStream(bus.jsm);
    app = await NestFactory.create<NestExpressApplication>(GatewayModule.create(config, bus), { bodyParser: false, logger: options.logger ?? ['error', 'warn'] });
    app.disable('x-powered-by');
    app.use(httpTelemetry());
    serveOpenApi(app, buildOpenApi(app));
    await app.listen(config.port, config.host);
    boot.end();
  } catch (error) {
    boot.end();
    await app?.close();
    await bus.close();
    throw error;
  }
  const address = app.getHttpServer().address() as { port: number };
  const running = app;
  return {
    app: running,
    bus,
    url: `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${address.port}`,
    async close() {
      await running.close();
      await bus.close();
    },
  };
}
