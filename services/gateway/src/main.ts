import { startGateway } from './app';
import { gatewayConfigFromEnv } from './config';

async function main(): Promise<void> {
  const gateway = await startGateway(gatewayConfigFromEnv(process.env, (warning) => process.stderr.write(`warning: ${warning}\n`)));
  process.stdout.write(`gateway ready on ${gateway.url}\n`);
  const close = () =>
    void gateway.close().then(
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
