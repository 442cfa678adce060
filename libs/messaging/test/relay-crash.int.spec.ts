import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EVENT_HEADERS, streamOfFamily } from '@weai/contracts';
import { openSqlEventStore } from '@weai/eventstore';
import { readAllFrom } from '@weai/eventstore/src/testing/contract';
import { type Bus, EventRelay, connectBus, decodeEvent, ensureStreams } from '../src';
import { type TestNatsServer, startNatsServer } from '../src/testing/nats-server';
import { eventually, readWholeStream } from '../src/testing/streams';

describe('EventRelay killed between append and publish', () => {
  let nats: TestNatsServer;
  let bus: Bus;
  let dir: string;

  beforeAll(async () => {
    nats = await startNatsServer();
    bus = await connectBus({ servers: nats.url, name: 'crash-test' });
    await ensureStreams(bus.jsm);
    dir = mkdtempSync(join(tmpdir(), 'weai-crash-'));
  });
  afterAll(async () => {
    await bus.close();
    await nats.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('delivers every event exactly once, in order, across SIGKILLs at random moments', async () => {
    const path = join(dir, 'events.sqlite');
    const seen: string[] = [];
    // Core NATS sees every message JetStream stores on these subjects, as it is stored.
    const sub = bus.nc.subscribe('weai.evt.nodes.>');
    let notify: (() => void) | undefined;
    void (async () => {
      for await (const m of sub) {
        seen.push(m.headers?.get(EVENT_HEADERS.position) ?? '');
        notify?.();
      }
    })();

    for (let round = 0; round < 4; round++) {
      const child = spawn(process.execPath, ['-r', '@swc-node/register', join(__dirname, 'fixtures/relay-child.ts'), path, nats.url, '400'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      // Kill it after a random number of newly published events: mid-append, mid-publish, or mid-acknowledgement.
      const target = seen.length + 20 + Math.floor(Math.random() * 150);
      await Promise.race([new Promise<void>((r) => (notify = () => seen.length >= target && r())), exited]);
      child.kill('SIGKILL');
      await exited;
      expect(stderr).toBe('');
    }
    sub.unsubscribe();

    // A fresh relay finishes the job.
    const store = await openSqlEventStore({ type: 'sqlite', path });
    const head = await store.headPosition();
    const relay = new EventRelay({ store, js: bus.js, jsm: bus.jsm, family: 'nodes' });
    await relay.start();
    await eventually(async () => (await relay.checkpoint()).position === head, 'the relay to catch up', 30_000);
    await relay.stop();

    const recorded = await readAllFrom(store, 0);
    await store.close();
    const messages = await readWholeStream(bus.js, bus.jsm, streamOfFamily('nodes'));
    expect(recorded.length).toBeGreaterThan(100);
    expect(messages.map((m) => decodeEvent(m).event.metadata.eventId)).toEqual(recorded.map((e) => e.metadata.eventId));
    expect(messages.map((m) => decodeEvent(m).envelope.position)).toEqual(recorded.map((e) => e.position));
  });
});
