/**
 * The runtime pieces replicas rely on, against a real nats-server: leader-only tasks through
 * `electedLeadership` (what a service's relay and timers run under with WEAI_LEADER_ELECTION=on),
 * the default `soleLeadership`, and the health server the Kubernetes probes ask.
 */
import { type Bus, connectBus } from '@weai/messaging';
import { freePort, startNatsServer, type TestNatsServer } from '@weai/messaging/src/testing/nats-server';
import { eventually } from '@weai/messaging/src/testing/streams';
import { type Leadership, electedLeadership, healthPortFromEnv, leadershipConfigFromEnv, soleLeadership, startHealthServer } from '@weai/runtime';

describe('replica runtime: leadership and health', () => {
  let nats: TestNatsServer;
  const buses: Bus[] = [];
  const bus = async () => {
    const b = await connectBus({ servers: nats.url, name: 'scale-out-test', reconnectTimeWait: 50 });
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

  it('leader election is off by default, and its settings fail fast naming the variable', () => {
    expect(leadershipConfigFromEnv({})).toEqual({ enabled: false, ttlMs: 10_000 });
    expect(leadershipConfigFromEnv({ WEAI_LEADER_ELECTION: 'on', WEAI_LEADER_TTL_MS: '3000' })).toEqual({ enabled: true, ttlMs: 3000 });
    expect(() => leadershipConfigFromEnv({ WEAI_LEADER_ELECTION: 'maybe' })).toThrow(/WEAI_LEADER_ELECTION/);
    expect(() => leadershipConfigFromEnv({ WEAI_LEADER_TTL_MS: '10' })).toThrow(/WEAI_LEADER_TTL_MS/);
    expect(healthPortFromEnv({})).toBeUndefined();
    expect(() => healthPortFromEnv({ WEAI_HEALTH_PORT: 'x' })).toThrow(/WEAI_HEALTH_PORT/);
  });

  it('a sole replica runs its leader tasks at once, as before', async () => {
    const log: string[] = [];
    const sole = soleLeadership();
    await sole.whileLeader({ name: 'relay', start: () => void log.push('start'), stop: () => void log.push('stop') });
    expect(sole.isLeader()).toBe(true);
    await sole.close();
    expect(log).toEqual(['start', 'stop']);
  });

  it('of two replicas one runs the leader tasks; when it closes the other starts them', async () => {
    const running = new Map<string, number>();
    const task = (replica: string) => ({
      name: 'timers',
      start: () => void running.set(replica, (running.get(replica) ?? 0) + 1),
      stop: () => void running.set(replica, (running.get(replica) ?? 0) - 1),
    });
    const replicas: Array<[string, Leadership]> = [];
    for (const name of ['r1', 'r2']) {
      const l = await electedLeadership({ bus: await bus(), service: 'svc', ttlMs: 1000, replicas: 1, onError: () => undefined });
      await l.whileLeader(task(name));
      replicas.push([name, l]);
    }
    const active = () => [...running].filter(([, n]) => n > 0).map(([r]) => r);
    expect(active()).toEqual(['r1']);
    await new Promise((r) => setTimeout(r, 1500)); // past the TTL: renewals keep it
    expect(active()).toEqual(['r1']);
    expect(replicas.filter(([, l]) => l.isLeader()).map(([n]) => n)).toEqual(['r1']);
    await replicas[0]![1].close();
    await eventually(async () => active().join() === 'r2', 'r2 to run the task', 3000);
    await replicas[1]![1].close();
    expect(active()).toEqual([]);
  });

  it('the health server: /livez while the process runs, /readyz only while NATS answers', async () => {
    const port = await freePort();
    const b = await bus();
    const server = await startHealthServer(b, port, '127.0.0.1');
    const get = async (path: string) => (await fetch(`http://127.0.0.1:${port}${path}`)).status;
    try {
      expect(await get('/livez')).toBe(200);
      expect(await get('/readyz')).toBe(200);
      expect(await get('/other')).toBe(404);
      await nats.kill();
      expect(await get('/readyz')).toBe(503);
      expect(await get('/livez')).toBe(200);
      await nats.restart();
      await eventually(async () => (await get('/readyz')) === 200, 'ready again after NATS came back', 10_000);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
