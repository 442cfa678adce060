import { existsSync } from 'node:fs';
import { connect } from '@nats-io/transport-node';
import { natsServersFromEnv } from '@weai/messaging';
import { type TestNatsServer, startNatsServer } from '@weai/messaging/src/testing/nats-server';

/** A NATS server for a local run: NATS_URL if set, else a private nats-server, else clear instructions. */
export async function localNats(log: (line: string) => void): Promise<{ url: string; stop: () => Promise<void> }> {
  if (process.env['NATS_URL']) {
    const servers = natsServersFromEnv(process.env);
    try {
      await (await connect({ servers, reconnect: false, timeout: 2000 })).close();
    } catch {
      throw new Error(`NATS_URL=${process.env['NATS_URL']} does not answer. Start nats-server with JetStream (-js) there, or unset NATS_URL.`);
    }
    log(`using NATS at ${servers.join(',')}`);
    return { url: servers.join(','), stop: async () => undefined };
  }
  const bin = process.env['NATS_SERVER_BIN'] ?? '/usr/sbin/nats-server';
  if (!existsSync(bin)) {
    throw new Error(
      `no nats-server found at ${bin}. Install it (Debian/Ubuntu: sudo apt-get install nats-server; ` +
        'others: https://docs.nats.io) or point NATS_URL at a NATS server started with JetStream (nats-server -js).',
    );
  }
  const server: TestNatsServer = await startNatsServer();
  log(`started a private nats-server with JetStream at ${server.url} (set NATS_URL to use your own)`);
  return { url: server.url, stop: () => server.stop() };
}
