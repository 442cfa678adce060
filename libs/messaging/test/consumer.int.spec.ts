import type { JsMsg } from '@nats-io/jetstream';
import { PARKED_STREAM, streamOfFamily } from '@weai/contracts';
import { nodeCameOnline } from '@weai/eventstore/src/testing/fixtures';
import { type Bus, MalformedMessageError, PARK_HEADERS, type ReceivedEvent, type RunningConsumer, connectBus, decodeEvent, encodeEvent, ensureStreams, runDurableConsumer } from '../src';
import { type TestNatsServer, startNatsServer } from '../src/testing/nats-server';
import { publishAsRelay } from '../src/testing/publish';
import { eventually, readWholeStream } from '../src/testing/streams';

describe('durable consumer', () => {
  let nats: TestNatsServer;
  let bus: Bus;
  let consumer: RunningConsumer | undefined;

  beforeEach(async () => {
    nats = await startNatsServer();
    bus = await connectBus({ servers: nats.url, name: 'consumer-test' });
    await ensureStreams(bus.jsm);
  });
  afterEach(async () => {
    await consumer?.stop();
    consumer = undefined;
    await bus.close();
    await nats.stop();
  });

  /** Starts a consumer of node events; resolves `done` once `expectedHandled` events were handled and `expectedParked` parked. */
  async function consume(
    handler: (r: ReceivedEvent) => Promise<void>,
    expected: { handled: number; parked: number },
    extra: { maxDeliver?: number; ackWaitMs?: number } = {},
  ) {
    const handled: string[] = [];
    const parked: Array<{ msg: JsMsg; reason: string }> = [];
    let finish!: () => void;
    const done = new Promise<void>((r) => (finish = r));
    const check = () => handled.length >= expected.handled && parked.length >= expected.parked && finish();
    consumer = await runDurableConsumer<ReceivedEvent>({
      js: bus.js,
      jsm: bus.jsm,
      stream: streamOfFamily('nodes'),
      durable: 'test-consumer',
      decode: decodeEvent,
      backoffMs: () => 10,
      ...extra,
      handler: async (r) => {
        await handler(r);
        handled.push((r.event.data as { nodeId: string }).nodeId);
        check();
      },
      onParked: (msg, reason) => {
        parked.push({ msg, reason });
        check();
      },
    });
    return { handled, parked, done };
  }

  it('parks an event that keeps failing after bounded retries, with its reason, and handles the rest', async () => {
    const attempts = new Map<string, number>();
    const run = await consume(
      async (r) => {
        const id = (r.event.data as { nodeId: string }).nodeId;
        attempts.set(id, (attempts.get(id) ?? 0) + 1);
        if (id === 'poison') throw new Error('cannot handle poison');
      },
      { handled: 2, parked: 1 },
      { maxDeliver: 3 },
    );
    await publishAsRelay(bus, nodeCameOnline('before'));
    await publishAsRelay(bus, nodeCameOnline('poison'));
    await publishAsRelay(bus, nodeCameOnline('after'));
    await run.done;
    expect(run.handled).toEqual(['before', 'after']);
    expect(attempts.get('poison')).toBe(3);
    const [copy] = await readWholeStream(bus.js, bus.jsm, PARKED_STREAM);
    expect(copy!.subject).toBe('weai.parked.test-consumer');
    expect(copy!.headers?.get(PARK_HEADERS.reason)).toMatch(/failed 3 times, last: cannot handle poison/);
    expect(copy!.headers?.get(PARK_HEADERS.sequence)).toBe('2');
    expect(decodeEvent(copy!).event.data).toEqual({ nodeId: 'poison', at: expect.any(String) });
  });

  it('parks an event the relay published with an expectation (Nats-Expected-Last-Msg-Id): the copy leaves JetStream’s publish controls behind', async () => {
    // The relay publishes each event after the first with the previous event's id as expected last
    // id; a parked copy that kept that header was refused by WEAI_PARKED ("wrong last msg ID"), so
    // the event was neither parked nor handled again — a scale-out run stalled so.
    const run = await consume(
      async (r) => {
        if ((r.event.data as { nodeId: string }).nodeId === 'poison') throw new Error('cannot handle poison');
      },
      { handled: 1, parked: 1 },
      { maxDeliver: 2 },
    );
    const first = nodeCameOnline('first');
    await publishAsRelay(bus, first);
    const poison = nodeCameOnline('poison');
    const recorded = { ...poison, streamId: 'test-poison', revision: 0, position: 99, schemaVersion: 1, recordedAt: new Date().toISOString() };
    const { subject, body, headers } = encodeEvent('nodes', recorded);
    await bus.js.publish(subject, body, { headers, msgID: poison.metadata.eventId, expect: { lastMsgID: first.metadata.eventId } });
    await run.done;
    const [copy] = await readWholeStream(bus.js, bus.jsm, PARKED_STREAM);
    expect(decodeEvent(copy!).event.data).toMatchObject({ nodeId: 'poison' });
    expect(copy!.headers?.has('Nats-Expected-Last-Msg-Id')).toBe(false);
  }, 20_000);

  it('parks corrupt messages at once with a clear reason and never blocks the events behind them', async () => {
    const run = await consume(async () => undefined, { handled: 1, parked: 3 });
    const enc = new TextEncoder();
    await bus.js.publish('weai.evt.nodes.x.NodeCameOnline', enc.encode('not json'));
    await bus.js.publish('weai.evt.nodes.x.NodeCameOnline', enc.encode('{"type":"NodeCameOnline"}'));
    const bad = { ...nodeCameOnline('x'), data: { nodeId: 'x', at: 'never' } };
    await bus.js.publish('weai.evt.nodes.x.NodeCameOnline', enc.encode(JSON.stringify({ ...bad, schemaVersion: 1, streamId: 's', revision: 0, position: 1 })));
    await publishAsRelay(bus, nodeCameOnline('fine'));
    await run.done;
    expect(run.handled).toEqual(['fine']);
    expect(run.parked.map((p) => p.reason)).toEqual([
      expect.stringMatching(/is not JSON/),
      expect.stringMatching(/is not an event envelope: .*schemaVersion/),
      expect.stringMatching(/data\.at/),
    ]);
    expect(run.parked.every((p) => p.msg.info.deliveryCount === 1)).toBe(true);
    // Terminated, not merely copied: nothing is left to come back after the ack wait.
    await eventually(async () => (await bus.jsm.consumers.info(streamOfFamily('nodes'), 'test-consumer')).num_ack_pending === 0, 'the parked messages terminated', 5000);
  });

  it('parks at once, without retries, a message its handler finds malformed (MalformedMessageError)', async () => {
    let calls = 0;
    const run = await consume(
      async (r) => {
        if ((r.event.data as { nodeId: string }).nodeId !== 'unknown') return;
        calls++;
        throw new MalformedMessageError('no such thing, nor will there be');
      },
      { handled: 1, parked: 1 },
      { maxDeliver: 1000 },
    );
    await publishAsRelay(bus, nodeCameOnline('unknown'));
    await publishAsRelay(bus, nodeCameOnline('after'));
    await run.done;
    expect(calls).toBe(1);
    expect(run.parked.map((p) => [p.reason, p.msg.info.deliveryCount])).toEqual([['no such thing, nor will there be', 1]]);
  });

  it('keeps the lease of a handler that runs longer than the ack wait: delivered once', async () => {
    let calls = 0;
    const run = await consume(
      async () => {
        calls++;
        await new Promise((r) => setTimeout(r, 2500));
      },
      { handled: 1, parked: 0 },
      { ackWaitMs: 1000 },
    );
    await publishAsRelay(bus, nodeCameOnline('slow'));
    await run.done;
    const info = () => bus.jsm.consumers.info(streamOfFamily('nodes'), 'test-consumer');
    await eventually(async () => (await info()).num_ack_pending === 0, 'the ack');
    expect(calls).toBe(1);
    expect((await info()).num_redelivered).toBe(0);
  });
});
