import { DeliverPolicy, type ConsumerMessages } from '@nats-io/jetstream';
import type { WeaiEvent } from '@weai/contracts';
import { type Bus, MalformedMessageError, decodeEvent } from '@weai/messaging';

/** Every event of one JetStream stream, as it arrives, with waits that resolve on arrival. */
export interface EventLog {
  readonly events: WeaiEvent[];
  /** Resolves with the matching events once `predicate` holds for the log; rejects after `timeoutMs`. */
  until<T>(what: string, predicate: (events: WeaiEvent[]) => T | undefined | false, timeoutMs?: number): Promise<T>;
  close(): Promise<void>;
}

export async function watchStream(bus: Bus, stream: string): Promise<EventLog> {
  const events: WeaiEvent[] = [];
  const waiters = new Set<() => void>();
  const consumer = await bus.js.consumers.get(stream, { deliver_policy: DeliverPolicy.All });
  const messages: ConsumerMessages = await consumer.consume();
  const pump = (async () => {
    for await (const m of messages) {
      try {
        events.push(decodeEvent(m).event);
      } catch (error) {
        // Not an event (a fuzz test publishes such messages): the log holds events only.
        if (!(error instanceof MalformedMessageError)) throw error;
        continue;
      }
      waiters.forEach((w) => w());
    }
  })();
  return {
    events,
    until(what, predicate, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const v = predicate(events);
          if (v) {
            cleanup();
            resolve(v);
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; saw: ${events.map((e) => e.type).join(', ')}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    async close() {
      await messages.close();
      await pump;
    },
  };
}

/** The events of one type, narrowed. */
export function ofType<T extends WeaiEvent['type']>(events: WeaiEvent[], type: T): Extract<WeaiEvent, { type: T }>[] {
  return events.filter((e): e is Extract<WeaiEvent, { type: T }> => e.type === type);
}
