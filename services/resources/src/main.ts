import { bootstrapService, serviceConfigFromEnv } from '@weai/runtime';
import { ResourcesModule } from './resources.module';

async function main(): Promise<void> {
  const config = serviceConfigFromEnv(process.env, 'resources');
  await bootstrapService(config, (bus) => ResourcesModule.create(config, bus));
  process.stdout.write('resources service ready\n');
}

main().catch((error: unknown) => {
  process.stderr.write(`resources service failed to start: ${(error as Error).message ?? String(error)}\n`);
  process.exit(1);
});
