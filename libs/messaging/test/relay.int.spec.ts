import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EVENT_HEADERS, streamOfFamily } from '@weai/contracts';
import { type EventStore, openSqlEventStore } from '@weai/eventstore';
import { someEvents } from '@weai/eventstore/src/testing/fixtures';
import { type Bus, EventRelay, connectBus, decodeEvent, ensureStreams } from '../src';
import { type TestNatsServer, startNatsServer } from '../src/testing/nats-server';
import { eventually, readWholeStream } from '../src/testing/streams';

describe('EventRelay (SQLite store → JetStream)', () => {
  let nats: TestNatsServer;
  let bus: Bus;
  let store: EventStore;
  let dir: string;
  const stream = streamOfFamily('nodes');

  beforeEach(async () => {
    nats = await startNatsServer();
    bus = await connectBus({ servers: nats.url, name: 'relay-test' });
    await ensureStreams(bus.jsm);
    dir = mkdtempSync(join(tmpdir(), 'weai-relay-'));
    store = await openSqlEventStore({ type: 'sqlite', path: join(dir, 'events.sqlite') });
  });
  afterEach(async () => {
    await store.close();
    await bus.close();
    await nats.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function relayUntil(count: number): Promise<EventRelay> {
    let done!: () => void;
    const reached = new Promise<void>((r) => (done = r));
    let published = 0;
    const relay = new EventRelay({ store, js: bus.js, jsm: bus.jsm, family: 'nodes', onPublished: () => ++published >= count && done() });
    await relay.start();
    await reached;
    return relay;
  }

  it('forwards the log in order, each event once, with its id, position and type', async () => {
    const s1 = await store.append('node-a', someEvents(3, 'a'), 'no_stream');
    await store.append('node-b', someEvents(2, 'b'), 'no_stream');
    const relay = await relayUntil(5);
    await store.append('node-a', someEvents(2, 'a'), s1.nextExpectedRevision);
    await eventually(async () => (await bus.jsm.streams.info(stream)).state.messages === 7, '7 messages');
    await relay.stop();

    const msgs = await readWholeStream(bus.js, bus.jsm, stream);
    const recorded = await store.readAll(0, 100);
    expect(msgs.map((m) => Number(m.headers?.get(EVENT_HEADERS.position)))).toEqual(recorded.map((e) => e.position));
    expect(msgs.map((m) => decodeEvent(m).event.metadata.eventId)).toEqual(recorded.map((e) => e.metadata.eventId));
    expect(msgs[0]!.subject).toBe('weai.evt.nodes.a.NodeCameOnline');
    expect(msgs[0]!.headers?.get(EVENT_HEADERS.type)).toBe('NodeCameOnline');
  });

  it('resumes after a restart from the last message in the stream, publishing nothing twice', async () => {
    await store.append('node-a', someEvents(4, 'a'), 'no_stream');
    const first = await relayUntil(4);
    await first.stop();
    // Appended while no relay runs: a crash after append and before publish.
    await store.append('node-a', someEvents(3, 'a'), 3);
    const second = new EventRelay({ store, js: bus.js, jsm: bus.jsm, family: 'nodes' });
    expect(await second.checkpoint()).toEqual({ position: 4, sequence: 4 });
    await second.start();
    await eventually(async () => (await second.checkpoint()).position === 7, 'position 7 relayed');
    await second.stop();
    const msgs = await readWholeStream(bus.js, bus.jsm, stream);
    expect(msgs.map((m) => Number(m.headers?.get(EVENT_HEADERS.position)))).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('refuses to start when the stream is ahead of the store (a reset store), saying so', async () => {
    await store.append('node-a', someEvents(3, 'a'), 'no_stream');
    await (await relayUntil(3)).stop();
    const emptyStore = await openSqlEventStore({ type: 'sqlite', path: ':memory:' });
    const relay = new EventRelay({ store: emptyStore, js: bus.js, jsm: bus.jsm, family: 'nodes' });
    await expect(relay.start()).rejects.toThrow(/already holds position 3 but the event store ends at 0/);
    await emptyStore.close();
  });

  it('never leaves a gap when another publisher interferes: it re-reads the stream and resumes', async () => {
    await store.append('node-a', someEvents(2, 'a'), 'no_stream');
    const errors: unknown[] = [];
    const rogue = () => bus.js.publish('weai.evt.nodes.x.NodeCameOnline', new TextEncoder().encode('{}'));
    await rogue();
    const relay = new EventRelay({ store, js: bus.js, jsm: bus.jsm, family: 'nodes', retryDelayMs: 10, onError: (e) => errors.push(e) });
    await relay.start();
    await eventually(async () => (await relay.checkpoint()).position === 2, 'position 2 relayed');
    await rogue();
    await store.append('node-a', someEvents(3, 'a'), 1);
    await eventually(async () => (await relay.checkpoint()).position === 5, 'position 5 relayed');
    await relay.stop();
    expect(errors.map(String).join('\n')).toMatch(/wrong last (sequence|msg ?id)/i);
    const positions = (await readWholeStream(bus.js, bus.jsm, stream)).map((m) => m.headers?.get(EVENT_HEADERS.position) ?? 'rogue');
    expect(positions).toEqual(['rogue', '1', '2', 'rogue', '3', '4', '5']);
  });

  it('given a relay re-reading its checkpoint after a refused publish, when it is stopped meanwhile, then it stops instead of relaying on', async () => {
    const first = await store.append('node-a', someEvents(2, 'a'), 'no_stream');
    // The stream manager the relay uses, with its `info` (the checkpoint's first call) held at a gate.
    let gate: Promise<void> | undefined = undefined;
    let open!: () => void;
    let held!: () => void;
    const reached = new Promise<void>((r) => (held = r));
    const streams = new Proxy(bus.jsm.streams, {
      get(target, prop) {
        const value = Reflect.get(target, prop, target) as (...args: unknown[]) => Promise<unknown>;
        if (prop !== 'info') return typeof value === 'function' ? value.bind(target) : value;
        return async (...args: unknown[]) => {
          if (gate) {
            held();
            await gate;
          }
          return value.apply(target, args);
        };
      },
    });
    const jsm = new Proxy(bus.jsm, { get: (target, prop) => (prop === 'streams' ? streams : Reflect.get(target, prop, target)) });
    let published = 0;
    let relayedTwo!: () => void;
    const two = new Promise<void>((r) => (relayedTwo = r));
    const relay = new EventRelay({ store, js: bus.js, jsm, family: 'nodes', retryDelayMs: 1, onError: () => undefined, onPublished: () => ++published === 2 && relayedTwo() });
    await relay.start();
    await two;
    // A message the relay did not publish makes its next publish refused: it re-reads its checkpoint, held at the gate.
    gate = new Promise<void>((r) => (open = r));
    await bus.js.publish('weai.evt.nodes.x.NodeCameOnline', new TextEncoder().encode('{}'));
    await store.append('node-a', someEvents(1, 'a'), first.nextExpectedRevision);
    await reached;
    const stopped = relay.stop();
    open();
    const outcome = await Promise.race([stopped.then(() => 'stopped'), new Promise((r) => setTimeout(() => r('still relaying 10 s after stop()'), 10_000))]);
    expect(outcome).toBe('stopped');
  });

  describe('publishing in groups with one acknowledgement each (nc given)', () => {
    /** The relay's messages of the stream (rogue ones left out) as event ids, and position → sequence. */
    async function relayed(): Promise<{ ids: string[]; seqOf: Map<number, number> }> {
      const msgs = (await readWholeStream(bus.js, bus.jsm, stream)).filter((m) => m.headers?.get(EVENT_HEADERS.position));
      const seqOf = new Map(msgs.map((m) => [Number(m.headers!.get(EVENT_HEADERS.position)), m.seq]));
      return { ids: msgs.map((m) => decodeEvent(m).event.metadata.eventId), seqOf };
    }

    it('loses, repeats and reorders nothing when messages of a group are refused mid-way, and reports each stored sequence', async () => {
      let expected: number | 'no_stream' = 'no_stream';
      for (let i = 0; i < 30; i++) expected = (await store.append('node-a', someEvents(100, 'a'), expected)).nextExpectedRevision;
      // A second connection publishes on the stream at random moments: each lands between two of the
      // relay's messages, so the relay's next message (often a plain one inside a group) is refused.
      const rogueBus = await connectBus({ servers: nats.url, name: 'rogue' });
      let rogues = 0;
      let stopRogue = false;
      const rogue = (async () => {
        while (!stopRogue && rogues < 25) {
          await rogueBus.js.publish('weai.evt.nodes.x.NodeCameOnline', new TextEncoder().encode('{}'));
          rogues++;
          await new Promise((r) => setTimeout(r, Math.random() * 8));
        }
      })();
      const reported = new Map<number, number>();
      const errors: unknown[] = [];
      const relay = new EventRelay({
        store,
        nc: bus.nc,
        js: bus.js,
        jsm: bus.jsm,
        family: 'nodes',
        maxInFlight: 32,
        ackEvery: 8,
        retryDelayMs: 1,
        onError: (e) => errors.push(e),
        onPublished: (event, ack) => {
          if (reported.has(event.position)) throw new Error(`position ${event.position} reported twice`);
          reported.set(event.position, ack.seq);
        },
      });
      await relay.start();
      await eventually(async () => (await relay.checkpoint()).position === 3000, 'position 3000 relayed', 30_000);
      stopRogue = true;
      await rogue;
      await relay.stop();
      await rogueBus.close();

      const recorded = await store.readAll(0, 10_000);
      const { ids, seqOf } = await relayed();
      expect(ids).toEqual(recorded.map((e) => e.metadata.eventId));
      expect(rogues).toBeGreaterThan(0);
      expect(errors.map(String).join('\n')).toMatch(/wrong last (sequence|msg ?id)/i);
      expect(errors.map(String).join('\n')).not.toMatch(/already in/);
      // Every event reported as stored is stored at the reported sequence. (Plain publishes stored
      // before a refused acknowledged one are stored but not reported: their confirmation never came.)
      for (const [position, seq] of reported) expect([position, seqOf.get(position)]).toEqual([position, seq]);
      expect(reported.size).toBeGreaterThan(0);
    });

    it('two relays on one store at once leave each event in the stream once, in log order', async () => {
      let expected: number | 'no_stream' = 'no_stream';
      for (let i = 0; i < 20; i++) expected = (await store.append('node-a', someEvents(100, 'a'), expected)).nextExpectedRevision;
      const other = await connectBus({ servers: nats.url, name: 'relay-2' });
      const relays = [bus, other].map(
        (b) => new EventRelay({ store, nc: b.nc, js: b.js, jsm: b.jsm, family: 'nodes', maxInFlight: 64, ackEvery: 16, retryDelayMs: 1, onError: () => undefined }),
      );
      await Promise.all(relays.map((r) => r.start()));
      // More events while both run.
      for (let i = 0; i < 10; i++) expected = (await store.append('node-a', someEvents(50, 'a'), expected)).nextExpectedRevision;
      await eventually(async () => (await relays[0]!.checkpoint()).position === 2500, 'position 2500 relayed', 30_000);
      await Promise.all(relays.map((r) => r.stop()));
      await other.close();
      const recorded = await store.readAll(0, 10_000);
      expect((await relayed()).ids).toEqual(recorded.map((e) => e.metadata.eventId));
    });
  });
});
