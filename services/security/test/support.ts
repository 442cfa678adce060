import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { INestMicroservice } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { createUser } from '@nats-io/nkeys';
import { type ConnectionOptions, type NatsConnection, connect, nkeyAuthenticator } from '@nats-io/transport-node';
import { inboxPrefixOf } from '@weai/contracts';
import type { EventStore } from '@weai/eventstore';
import { type Bus, JetStreamServer, connectBus, ensureStreams } from '@weai/messaging';
import { type TestNatsServer, startNatsServer } from '@weai/messaging/src/testing/nats-server';
import { EVENT_STORE, serviceConfigFromEnv } from '@weai/runtime';
import { CredentialCommands, type IssuedCredential } from '../src/application/credentials';
import type { KeyRing } from '../src/application/key-ring';
import { permissionsFor } from '../src/domain/permissions';
import { renderNkeyUsers } from '../src/domain/server-config';
import { SecurityModule } from '../src/security.module';

const GEN_CERTS = resolve(__dirname, '../../../deploy/tls/gen-dev-certs.sh');

/** A nats-server with TLS, accounts and the security service's users file, plus the service in process. */
export interface SecuredBus {
  readonly nats: TestNatsServer;
  readonly dir: string;
  readonly caFile: string;
  readonly logFile: string;
  readonly app: INestMicroservice;
  readonly store: EventStore;
  readonly bus: Bus;
  readonly commands: CredentialCommands;
  /** Connects as the holder of an issued credential (TLS, its seed, its inbox prefix). */
  connectAs(credential: IssuedCredential, options?: Partial<ConnectionOptions>): Promise<NatsConnection>;
  tls(): { caFile: string };
  stop(): Promise<void>;
}

/** Starts nats-server 2.9 with TLS only, nkey users in account WEAI and a system account, then the security service. */
export async function startSecuredBus(options: { keys?: KeyRing } = {}): Promise<SecuredBus> {
  const dir = mkdtempSync(join(tmpdir(), 'weai-security-'));
  execFileSync('bash', [GEN_CERTS, join(dir, 'tls')], { stdio: 'ignore' });
  const caFile = join(dir, 'tls', 'ca.pem');
  const self = createUser();
  const sys = createUser();
  const usersFile = join(dir, 'weai-users.conf');
  const logFile = join(dir, 'nats.log');
  const pidFile = join(dir, 'nats.pid');
  const bootstrapUsers = [{ publicNkey: self.getPublicKey(), permissions: permissionsFor({ role: 'service', principalId: 'security' }), label: 'service:security:bootstrap' }];
  writeFileSync(usersFile, renderNkeyUsers(bootstrapUsers), { mode: 0o600 });
  const conf = join(dir, 'nats.conf');
  const writeConfig = (storeDir: string) => {
    writeFileSync(
    conf,
    [
      `jetstream { store_dir: ${JSON.stringify(storeDir)} }`,
      `log_file: ${JSON.stringify(logFile)}`,
      `pid_file: ${JSON.stringify(pidFile)}`,
      `tls { cert_file: ${JSON.stringify(join(dir, 'tls', 'server.pem'))}, key_file: ${JSON.stringify(join(dir, 'tls', 'server-key.pem'))}, ca_file: ${JSON.stringify(caFile)}, timeout: 2 }`,
      'accounts {',
      `  SYS { users = [ { nkey: ${sys.getPublicKey()} } ] }`,
      "  WEAI { jetstream: enabled, include weai-users.conf }",
      '}',
      'system_account: SYS',
    ].join('\n'),
    );
    return conf;
  };
  const tls = { caFile };
  const nats = await startNatsServer([], { reloadableConfig: writeConfig, probe: { tls, authenticator: nkeyAuthenticator(self.getSeed()) } });
  const common = { servers: nats.url, tls, maxReconnectAttempts: -1, reconnectTimeWait: 100 };
  const bus = await connectBus({ ...common, name: 'security-test', authenticator: nkeyAuthenticator(self.getSeed()), inboxPrefix: inboxPrefixOf('security') });
  await ensureStreams(bus.jsm);
  const system = await connect({ ...common, name: 'security-audit', authenticator: nkeyAuthenticator(sys.getSeed()) });
  const config = serviceConfigFromEnv({ WEAI_DATA_DIR: dir, NATS_URL: nats.url }, 'security', 'security');
  const app = await NestFactory.createMicroservice(
    SecurityModule.create(config, bus, { nats: { usersFile, pidFile, bootstrapUsers, serverLog: logFile }, audit: { system, serverLog: logFile }, ...(options.keys ? { keys: options.keys } : {}) }),
    { strategy: new JetStreamServer(bus), logger: false },
  );
  await app.listen();
  const opened: NatsConnection[] = [];
  return {
    nats,
    dir,
    caFile,
    logFile,
    app,
    bus,
    store: app.get(EVENT_STORE),
    commands: app.get(CredentialCommands),
    tls: () => ({ ...tls }),
    async connectAs(credential, options = {}) {
      if (!credential.seed) throw new Error('credential has no seed');
      const nc = await connect({
        ...common,
        name: credential.credentialId,
        authenticator: nkeyAuthenticator(new TextEncoder().encode(credential.seed)),
        inboxPrefix: credential.inboxPrefix,
        ...options,
      });
      opened.push(nc);
      return nc;
    },
    async stop() {
      for (const nc of opened) if (!nc.isClosed()) await nc.close();
      await app.close();
      await bus.close();
      await system.close();
      await nats.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
