import { type ChildProcess, spawn } from 'node:child_process';
import { type Server, type Socket, createServer, connect as tcpConnect } from 'node:net';
import { join } from 'node:path';
import { type Bus, LEASE_BUCKET, LeaderElection, type Lease, connectBus } from '../src';
import { freePort, startNatsServer, type TestNatsServer } from '../src/testing/nats-server';
import { eventually } from '../src/testing/streams';

const TTL_MS = 1500;

/** A TCP hop between one client and the server that can stop carrying bytes both ways (a partition). */
async function startProxy(target: number): Promise<{ url: string; partition(): void; heal(): void; close(): Promise<void> }> {
  const port = await freePort();
  const pairs: Array<[Socket, Socket]> = [];
  let cut = false;
  const server: Server = createServer((client) => {
    const upstream = tcpConnect(target, '127.0.0.1');
    pairs.push([client, upstream]);
    client.pipe(upstream);
    upstream.pipe(client);
    if (cut) {
      client.pause();
      upstream.pause();
    }
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end);
    upstream.on('error', end);
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    url: `nats://127.0.0.1:${port}`,
    partition: () => {
      cut = true;
      for (const [a, b] of pairs) {
        a.unpipe(b);
        b.unpipe(a);
        a.pause();
        b.pause();
      }
    },
    heal: () => {
      cut = false;
      for (const [a, b] of pairs) {
        a.pipe(b);
        b.pipe(a);
        a.resume();
        b.resume();
      }
    },
    close: async () => {
      for (const [a, b] of pairs) {
        a.destroy();
        b.destroy();
      }
      await new Promise((r) => server.close(r));
    },
  };
}

interface Observed {
  readonly election: LeaderElection;
  readonly log: Array<{ at: number; what: 'elected' | 'deposed'; term: number }>;
}

function candidate(bus: Bus, name: string, id: string): Observed {
  const log: Observed['log'] = [];
  const election = new LeaderElection({
    js: bus.js,
    name,
    candidateId: id,
    ttlMs: TTL_MS,
    onElected: (l: Lease) => void log.push({ at: performance.now(), what: 'elected', term: l.term }),
    onDeposed: (l: Lease) => void log.push({ at: performance.now(), what: 'deposed', term: l.term }),
  });
  return { election, log };
}

describe('leader election over JetStream KV (real nats-server)', () => {
  let nats: TestNatsServer;
  const buses: Bus[] = [];
  const bus = async (url = nats.url) => {
    const b = await connectBus({ servers: url, name: 'leader-test', reconnectTimeWait: 50 });
    buses.push(b);
    return b;
  };

  beforeAll(async () => {
    nats = await startNatsServer();
  });
  afterAll(async () => {
    for (const b of buses) await b.nc.close().catch(() => undefined);
    await nats.stop();
  });

  it('two candidates: exactly one leader at any moment; stop() hands over at once', async () => {
    const a = candidate(await bus(), 'one-of-two', 'a');
    const b = candidate(await bus(), 'one-of-two', 'b');
    await Promise.all([a.election.start(), b.election.start()]);
    let both = 0;
    let none = 0;
    for (let i = 0; i < 100; i++) {
      const leaders = [a, b].filter((c) => c.election.isLeader).length;
      if (leaders === 2) both++;
      if (leaders === 0) none++;
      await new Promise((r) => setTimeout(r, 20)); // 2 s: several renewals
    }
    expect(both).toBe(0);
    expect(none).toBe(0);
    const [leader, follower] = a.election.isLeader ? [a, b] : [b, a];
    expect(leader.log.map((e) => e.what)).toEqual(['elected']);
    expect(follower.log).toEqual([]);

    const stoppedAt = performance.now();
    await leader.election.stop();
    await eventually(async () => follower.election.isLeader, 'the follower to take over', 2000);
    const handOver = follower.log[0]!.at - stoppedAt;
    process.stdout.write(`hand-over after stop(): ${handOver.toFixed(0)} ms\n`);
    expect(handOver).toBeLessThan(TTL_MS / 2); // a deleted key wakes the follower; no TTL wait
    expect(leader.log.map((e) => e.what)).toEqual(['elected', 'deposed']);
    expect(follower.log[0]!.term).toBeGreaterThan(leader.log[0]!.term);
    await follower.election.stop();
  });

  it('a killed leader (SIGKILL, no hand-over) is replaced within the TTL', async () => {
    const child: ChildProcess = spawn(process.execPath, ['-r', '@swc-node/register', join(__dirname, 'fixtures/leader-child.ts'), nats.url, 'killed', String(TTL_MS)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    try {
      await eventually(async () => out.includes('elected'), `the child to lead (${out})`, 30_000);
      const survivor = candidate(await bus(), 'killed', 'survivor');
      await survivor.election.start();
      expect(survivor.election.isLeader).toBe(false);
      await new Promise((r) => setTimeout(r, 500)); // the child keeps renewing
      expect(survivor.election.isLeader).toBe(false);

      const killedAt = performance.now();
      child.kill('SIGKILL');
      await eventually(async () => survivor.election.isLeader, 'the survivor to take over', 5000);
      const takeover = survivor.log[0]!.at - killedAt;
      // The key expires TTL after the child's last renewal (at most TTL after the kill), plus one retry.
      process.stdout.write(`take-over after SIGKILL: ${takeover.toFixed(0)} ms (TTL ${TTL_MS} ms)\n`);
      expect(takeover).toBeLessThan(TTL_MS + TTL_MS / 10 + 500);
      expect(survivor.log[0]!.term).toBeGreaterThan(Number(/elected (\d+)/.exec(out)![1]));
      await survivor.election.stop();
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('a partitioned leader deposes itself before the new leader is elected, and its old term is fenced', async () => {
    const proxy = await startProxy(nats.port);
    try {
      const old = candidate(await bus(proxy.url), 'partitioned', 'old');
      await old.election.start();
      expect(old.election.isLeader).toBe(true);
      const oldTerm = old.election.term!;
      const fresh = candidate(await bus(), 'partitioned', 'fresh');
      await fresh.election.start();
      expect(fresh.election.isLeader).toBe(false);

      proxy.partition();
      await eventually(async () => fresh.election.isLeader, 'the other candidate to take over', 5000);
      const deposed = old.log.find((e) => e.what === 'deposed');
      expect(deposed).toBeDefined();
      process.stdout.write(`partition: old leader deposed ${(fresh.log[0]!.at - deposed!.at).toFixed(0)} ms before the new one was elected\n`);
      expect(deposed!.at).toBeLessThan(fresh.log[0]!.at); // the old leader stopped first
      expect(old.election.isCurrent(oldTerm)).toBe(false);

      proxy.heal();
      // Back on the network, the old term is refused locally and by the server; the lease stays with the new leader.
      expect(await old.election.verify(oldTerm)).toBe(false);
      expect(await fresh.election.verify(fresh.election.term!)).toBe(true);
      await new Promise((r) => setTimeout(r, TTL_MS));
      expect(old.election.isLeader).toBe(false);
      expect(fresh.election.isLeader).toBe(true);
      await old.election.stop();
      await fresh.election.stop();
    } finally {
      await proxy.close();
    }
  });

  it('uses the TTL of an existing bucket, so every candidate agrees on the lease length', async () => {
    const c = new LeaderElection({ js: (await bus()).js, name: 'ttl-check', ttlMs: 60_000 });
    await c.start();
    expect(c.leaseTiming.ttlMs).toBe(TTL_MS);
    expect(LEASE_BUCKET).toBe('weai-leases');
    await c.stop();
  });
});
