import 'reflect-metadata';
import { mkdirSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import { dirname } from 'node:path';
import { ConsoleLogger, type INestMicroservice, type LogLevel, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { type Bus, JetStreamServer, ensureStreams, renderMetrics, startTelemetry } from '@weai/messaging';
import { type BootWait, bootWait } from './boot-wait';
import { ConfigError, type ServiceConfig } from './config';
import { collectProcessMetrics } from './metrics';

/**
 * Starts a service as a Nest microservice on the JetStream transport: starts telemetry (traces
 * to OTLP when configured, see `startTelemetry`), connects the bus, makes sure the streams exist,
 * builds the app module with the bus, listens, and shuts down cleanly on SIGINT/SIGTERM (queued
 * spans are flushed last). Until it listens it waits for NATS and JetStream (`bootWait`, up to
 * `config.bootWaitMs`): servers started at the same time, or a cluster electing its leaders, do
 * not make it exit.
 */
export async function bootstrapService(config: ServiceConfig, appModule: (bus: Bus) => Type<unknown> | import('@nestjs/common').DynamicModule): Promise<INestMicroservice> {
  const telemetry = startTelemetry(`weai-${config.name}`);
  for (const url of [config.readModelUrl, config.eventStore.type === 'sqlite' ? `sqlite:${config.eventStore.path}` : '']) {
    if (url.startsWith('sqlite:')) mkdirSync(dirname(url.slice('sqlite:'.length)), { recursive: true });
  }
  // Configuration errors first: they must not wait for NATS.
  const logger = loggerFromEnv(process.env);
  const healthPort = healthPortFromEnv(process.env);
  const boot = bootWait({ servers: config.natsServers, waitMs: config.bootWaitMs });
  const connected = await connectServiceBus(config, boot);
  // Nest modules create their durable consumers while the app starts: those calls wait too.
  const bus = boot.patient(connected);
  const app = await NestFactory.createMicroservice(appModule(bus), { strategy: new JetStreamServer(bus), ...(logger ? { logger } : {}) });
  app.enableShutdownHooks();
  await app.listen().finally(() => boot.end());
  const health = healthPort === undefined ? undefined : await startHealthServer(bus, healthPort);
  const close = async () => {
    await new Promise((r) => (health ? health.close(r) : r(undefined)));
    await app.close();
    await bus.close();
    await telemetry.shutdown();
  };
  process.once('SIGTERM', () => void close());
  process.once('SIGINT', () => void close());
  return app;
}

/** Connects a service's bus and makes sure the streams exist, waiting for NATS and JetStream as long as `boot` allows. */
export async function connectServiceBus(config: Pick<ServiceConfig, 'name' | 'streamReplicas'>, boot: BootWait): Promise<Bus> {
  const bus = await boot.connect(`weai-${config.name}`);
  try {
    await boot.retry('ensuring the streams', () => ensureStreams(bus.jsm, config.streamReplicas));
  } catch (error) {
    await bus.nc.close().catch(() => undefined);
    throw error;
  }
  return bus;
}

/**
 * `WEAI_LOG_FORMAT=json`: one JSON object per log line (level, context, message, timestamp), for
 * log shippers; default: Nest's text lines. Log lines about an event end in
 * `correlationId=… traceId=…` in both formats.
 */
export function loggerFromEnv(env: NodeJS.ProcessEnv, logLevels?: LogLevel[]): ConsoleLogger | undefined {
  const format = env['WEAI_LOG_FORMAT'] ?? 'text';
  if (format !== 'text' && format !== 'json') throw new ConfigError(`WEAI_LOG_FORMAT must be text or json, got ${JSON.stringify(format)}`);
  return format === 'json' ? new ConsoleLogger({ json: true, ...(logLevels ? { logLevels } : {}) }) : undefined;
}

/**
 * `WEAI_HEALTH_PORT`: when set, the service answers HTTP probes on that port (all interfaces),
 * for orchestrators (Kubernetes, compose health checks). Unset (the default) opens no port.
 */
export function healthPortFromEnv(env: NodeJS.ProcessEnv): number | undefined {
  const raw = env['WEAI_HEALTH_PORT'];
  if (raw === undefined || raw === '') return undefined;
  const port = Number(raw);
  if (!Number.isSafeInteger(port) || port < 1 || port > 65_535) throw new ConfigError(`WEAI_HEALTH_PORT must be a TCP port from 1 to 65535, got ${JSON.stringify(raw)}`);
  return port;
}

const PROBE_TIMEOUT_MS = 2000;

/**
 * The probes of a NATS-only service: `GET /livez` answers 200 while the process serves requests
 * (its event loop turns); `GET /readyz` answers 200 when NATS answers a round trip within 2 s, 503
 * otherwise (the client reconnects on its own, so liveness does not depend on NATS: a cluster
 * fail-over must not get every replica restarted). `GET /metrics` answers the process's
 * Prometheus metrics (text format): consumers, relay, the service's own, process.
 */
export async function startHealthServer(bus: Bus, port: number, host = '0.0.0.0'): Promise<Server> {
  collectProcessMetrics();
  const server = createServer((req, res) => {
    const reply = (status: number, body: object) => {
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'GET') return reply(405, { status: 'method not allowed' });
    if (req.url === '/livez') return reply(200, { status: 'ok' });
    if (req.url === '/metrics') {
      renderMetrics().then(
        ({ body, contentType }) => {
          res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' });
          res.end(body);
        },
        (error: unknown) => reply(500, { status: 'error', reason: (error as Error).message }),
      );
      return;
    }
    if (req.url !== '/readyz') return reply(404, { status: 'not found' });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${PROBE_TIMEOUT_MS} ms`)), PROBE_TIMEOUT_MS)));
    Promise.race([bus.nc.rtt(), timeout]).then(
      () => reply(200, { status: 'ok' }),
      (error: unknown) => reply(503, { status: 'unavailable', reason: `NATS: ${(error as Error).message}` }),
    ).finally(() => clearTimeout(timer));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}
