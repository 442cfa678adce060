/**
 * The foundation at work: events appended to the embedded SQLite event store reach NATS
 * JetStream through the relay, in order and once, and bad input is refused with a clear error.
 *
 *   npm run demo
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { streamOfFamily, type WeaiEvent } from '@weai/contracts';
import { openSqlEventStore } from '@weai/eventstore';
import { EventRelay, type ReceivedEvent, connectBus, decodeEvent, ensureStreams, runDurableConsumer } from '@weai/messaging';
import { localNats } from './nats-local';
import { ProgressBar } from './progress';

const log = (line: string) => process.stdout.write(`${line}\n`);

function online(nodeId: string, at: string): WeaiEvent {
  return { type: 'NodeCameOnline', data: { nodeId, at }, metadata: { eventId: randomUUID(), correlationId: 'demo', causationId: 'demo', occurredAt: at } };
}

async function main(): Promise<void> {
  const count = Number(process.env['DEMO_EVENTS'] ?? 2000);
  if (!Number.isSafeInteger(count) || count < 1 || count > 1_000_000) throw new Error('DEMO_EVENTS must be an integer from 1 to 1000000');
  const nats = await localNats(log);
  const dir = join('.data', 'demo', String(Date.now()));
  mkdirSync(dir, { recursive: true });
  const store = await openSqlEventStore({ type: 'sqlite', path: join(dir, 'nodes.sqlite') });
  const bus = await connectBus({ servers: nats.url, name: 'weai-demo' });
  try {
    await ensureStreams(bus.jsm);
    await bus.jsm.streams.purge(streamOfFamily('nodes')).catch(() => undefined);
    log(`event store: SQLite at ${join(dir, 'nodes.sqlite')}`);

    const relay = new EventRelay({ store, js: bus.js, jsm: bus.jsm, family: 'nodes' });
    await relay.start();

    const arrived: ReceivedEvent[] = [];
    const bar = new ProgressBar('arrived on JetStream', count);
    let allArrived!: () => void;
    const done = new Promise<void>((r) => (allArrived = r));
    const consumer = await runDurableConsumer({
      js: bus.js,
      jsm: bus.jsm,
      stream: streamOfFamily('nodes'),
      durable: `demo-${Date.now()}`,
      decode: decodeEvent,
      handler: async (received) => {
        arrived.push(received);
        bar.tick();
        if (arrived.length === count) allArrived();
      },
    });

    log(`appending ${count} events for 10 nodes, 1 to 5 per append, with optimistic concurrency…`);
    const revisions = new Map<string, number>();
    const now = '2026-11-25T12:00:00.000Z';
    for (let appended = 0; appended < count; ) {
      const node = `node-${appended % 10}`;
      const n = Math.min(count - appended, 1 + (appended % 5));
      const prev = revisions.get(node);
      const result = await store.append(node, Array.from({ length: n }, () => online(node, now)), prev ?? 'no_stream');
      revisions.set(node, result.nextExpectedRevision);
      appended += n;
    }
    await done;

    const inOrder = arrived.every((r, i) => i === 0 || r.envelope.position > arrived[i - 1]!.envelope.position);
    const unique = new Set(arrived.map((r) => r.event.metadata.eventId)).size;
    log(`\nfirst three messages on JetStream:`);
    for (const r of arrived.slice(0, 3)) log(`  #${r.streamSequence} position ${r.envelope.position} ${r.event.type} stream ${r.envelope.streamId}`);
    log(`${arrived.length} events arrived, ${unique} distinct, in store order: ${inOrder ? 'yes' : 'NO'}`);

    log(`\nbad input is refused and changes nothing:`);
    const head = await store.headPosition();
    const bad = { ...online('node-0', now), data: { nodeId: 'node 0', at: 'yesterday' } } as unknown as WeaiEvent;
    await store.append('node-0', [bad], 'any').catch((e: Error) => log(`  schema:   ${e.message}`));
    await store.append('node-0', [online('node-0', now)], 0).catch((e: Error) => log(`  revision: ${e.message}`));
    log(`  store head still at position ${await store.headPosition()} (was ${head})`);

    await consumer.stop();
    await relay.stop();
    if (!inOrder || unique !== count) throw new Error('events did not arrive exactly once and in order');
    log('\ndemo finished: every appended event reached JetStream once, in order.');
  } finally {
    await bus.close();
    await store.close();
    await nats.stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`demo failed: ${(error as Error).message ?? String(error)}\n`);
  process.exit(1);
});
