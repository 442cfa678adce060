/**
 * Metrics every service shares, on prom-client's default registry (see @weai/messaging metrics):
 * the relay's progress and the process's own (CPU, memory, event loop, GC).
 */
import type { EventStore, RecordedEvent } from '@weai/eventstore';
import { Counter, Gauge, collectDefaultMetrics, register } from 'prom-client';

const published = new Counter({ name: 'weai_relay_published_total', help: 'Events the relay saw JetStream confirm, by family', labelNames: ['family'] });

/** The relays of this process (one per family it owns, while it leads), for the lag gauge. */
const relays = new Map<string, { store: EventStore; position: number }>();

new Gauge({
  name: 'weai_relay_lag_events',
  help: 'Events appended to the store and not yet confirmed in JetStream (store head position minus the last position relayed), by family',
  labelNames: ['family'],
  // Measured when scraped, not per event: one read of the store's head per scrape.
  async collect() {
    this.reset();
    for (const [family, relay] of relays) {
      if (relay.position < 0) continue;
      const head = await relay.store.headPosition().catch(() => undefined);
      if (head !== undefined) this.set({ family }, Math.max(0, head - relay.position));
    }
  },
});

/** The relay's metrics for one family: call `published` from its `onPublished`, `stop` when it stops. */
export function relayMetrics(family: string, store: EventStore) {
  const counter = published.labels(family);
  const relay = { store, position: -1 };
  relays.set(family, relay);
  return {
    published(event: RecordedEvent): void {
      counter.inc();
      if (event.position > relay.position) relay.position = event.position;
    },
    /** Where the relay starts (its checkpoint), before anything is published. */
    startsAt(position: number): void {
      if (position > relay.position) relay.position = position;
    },
    stop(): void {
      if (relays.get(family) === relay) relays.delete(family);
    },
  };
}

let defaults = false;

/** Adds the process metrics once (they cost nothing until scraped, but an event-loop monitor). */
export function collectProcessMetrics(): void {
  if (defaults) return;
  defaults = true;
  collectDefaultMetrics({ register });
}
