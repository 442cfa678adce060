import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AckPolicy } from '@nats-io/jetstream';
import { type Bus, connectBus, streamConfigs } from '@weai/messaging';
import { freePort } from '@weai/messaging/src/testing/nats-server';
import { BootWaitTimeoutError, bootWait } from '../src/boot-wait';
import { connectServiceBus } from '../src/bootstrap';
import { bootWaitMsFromEnv } from '../src/config';

const NATS_SERVER = process.env['NATS_SERVER_BIN'] ?? '/usr/sbin/nats-server';

/** A nats-server on a port chosen beforehand; resolves once it says it is ready. */
async function startNatsOn(port: number, args: string[]): Promise<ChildProcess> {
  const child = spawn(NATS_SERVER, ['-a', '127.0.0.1', '-p', String(port), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (d: Buffer) => {
      output += d.toString();
      if (output.includes('Server is ready')) resolve();
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`nats-server exited with ${code}: ${output}`)));
  });
  return child;
}

async function kill(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

/** Collects a boot's log lines; `line(re)` settles with the first line matching `re`, logged before or after. */
function bootLog() {
  const lines: string[] = [];
  const waiters: Array<{ re: RegExp; resolve: (l: string) => void }> = [];
  return {
    lines,
    log(l: string) {
      lines.push(l);
      for (const w of waiters.filter((x) => x.re.test(l))) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(l);
      }
    },
    line(re: RegExp): Promise<string> {
      const seen = lines.find((l) => re.test(l));
      return seen !== undefined ? Promise.resolve(seen) : new Promise((resolve) => waiters.push({ re, resolve }));
    },
  };
}

/** Settles when the bus's connection is back after a server restart. */
async function reconnectOf(bus: Bus): Promise<void> {
  for await (const s of bus.nc.status()) if (s.type === 'reconnect') return;
}

describe('boot waits for NATS JetStream (WEAI_BOOT_WAIT_MS) instead of exiting', () => {
  const storeDir = mkdtempSync(join(tmpdir(), 'weai-boot-'));
  const servers: ChildProcess[] = [];
  const buses: Bus[] = [];
  afterAll(async () => {
    for (const bus of buses) await bus.close().catch(() => undefined);
    for (const s of servers) await kill(s);
    rmSync(storeDir, { recursive: true, force: true });
  });

  it('connects once nats-server comes up, creates the streams, and says what it waited for meanwhile', async () => {
    const port = await freePort();
    const url = `nats://127.0.0.1:${port}`;
    const out = bootLog();
    const booting = connectServiceBus({ name: 'boot-test', streamReplicas: 1 }, bootWait({ servers: [url], waitMs: 60_000, log: out.log }));
    // Nothing listens yet: the boot reports its failed attempts (250 ms, then 500 ms apart) and goes on.
    await out.line(/\(attempt 3\)$/);
    servers.push(await startNatsOn(port, ['-js', '-sd', storeDir]));
    const bus = await booting;
    buses.push(bus);

    expect(out.lines[0]).toMatch(new RegExp(`^waiting for NATS JetStream at ${url}: connecting: connect ECONNREFUSED 127\\.0\\.0\\.1:${port} \\(attempt 1\\)$`));
    const names: string[] = [];
    for await (const s of bus.jsm.streams.list()) names.push(s.config.name);
    expect(names.sort()).toEqual(streamConfigs().map((c) => c.name).sort());
  });

  it('waits out a server whose JetStream is not enabled yet, and creates consumers through it while booting', async () => {
    const port = await freePort();
    const url = `nats://127.0.0.1:${port}`;
    const dir = mkdtempSync(join(storeDir, 'js-'));
    let plain = await startNatsOn(port, []);
    servers.push(plain);
    const out = bootLog();
    const boot = bootWait({ servers: [url], waitMs: 60_000, log: out.log });
    const booting = connectServiceBus({ name: 'boot-test', streamReplicas: 1 }, boot);
    expect(await out.line(/attempt 1/)).toBe(`waiting for NATS JetStream at ${url}: connecting: jetstream is not enabled (attempt 1)`);
    await kill(plain);
    let withJs = await startNatsOn(port, ['-js', '-sd', dir]);
    servers.push(withJs);
    const bus = boot.patient(await booting);
    buses.push(bus);

    // JetStream goes away again while the app creates its consumers: the call waits for it.
    let reconnected = reconnectOf(bus);
    await kill(withJs);
    plain = await startNatsOn(port, []);
    servers.push(plain);
    await reconnected;
    const stream = streamConfigs()[0]!.name;
    const adding = bus.jsm.consumers.add(stream, { durable_name: 'boot-test', ack_policy: AckPolicy.Explicit });
    expect(await out.line(/consumer add/)).toBe(`waiting for NATS JetStream at ${url}: consumer add ${stream}: jetstream is not enabled (attempt 1)`);
    await kill(plain);
    withJs = await startNatsOn(port, ['-js', '-sd', dir]);
    servers.push(withJs);
    await adding;
    expect((await bus.jsm.consumers.info(stream, 'boot-test')).name).toBe('boot-test');

    // Once booted, the manager is the client's own: it fails at once.
    boot.end();
    reconnected = reconnectOf(bus);
    await kill(withJs);
    servers.push(await startNatsOn(port, []));
    await reconnected;
    const lines = out.lines.length;
    await expect(bus.jsm.consumers.info(stream, 'boot-test')).rejects.toThrow();
    expect(out.lines.length).toBe(lines);
  });

  it('gives up after WEAI_BOOT_WAIT_MS with a message naming what it waited for', async () => {
    const port = await freePort();
    const url = `nats://127.0.0.1:${port}`;
    const out = bootLog();
    const waitMs = bootWaitMsFromEnv({ WEAI_BOOT_WAIT_MS: '600' });
    const boot = bootWait({ servers: [url], waitMs, log: out.log });
    const started = performance.now();
    const attempt = connectServiceBus({ name: 'boot-test', streamReplicas: 1 }, boot);
    await expect(attempt).rejects.toThrow(BootWaitTimeoutError);
    await expect(attempt).rejects.toThrow(
      new RegExp(`^gave up waiting for NATS JetStream at ${url} after 600 ms \\(WEAI_BOOT_WAIT_MS\\), connecting: connect ECONNREFUSED 127\\.0\\.0\\.1:${port}$`),
    );
    expect(performance.now() - started).toBeGreaterThanOrEqual(550);
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(out.lines.length).toBeGreaterThanOrEqual(2);
  });

  it('fails at once on what waiting cannot fix: an authorization violation', async () => {
    const port = await freePort();
    const url = `nats://127.0.0.1:${port}`;
    servers.push(await startNatsOn(port, ['-js', '-sd', mkdtempSync(join(storeDir, 'auth-')), '--user', 'service', '--pass', 'right']));
    const out = bootLog();
    const boot = bootWait({ servers: [url], waitMs: 60_000, log: out.log });
    await expect(boot.retry('connecting', () => connectBus({ servers: url, name: 'boot-test', user: 'service', pass: 'wrong' }))).rejects.toThrow(
      /cannot connect to NATS at .*Authorization Violation.*The server refused this identity: check NATS_NKEY_SEED_FILE/,
    );
    expect(out.lines).toEqual([]);
  });
});
