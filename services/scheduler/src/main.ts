import { bootstrapService, serviceConfigFromEnv } from '@weai/runtime';
import { SchedulerModule } from './scheduler.module';

async function main(): Promise<void> {
  const config = serviceConfigFromEnv(process.env, 'scheduler', 'jobs');
  await bootstrapService(config, (bus) => SchedulerModule.create(config, bus));
  process.stdout.write('scheduler service ready\n');
}

main().catch((error: unknown) => {
  process.stderr.write(`scheduler service failed to start: ${(error as Error).message ?? String(error)}\n`);
  process.exit(1);
});
