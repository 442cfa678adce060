import { healthPortFromEnv, loggerFromEnv, startHealthServer, startTelemetry } from '@weai/runtime';
import { startGateway } from './app';
import { gatewayConfigFromEnv } from './config';

async function main(): Promise<void> {
  const config = gatewayConfigFromEnv(process.env, (warning) => process.stderr.write(`warning: ${warning}\n`));
  const healthPort = healthPortFromEnv(process.env);
  const logger = loggerFromEnv(process.env, ['error', 'warn']);
  const telemetry = startTelemetry('weai-gateway');
  const gateway = await startGateway(config, logger ? { logger } : {});
  // Probes and Prometheus metrics on their own port (WEAI_HEALTH_PORT), not on the public API.
  const health = healthPort === undefined ? undefined : await startHealthServer(gateway.bus, healthPort);
  process.stdout.write(`gateway ready on ${gateway.url}\n`);
  const close = () =>
    void new Promise((r) => (health ? health.close(r) : r(undefined)))
      .then(() => gateway.close())
      .then(() => telemetry.shutdown())
      .then(
        () => process.exit(0),
        (error: unknown) => {
          process.stderr.write(`gateway did not close cleanly: ${(error as Error).message ?? String(error)}\n`);
          process.exit(1);
        },
      );
  process.once('SIGTERM', close);
  process.once('SIGINT', close);
}

main().catch((error: unknown) => {
  process.stderr.write(`gateway failed to start: ${(error as Error).message ?? String(error)}\n`);
  process.exit(1);
});
