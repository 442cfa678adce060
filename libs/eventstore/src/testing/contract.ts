import { randomUUID } from 'node:crypto';
import { EventSchemaError, type WeaiEvent } from '@weai/contracts';
import {
  type EventStore,
  IdempotencyConflictError,
  InvalidArgumentError,
  type RecordedEvent,
  WrongExpectedRevisionError,
} from '../port';
import { nodeCameOnline, someEvents } from './fixtures';

/** What differs between adapters, declared by the adapter's spec. */
export interface ContractOptions {
  /** Event ids are unique across the whole store (SQL), not only within a stream (EventStoreDB). */
  readonly globallyUniqueEventIds: boolean;
  /** Re-opens the same store, to check that what was acknowledged survived. */
  readonly reopen?: () => Promise<EventStore>;
}

/**
 * The event-store contract: every adapter must pass it against its real database. Each test
 * uses fresh stream ids, so the suite also runs against a store that already holds events.
 */
export function eventStoreContract(name: string, open: () => Promise<EventStore>, options: ContractOptions): void {
  describe(`EventStore contract: ${name}`, () => {
    let store: EventStore;
    const stream = () => `contract-${randomUUID()}`;

    beforeAll(async () => {
      store = await open();
    });
    afterAll(async () => {
      await store?.close();
    });

    it('appends to a new stream and reads it back intact', async () => {
      const s = stream();
      const events = someEvents(3);
      const result = await store.append(s, events, 'no_stream');
      expect(result.nextExpectedRevision).toBe(2);
      const read = await store.readStream(s);
      expect(read.map((e) => e.revision)).toEqual([0, 1, 2]);
      expect(read.map((e) => e.metadata)).toEqual(events.map((e) => e.metadata));
      expect(read.map((e) => e.data)).toEqual(events.map((e) => e.data));
      expect(read[2]!.position).toBe(result.position);
      expect(read[0]!.position).toBeLessThan(read[1]!.position);
    });

    it('reads a stream from a revision with a maximum count, and an unknown stream as empty', async () => {
      const s = stream();
      await store.append(s, someEvents(5), 'no_stream');
      expect((await store.readStream(s, { fromRevision: 2, maxCount: 2 })).map((e) => e.revision)).toEqual([2, 3]);
      expect(await store.readStream(stream())).toEqual([]);
    });

    it('rejects a wrong expected revision, names the actual one, and writes nothing', async () => {
      const s = stream();
      await store.append(s, someEvents(2), 'no_stream');
      const head = await store.headPosition();
      await expect(store.append(s, someEvents(1), 0)).rejects.toMatchObject({ name: 'WrongExpectedRevisionError', actual: 1 });
      await expect(store.append(s, someEvents(1), 'no_stream')).rejects.toBeInstanceOf(WrongExpectedRevisionError);
      await expect(store.append(stream(), someEvents(1), 'stream_exists')).rejects.toBeInstanceOf(WrongExpectedRevisionError);
      await expect(store.append(stream(), someEvents(1), 3)).rejects.toThrow(/is at revision \(none\)/);
      expect(await store.readStream(s)).toHaveLength(2);
      expect(await store.headPosition()).toBe(head);
      await store.append(s, someEvents(1), 1);
      await store.append(s, someEvents(1), 'any');
      await store.append(s, someEvents(1), 'stream_exists');
      expect(await store.readStream(s)).toHaveLength(5);
    });

    it('is idempotent on event ids: re-sending an append writes nothing and answers as the first time', async () => {
      const s = stream();
      const events = someEvents(2);
      const first = await store.append(s, events, 'no_stream');
      const again = await store.append(s, events, 'no_stream');
      expect(again).toEqual(first);
      expect(await store.readStream(s)).toHaveLength(2);
    });

    it('refuses an append that reuses only some stored event ids, writing nothing', async () => {
      const s = stream();
      const events = someEvents(2);
      await store.append(s, events, 'no_stream');
      await expect(store.append(s, [events[1]!, nodeCameOnline('node-1')], 1)).rejects.toBeInstanceOf(IdempotencyConflictError);
      expect(await store.readStream(s)).toHaveLength(2);
    });

    if (options.globallyUniqueEventIds) {
      it('refuses an event id already stored in another stream', async () => {
        const events = someEvents(1);
        await store.append(stream(), events, 'no_stream');
        const other = stream();
        await expect(store.append(other, events, 'no_stream')).rejects.toBeInstanceOf(IdempotencyConflictError);
        expect(await store.readStream(other)).toEqual([]);
      });
    }

    it('refuses events that break their contract, naming the field, and writes nothing', async () => {
      const s = stream();
      const head = await store.headPosition();
      const bad = { ...nodeCameOnline('node-1'), data: { nodeId: 'has spaces', at: 'yesterday' } } as unknown as WeaiEvent;
      await expect(store.append(s, [nodeCameOnline('node-1'), bad], 'any')).rejects.toThrow(/data\.nodeId.*data\.at/s);
      await expect(store.append(s, [{ ...bad, type: 'NoSuchEvent' } as unknown as WeaiEvent], 'any')).rejects.toBeInstanceOf(EventSchemaError);
      const noId = { ...nodeCameOnline('n'), metadata: { correlationId: 'c' } } as unknown as WeaiEvent;
      await expect(store.append(s, [noId], 'any')).rejects.toThrow(/metadata\.eventId/);
      await expect(store.append('', someEvents(1), 'any')).rejects.toBeInstanceOf(InvalidArgumentError);
      await expect(store.append(s, [], 'any')).rejects.toBeInstanceOf(InvalidArgumentError);
      await expect(store.append(s, someEvents(1), -2)).rejects.toBeInstanceOf(InvalidArgumentError);
      const twice = nodeCameOnline('n');
      await expect(store.append(s, [twice, twice], 'any')).rejects.toBeInstanceOf(InvalidArgumentError);
      expect(await store.readStream(s)).toEqual([]);
      expect(await store.headPosition()).toBe(head);
    });

    it('reads the global log in one order, from a position (exclusive), page by page', async () => {
      const start = await store.headPosition();
      const a = stream();
      const b = stream();
      await store.append(a, someEvents(2), 'no_stream');
      await store.append(b, someEvents(2), 'no_stream');
      await store.append(a, someEvents(1), 1);
      const all = await readAllFrom(store, start);
      const ours = all.filter((e) => e.streamId === a || e.streamId === b);
      expect(ours.map((e) => `${e.streamId === a ? 'a' : 'b'}${e.revision}`)).toEqual(['a0', 'a1', 'b0', 'b1', 'a2']);
      const positions = all.map((e) => e.position);
      expect([...positions].sort((x, y) => x - y)).toEqual(positions);
      expect(new Set(positions).size).toBe(positions.length);
      const page = await store.readAll(start, 2);
      expect(page).toHaveLength(2);
      expect((await store.readAll(page[1]!.position, 100))[0]!.position).toBeGreaterThan(page[1]!.position);
      expect(await store.headPosition()).toBe(all[all.length - 1]!.position);
    });

    it('lets exactly one of 8 concurrent writers win each revision of a stream', async () => {
      const s = stream();
      await store.append(s, someEvents(1), 'no_stream');
      const outcomes = await Promise.allSettled(Array.from({ length: 8 }, () => store.append(s, someEvents(1), 0)));
      expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
      const rejected = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
      expect(rejected.every((o) => o.reason instanceof WrongExpectedRevisionError)).toBe(true);
      expect(await store.readStream(s)).toHaveLength(2);
    });

    it('keeps 8 concurrent writers on separate streams contiguous and gap-free per stream', async () => {
      const start = await store.headPosition();
      const streams = Array.from({ length: 8 }, stream);
      await Promise.all(
        streams.map(async (s) => {
          let expected: number | 'no_stream' = 'no_stream';
          for (let i = 0; i < 10; i++) expected = (await store.append(s, someEvents(2), expected)).nextExpectedRevision;
        }),
      );
      const all = (await readAllFrom(store, start)).filter((e) => streams.includes(e.streamId));
      expect(all).toHaveLength(160);
      for (const s of streams) {
        expect(all.filter((e) => e.streamId === s).map((e) => e.revision)).toEqual(Array.from({ length: 20 }, (_, i) => i));
      }
    });

    it('fails only the bad append when several arrive together', async () => {
      const good = stream();
      const taken = stream();
      await store.append(taken, someEvents(1), 'no_stream');
      const [ok, conflict, ok2] = await Promise.allSettled([
        store.append(good, someEvents(1), 'no_stream'),
        store.append(taken, someEvents(1), 'no_stream'),
        store.append(good, someEvents(1), 0),
      ]);
      expect(ok.status).toBe('fulfilled');
      expect(conflict.status).toBe('rejected');
      expect(ok2.status).toBe('fulfilled');
      expect(await store.readStream(good)).toHaveLength(2);
      expect(await store.readStream(taken)).toHaveLength(1);
    });

    it('delivers past and then live events to a catch-up subscription, in order, from a checkpoint', async () => {
      const s = stream();
      const start = await store.headPosition();
      await store.append(s, someEvents(3), 'no_stream');
      const seen: RecordedEvent[] = [];
      let resolveLive!: () => void;
      const live = new Promise<void>((r) => (resolveLive = r));
      const sub = store.subscribe(start, (e) => {
        if (e.streamId !== s) return;
        seen.push(e);
        if (seen.length === 5) resolveLive();
      }, { pollIntervalMs: 50 });
      await store.append(s, someEvents(2), 2);
      await live;
      await sub.stop();
      await sub.done;
      expect(seen.map((e) => e.revision)).toEqual([0, 1, 2, 3, 4]);

      const fromMiddle: number[] = [];
      let resolveTail!: () => void;
      const tail = new Promise<void>((r) => (resolveTail = r));
      const sub2 = store.subscribe(seen[2]!.position, (e) => {
        if (e.streamId !== s) return;
        fromMiddle.push(e.revision);
        if (e.revision === 4) resolveTail();
      });
      await tail;
      await sub2.stop();
      expect(fromMiddle).toEqual([3, 4]);
    });

    it('ends a subscription with the handler\'s error', async () => {
      const start = await store.headPosition();
      await store.append(stream(), someEvents(1), 'no_stream');
      const sub = store.subscribe(start, () => {
        throw new Error('projection bug');
      });
      await expect(sub.done).rejects.toThrow('projection bug');
    });

    if (options.reopen) {
      it('keeps every acknowledged append across a restart', async () => {
        const s = stream();
        const events = someEvents(4);
        await store.append(s, events, 'no_stream');
        await store.close();
        store = await options.reopen!();
        expect((await store.readStream(s)).map((e) => e.metadata.eventId)).toEqual(events.map((e) => e.metadata.eventId));
      });
    }
  });
}

/** Reads the whole log after a position. */
export async function readAllFrom(store: EventStore, from: number): Promise<RecordedEvent[]> {
  const out: RecordedEvent[] = [];
  for (let page = await store.readAll(from, 500); page.length > 0; page = await store.readAll(out[out.length - 1]!.position, 500)) {
    out.push(...page);
  }
  return out;
}
