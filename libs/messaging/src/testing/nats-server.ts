import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ConnectionOptions, connect } from '@nats-io/transport-node';

/** A nats-server of a test's own, on a free loopback port, with JetStream in a temporary folder. */
export interface TestNatsServer {
  readonly url: string;
  readonly port: number;
  readonly storeDir: string;
  /** Kills it (SIGKILL by default); the store folder is kept so it can be restarted. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port and store. */
  restart(): Promise<void>;
  /** Kills it and removes its store. */
  stop(): Promise<void>;
  /** Process id of the running server (for reload signals). */
  readonly pid: number | undefined;
  /** What the server wrote to stdout and stderr since its last start. */
  output(): string;
}

/** Options of a test server with authentication or TLS on. */
export interface TestNatsServerOptions {
  /** How to connect when checking the server is up (TLS CA, an nkey authenticator); default plain. */
  readonly probe?: Partial<ConnectionOptions>;
  /**
   * Writes the server's configuration file, given the store folder, and returns its path. JetStream
   * is then left to the file (`jetstream { store_dir: … }`): nats-server 2.9 shuts JetStream down on a
   * reload when it was enabled by the `-js` flag only, and refuses to reload when the flag's store
   * folder differs from the file's.
   */
  readonly reloadableConfig?: (storeDir: string) => string;
}

const NATS_SERVER = process.env['NATS_SERVER_BIN'] ?? '/usr/sbin/nats-server';

/** Finds a free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

async function waitUntilUp(url: string, child: ChildProcess, log: () => string, probe: Partial<ConnectionOptions> = {}): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`nats-server exited with ${child.exitCode}: ${log()}`);
    try {
      const nc = await connect({ ...probe, servers: url, reconnect: false, timeout: 500 });
      await nc.close();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`nats-server at ${url} did not come up: ${log()}`);
}

/**
 * Starts a nats-server with JetStream; extra arguments are passed through (e.g. `-c <config>` with
 * accounts, nkey users and TLS: the port and store given here override the file's).
 */
export async function startNatsServer(extraArgs: string[] = [], options: TestNatsServerOptions = {}): Promise<TestNatsServer> {
  const port = await freePort();
  const storeDir = mkdtempSync(join(tmpdir(), 'weai-nats-'));
  const url = `nats://127.0.0.1:${port}`;
  let child: ChildProcess;
  let output = '';
  const launch = async () => {
    output = '';
    const jetstream = options.reloadableConfig ? ['-c', options.reloadableConfig(storeDir)] : ['-js', '-sd', storeDir];
    child = spawn(NATS_SERVER, ['-a', '127.0.0.1', '-p', String(port), ...jetstream, ...extraArgs], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    await waitUntilUp(url, child, () => output, options.probe);
  };
  const kill = async (signal: NodeJS.Signals = 'SIGKILL') => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill(signal);
    await exited;
  };
  await launch();
  return {
    url,
    port,
    storeDir,
    kill,
    restart: launch,
    get pid() {
      return child.pid;
    },
    output: () => output,
    async stop() {
      await kill();
      rmSync(storeDir, { recursive: true, force: true });
    },
  };
}
