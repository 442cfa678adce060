/**
 * The security service on a 3-node NATS cluster (issue #9): nats-server 2.9 reads its users from a
 * file and reloads one server at a time, so one security replica runs beside each server (the
 * sidecar of docs/scale-out.md), all sharing one event store. A credential issued through one
 * replica must be accepted by every server, and a revocation through another replica must cut the
 * holder off every server — without waiting for the periodic reconciliation (set to 10 minutes
 * here, so only the credential events can do it).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { INestMicroservice } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { createUser } from '@nats-io/nkeys';
import { type NatsConnection, connect, nkeyAuthenticator } from '@nats-io/transport-node';
import { inboxPrefixOf } from '@weai/contracts';
import { type Bus, JetStreamServer, connectBus, ensureStreams } from '@weai/messaging';
import { type TestNatsServer, freePort, startNatsServer } from '@weai/messaging/src/testing/nats-server';
import { serviceConfigFromEnv } from '@weai/runtime';
import { CredentialCommands, type IssuedCredential } from '../src/application/credentials';
import { permissionsFor } from '../src/domain/permissions';
import { renderNkeyUsers } from '../src/domain/server-config';
import { SecurityModule } from '../src/security.module';

const GEN_CERTS = resolve(__dirname, '../../../deploy/tls/gen-dev-certs.sh');
const SIZE = 3;

interface Replica {
  readonly server: TestNatsServer;
  readonly logFile: string;
  readonly bus: Bus;
  readonly app: INestMicroservice;
}

describe('security service, one replica per nats-server of a cluster', () => {
  let dir: string;
  let caFile: string;
  const replicas: Replica[] = [];
  const opened: NatsConnection[] = [];
  const self = createUser();
  const reloads = (r: Replica) => readFileSync(r.logFile, 'utf8').split('Reloaded server configuration').length - 1;

  /** Connects to one server only (no reconnect to another), as the holder of `credential`. */
  const connectTo = async (r: Replica, credential: IssuedCredential) => {
    const nc = await connect({
      servers: r.server.url,
      tls: { caFile },
      reconnect: false,
      timeout: 2000,
      name: credential.credentialId,
      authenticator: nkeyAuthenticator(new TextEncoder().encode(credential.seed!)),
      inboxPrefix: credential.inboxPrefix,
    });
    opened.push(nc);
    return nc;
  };
  /** Retries until `server` accepts the credential, for up to 10 s. */
  const eventuallyConnect = async (r: Replica, credential: IssuedCredential) => {
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        return await connectTo(r, credential);
      } catch (error) {
        if (Date.now() > deadline) throw new Error(`${r.server.url} still refuses ${credential.credentialId}: ${(error as Error).message}`, { cause: error });
        await new Promise((res) => setTimeout(res, 100));
      }
    }
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'weai-security-cluster-'));
    execFileSync('bash', [GEN_CERTS, join(dir, 'tls')], { stdio: 'ignore' });
    caFile = join(dir, 'tls', 'ca.pem');
    const sys = createUser();
    const bootstrapUsers = [{ publicNkey: self.getPublicKey(), permissions: permissionsFor({ role: 'service', principalId: 'security' }), label: 'service:security:bootstrap' }];
    const clusterPorts = await Promise.all(Array.from({ length: SIZE }, () => freePort()));
    const routes = clusterPorts.map((p) => `"nats-route://127.0.0.1:${p}"`).join(', ');
    const probe = { tls: { caFile }, authenticator: nkeyAuthenticator(self.getSeed()) };
    const servers = await Promise.all(
      clusterPorts.map((clusterPort, i) => {
        const nodeDir = join(dir, `n${i + 1}`);
        mkdirSync(nodeDir);
        writeFileSync(join(nodeDir, 'weai-users.conf'), renderNkeyUsers(bootstrapUsers), { mode: 0o600 });
        const conf = join(nodeDir, 'nats.conf');
        return startNatsServer([], {
          probe,
          reloadableConfig: (storeDir) => {
            writeFileSync(
              conf,
              [
                `server_name: n${i + 1}`,
                `jetstream { store_dir: ${JSON.stringify(storeDir)} }`,
                `log_file: ${JSON.stringify(join(nodeDir, 'nats.log'))}`,
                `pid_file: ${JSON.stringify(join(nodeDir, 'nats.pid'))}`,
                `tls { cert_file: ${JSON.stringify(join(dir, 'tls', 'server.pem'))}, key_file: ${JSON.stringify(join(dir, 'tls', 'server-key.pem'))}, ca_file: ${JSON.stringify(caFile)}, timeout: 2 }`,
                `cluster { name: weai, listen: "127.0.0.1:${clusterPort}", routes: [ ${routes} ] }`,
                'accounts {',
                `  SYS { users = [ { nkey: ${sys.getPublicKey()} } ] }`,
                '  WEAI { jetstream: enabled, include weai-users.conf }',
                '}',
                'system_account: SYS',
              ].join('\n'),
            );
            return conf;
          },
        });
      }),
    );
    const buses = await Promise.all(
      servers.map((server, i) =>
        connectBus({ servers: server.url, tls: { caFile }, name: `security-${i + 1}`, authenticator: nkeyAuthenticator(self.getSeed()), inboxPrefix: inboxPrefixOf('security'), maxReconnectAttempts: -1 }),
      ),
    );
    // R3 streams need the cluster's meta leader and every peer: retried until the cluster has formed.
    for (let attempt = 0; ; attempt++) {
      try {
        await ensureStreams(buses[0]!.jsm, 3);
        break;
      } catch (error) {
        if (attempt > 150) throw error;
        await new Promise((res) => setTimeout(res, 200));
      }
    }
    for (const [i, server] of servers.entries()) {
      const nodeDir = join(dir, `n${i + 1}`);
      // One event store for every replica (PostgreSQL in a deployment; one SQLite file here), a read model each.
      const config = serviceConfigFromEnv({ WEAI_DATA_DIR: dir, READ_MODEL_URL: `sqlite:${join(nodeDir, 'read.sqlite')}`, NATS_URL: server.url, WEAI_STREAM_REPLICAS: '3' }, 'security', 'security');
      const bus = buses[i]!;
      const logFile = join(nodeDir, 'nats.log');
      const app = await NestFactory.createMicroservice(
        SecurityModule.create(config, bus, {
          nats: { usersFile: join(nodeDir, 'weai-users.conf'), pidFile: join(nodeDir, 'nats.pid'), bootstrapUsers, serverLog: logFile },
          audit: { serverLog: logFile },
          reconcileMs: 600_000,
        }),
        { strategy: new JetStreamServer(bus), logger: false },
      );
      await app.listen();
      replicas.push({ server, logFile, bus, app });
    }
  }, 90_000);

  afterAll(async () => {
    for (const nc of opened) if (!nc.isClosed()) await nc.close().catch(() => undefined);
    for (const r of replicas) {
      await r.app.close();
      await r.bus.close();
    }
    for (const r of replicas) await r.server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  let credential: IssuedCredential;

  it('a credential issued through one replica is accepted by every server, and the other servers reload once for it', async () => {
    const before = replicas.map(reloads);
    credential = await replicas[0]!.app.get(CredentialCommands).issue({ credentialId: 'node-ncluster1', role: 'node', principalId: 'ncluster1', capabilityClasses: ['cpu.generic'] }, new Date());
    // The issuing replica reloaded its own server before answering.
    await connectTo(replicas[0]!, credential);
    for (const r of replicas.slice(1)) await eventuallyConnect(r, credential);
    // One reload per server for the change: the issuing replica's own sync found its file up to date.
    await new Promise((res) => setTimeout(res, 500));
    expect(replicas.map(reloads).map((n, i) => n - before[i]!)).toEqual([1, 1, 1]);
  }, 30_000);

  it('a credential revoked through another replica is cut off on every server and refused at connect', async () => {
    const held = await Promise.all(replicas.map((r) => connectTo(r, credential)));
    const closed = held.map((nc) => nc.closed());
    await replicas[1]!.app.get(CredentialCommands).revoke({ credentialId: credential.credentialId, reason: 'cluster test' }, new Date());
    const deadline = new Promise<'timeout'>((res) => setTimeout(() => res('timeout'), 10_000));
    const outcomes = await Promise.all(closed.map((c) => Promise.race([c.then(() => 'closed' as const), deadline])));
    expect(outcomes).toEqual(['closed', 'closed', 'closed']);
    for (const r of replicas) await expect(connectTo(r, credential)).rejects.toThrow(/Authorization Violation|authorization/i);
  }, 30_000);
});
