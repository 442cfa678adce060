import { bootstrapService, serviceConfigFromEnv } from '@weai/runtime';
import { NodesModule, livenessFromEnv } from './nodes.module';

async function main(): Promise<void> {
  const config = serviceConfigFromEnv(process.env, 'nodes', 'nodes');
  const liveness = livenessFromEnv(process.env);
  await bootstrapService(config, (bus) => NodesModule.create(config, bus, liveness));
  process.stdout.write(`nodes service ready (offline after ${liveness.offlineAfterMs} ms)\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`nodes service failed to start: ${(error as Error).message ?? String(error)}\n`);
  process.exit(1);
});
