import { randomUUID } from 'node:crypto';
import type { EventOfType } from '@weai/contracts';
import { type Decider, DomainError } from '@weai/decider';
import { type CommandMetadata, type Decided, type EventStore, WrongExpectedRevisionError, handleCommand, openSqlEventStore } from '../src';

// A minimal quarantine decider over real contract events, to exercise the generic handler.
type QuarantineEvent = EventOfType<'NodeQuarantined'> | EventOfType<'NodeReleased'>;
type Quarantine = { type: 'Quarantine' | 'Release'; nodeId: string; reason: string; metadata: CommandMetadata };
type State = { quarantined: boolean };

const quarantine: Decider<Quarantine, QuarantineEvent, State> = {
  initialState: () => ({ quarantined: false }),
  decide(cmd, state) {
    const data = { nodeId: cmd.nodeId, reason: cmd.reason, by: 'operator-1' };
    if (cmd.type === 'Quarantine') {
      if (state.quarantined) throw new DomainError('node is already quarantined', 'node.quarantined');
      return [{ type: 'NodeQuarantined', data } as Decided<QuarantineEvent> as QuarantineEvent];
    }
    return state.quarantined ? [{ type: 'NodeReleased', data } as Decided<QuarantineEvent> as QuarantineEvent] : [];
  },
  evolve: (_s, e) => ({ quarantined: e.type === 'NodeQuarantined' }),
};

const meta = (commandId = randomUUID()): CommandMetadata => ({ commandId, correlationId: 'c', causationId: 'c', now: '2026-11-25T10:00:00.000Z' });

describe('handleCommand (SQLite in memory)', () => {
  let store: EventStore;
  beforeEach(async () => {
    store = await openSqlEventStore({ type: 'sqlite', path: ':memory:' });
  });
  afterEach(() => store.close());

  it('reads, decides and appends with metadata taken from the command', async () => {
    const m = meta();
    const { events, state } = await handleCommand(store, quarantine, 'node-n1', { type: 'Quarantine', nodeId: 'n1', reason: 'cheating', metadata: m });
    expect(state).toEqual({ quarantined: true });
    const [stored] = await store.readStream('node-n1');
    expect(stored!.metadata).toEqual({ eventId: events[0]!.metadata.eventId, correlationId: 'c', causationId: 'c', occurredAt: m.now });
  });

  it('handles the same command twice (a redelivery) without writing twice', async () => {
    const cmd: Quarantine = { type: 'Quarantine', nodeId: 'n1', reason: 'cheating', metadata: meta() };
    await handleCommand(store, quarantine, 'node-n1', cmd);
    // The second run sees the node quarantined and refuses: the domain rule, not a duplicate.
    await expect(handleCommand(store, quarantine, 'node-n1', cmd)).rejects.toThrow(DomainError);
    expect(await store.readStream('node-n1')).toHaveLength(1);
  });

  const release = (nodeId: string) => ({ type: 'Release' as const, nodeId, reason: 'ok', metadata: meta() });

  it('surfaces a concurrent write as a conflict: one writer wins, the others are refused', async () => {
    await handleCommand(store, quarantine, 'node-n2', { type: 'Quarantine', nodeId: 'n2', reason: 'x', metadata: meta() });
    const attempts = await Promise.allSettled(Array.from({ length: 4 }, () => handleCommand(store, quarantine, 'node-n2', release('n2'))));
    expect(attempts.filter((a) => a.status === 'fulfilled')).toHaveLength(1);
    const conflicts = attempts.filter((a): a is PromiseRejectedResult => a.status === 'rejected');
    expect(conflicts.map((c) => c.reason instanceof WrongExpectedRevisionError)).toEqual([true, true, true]);
    expect((await store.readStream('node-n2')).map((e) => e.type)).toEqual(['NodeQuarantined', 'NodeReleased']);
  });

  it('decides again on fresh state after a conflict when asked to retry', async () => {
    await handleCommand(store, quarantine, 'node-n3', { type: 'Quarantine', nodeId: 'n3', reason: 'x', metadata: meta() });
    const results = await Promise.all(
      Array.from({ length: 4 }, () => handleCommand(store, quarantine, 'node-n3', release('n3'), { retryOnConflict: 3 })),
    );
    expect(results.map((r) => r.events.length).sort()).toEqual([0, 0, 0, 1]);
    expect((await store.readStream('node-n3')).map((e) => e.type)).toEqual(['NodeQuarantined', 'NodeReleased']);
  });
});
