import { connect, nkeyAuthenticator } from '@nats-io/transport-node';
import { openEventStore } from '@weai/eventstore';
import { busSecurityFromEnv } from '@weai/messaging';
import { bootWait, bootstrapService, serviceConfigFromEnv } from '@weai/runtime';
import { NatsConfigWriter } from './application/nats-config';
import { RegistryReader } from './application/registry.reader';
import { KeyRing } from './application/key-ring';
import { readSeedFile, securityConfigFromEnv } from './config';
import { SecurityModule } from './security.module';

async function main(): Promise<void> {
  const config = serviceConfigFromEnv(process.env, 'security', 'security');
  const security = securityConfigFromEnv(process.env);
  const keys = KeyRing.fromEnv(process.env, security.devKekFile, (m) => process.stderr.write(`warning: ${m}\n`));
  // The users file must hold this service's own key before it can connect: render it from the store first.
  const store = await openEventStore(config.eventStore);
  const users = await new NatsConfigWriter(new RegistryReader(store), security).apply().finally(() => store.close());
  const systemSeedFile = security.systemSeedFile;
  const system = systemSeedFile
    ? await bootWait({ servers: config.natsServers, waitMs: config.bootWaitMs }).retry('connecting the system user', () =>
        connect({
          servers: config.natsServers,
          name: 'weai-security-audit',
          ...busSecurityFromEnv(process.env),
          inboxPrefix: '_INBOX.security-audit',
          authenticator: nkeyAuthenticator(readSeedFile(systemSeedFile, 'SECURITY_SYS_NKEY_SEED_FILE')),
          maxReconnectAttempts: -1,
        }),
      )
    : undefined;
  await bootstrapService(config, (bus) => SecurityModule.create(config, bus, { nats: security, audit: { system, serverLog: security.serverLog }, reconcileMs: security.reconcileMs, ...(keys ? { keys } : {}) }));
  process.stdout.write(
    `security service ready (${users} NATS users in ${security.usersFile}; audit: ${system ? 'auth advisories' : 'no system user'}, ${security.serverLog ? `log ${security.serverLog}` : 'no server log'})\n`,
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`security service failed to start: ${(error as Error).message ?? String(error)}\n`);
  process.exit(1);
});
