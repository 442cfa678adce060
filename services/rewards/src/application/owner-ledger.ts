import { type Decided, type EventStore, WrongExpectedRevisionError, withMetadata } from '@weai/eventstore';
import { type OwnerEvent, type OwnerState, evolveOwner, initialOwnerState, toOwnerStreamId } from '../domain/owner';
import { type OwnerCommand, decideOwner } from '../domain/owner.decide';

interface Cached {
  state: OwnerState;
  /** Revision of the last event folded into `state`; -1 for none. */
  revision: number;
}

/**
 * The owners' ledger aggregates, with state kept in memory: an owner's stream holds one event
 * per paid shard, and re-reading it for every accrual would make each cost O(history). A command
 * reads only the events after the cached revision (none, unless another replica wrote) and
 * appends with that revision, so concurrent writers still meet optimistic concurrency. Commands
 * for one owner run one at a time in this process.
 */
export class OwnerLedger {
  private readonly cache = new Map<string, Cached>();
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(private readonly store: EventStore) {}

  /** The owner's current state, read from the store. */
  async load(ownerId: string): Promise<OwnerState> {
    return this.turn(ownerId, async () => (await this.refresh(ownerId)).state);
  }

  /** Decides and appends one command, re-deciding on a concurrent write. */
  execute(ownerId: string, command: OwnerCommand): Promise<{ events: OwnerEvent[]; state: OwnerState }> {
    return this.turn(ownerId, () => this.executeNow(ownerId, command));
  }

  private turn<T>(ownerId: string, work: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(ownerId) ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(work);
    this.queues.set(ownerId, run);
    void run.finally(() => this.queues.get(ownerId) === run && this.queues.delete(ownerId)).catch(() => undefined);
    return run;
  }

  private async executeNow(ownerId: string, command: OwnerCommand): Promise<{ events: OwnerEvent[]; state: OwnerState }> {
    for (let attempt = 0; ; attempt++) {
      const cached = await this.refresh(ownerId);
      const decided = decideOwner(command, cached.state) as unknown as Decided<OwnerEvent>[];
      if (decided.length === 0) return { events: [], state: cached.state };
      const events = withMetadata<OwnerEvent>(decided, command.metadata);
      try {
        const result = await this.store.append(toOwnerStreamId(ownerId), events, cached.revision === -1 ? 'no_stream' : cached.revision);
        // An append the store already held (a redelivered command) answers with the old revision: nothing is folded twice.
        const first = result.nextExpectedRevision - events.length + 1;
        events.forEach((e, i) => this.apply(cached, e, first + i));
        return { events, state: cached.state };
      } catch (error) {
        if (!(error instanceof WrongExpectedRevisionError) || attempt >= 5) throw error;
      }
    }
  }

  private async refresh(ownerId: string): Promise<Cached> {
    let cached = this.cache.get(ownerId);
    if (!cached) {
      cached = { state: initialOwnerState(), revision: -1 };
      this.cache.set(ownerId, cached);
    }
    const fresh = await this.store.readStream(toOwnerStreamId(ownerId), { fromRevision: cached.revision + 1 });
    for (const e of fresh) this.apply(cached, e as unknown as OwnerEvent, e.revision);
    return cached;
  }

  private apply(cached: Cached, event: OwnerEvent, revision: number): void {
    if (revision <= cached.revision) return;
    cached.state = evolveOwner(cached.state, event);
    cached.revision = revision;
  }
}
