import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { WeaiEvent } from '@weai/contracts';
import { nodeCameOnline } from '@weai/eventstore/src/testing/fixtures';
import { type EventStore, openEventStore } from '@weai/eventstore';
import { type Bus, EventRelay, type RunningConsumer, connectBus, decodeEvent, ensureStreams, runDurableConsumer } from '@weai/messaging';
import { type TestNatsServer, startNatsServer } from '@weai/messaging/src/testing/nats-server';
import { publishAsRelay } from '@weai/messaging/src/testing/publish';
import { eventually } from '@weai/messaging/src/testing/streams';
import { startHealthServer } from '../src/bootstrap';
import { relayMetrics } from '../src/metrics';

/** The value of one sample of the text exposition, e.g. `weai_x_total{durable="a",outcome="handled"}`. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    const m = /^([a-z_:]+)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = (m[2] ?? '').split(',').filter(Boolean);
    if (want.every((w) => have.includes(w))) return Number(m[3]);
  }
  return undefined;
}

describe('GET /metrics on the health port: Prometheus text, moving with the work', () => {
  let nats: TestNatsServer;
  let bus: Bus;
  let health: Server;
  let store: EventStore;
  let consumer: RunningConsumer | undefined;
  let relay: EventRelay | undefined;
  let url: string;

  beforeAll(async () => {
    nats = await startNatsServer();
    bus = await connectBus({ servers: nats.url, name: 'metrics-test' });
    await ensureStreams(bus.jsm);
    store = await openEventStore({ type: 'sqlite', path: ':memory:' });
    health = await startHealthServer(bus, 0, '127.0.0.1');
    url = `http://127.0.0.1:${(health.address() as AddressInfo).port}/metrics`;
  });
  afterAll(async () => {
    await consumer?.stop();
    await relay?.stop();
    await new Promise((r) => health?.close(r));
    await store?.close();
    await bus?.close();
    await nats?.stop();
  });

  const scrape = async () => {
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    return res.text();
  };

  it('counts what a durable consumer handled, skipped and parked, and times its handler', async () => {
    const before = await scrape();
    expect(before).toContain('# TYPE process_cpu_seconds_total counter');
    expect(sample(before, 'weai_consumer_messages_total', { durable: 'metrics-test' })).toBeUndefined();

    let handled = 0;
    consumer = await runDurableConsumer({
      js: bus.js,
      jsm: bus.jsm,
      stream: 'WEAI_NODES',
      durable: 'metrics-test',
      decode: decodeEvent,
      skip: (r) => r.event.type !== 'NodeCameOnline',
      handler: async (r) => {
        if ((r.event.data as { nodeId: string }).nodeId === 'poison') throw new Error('cannot handle this one');
        handled++;
      },
      maxDeliver: 1,
    });
    for (const nodeId of ['a', 'b', 'c', 'poison']) await publishAsRelay(bus, nodeCameOnline(nodeId));
    await publishAsRelay(bus, { type: 'NodeBecameAvailable', data: { nodeId: 'a' }, metadata: nodeCameOnline('a').metadata });

    let text = '';
    await eventually(async () => {
      text = await scrape();
      return sample(text, 'weai_consumer_parked_total', { durable: 'metrics-test' }) === 1 && sample(text, 'weai_consumer_messages_total', { durable: 'metrics-test', outcome: 'skipped' }) === 1;
    }, 'the counters to move', 20_000);
    expect(handled).toBe(3);
    expect(sample(text, 'weai_consumer_messages_total', { durable: 'metrics-test', outcome: 'handled' })).toBe(3);
    expect(sample(text, 'weai_consumer_messages_total', { durable: 'metrics-test', outcome: 'failed' })).toBe(1);
    expect(sample(text, 'weai_consumer_messages_total', { durable: 'metrics-test', outcome: 'parked' })).toBe(1);
    expect(sample(text, 'weai_consumer_handler_duration_seconds_count', { durable: 'metrics-test' })).toBe(4);
    expect(text).toContain('# TYPE weai_consumer_handler_duration_seconds histogram');
  });

  it('counts what the relay published and reports its lag', async () => {
    const metrics = relayMetrics('security', store);
    relay = new EventRelay({ store, js: bus.js, jsm: bus.jsm, nc: bus.nc, family: 'security', onPublished: (e) => metrics.published(e) });
    await relay.start();
    metrics.startsAt((await relay.checkpoint()).position);
    const events = [1, 2, 3].map((i) => ({
      type: 'CredentialIssued',
      data: { credentialId: `cred-${i}`, principalId: 'svc-1', role: 'service' },
      metadata: { ...nodeCameOnline('x').metadata, eventId: randomUUID() },
    })) as WeaiEvent[];
    await store.append('principal-svc-1', events, 'no_stream');
    let text = '';
    await eventually(async () => {
      text = await scrape();
      return sample(text, 'weai_relay_published_total', { family: 'security' }) === 3;
    }, 'the relay to publish', 20_000);
    expect(sample(text, 'weai_relay_lag_events', { family: 'security' })).toBe(0);
    metrics.stop();
  });
});
