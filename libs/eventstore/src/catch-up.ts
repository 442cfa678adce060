import type { RecordedEvent, SubscribeOptions, Subscription } from './port';
import { checkPosition } from './port';

/** A source a catch-up subscription reads from, with a signal raised after every append. */
export interface CatchUpSource {
  readAll(fromPosition: number, maxCount: number): Promise<RecordedEvent[]>;
  /** Registers a listener called after each committed append; returns the unregister function. */
  onAppended(listener: () => void): () => void;
}

/**
 * A catch-up subscription over a store that can only be polled: reads pages from the checkpoint,
 * hands events one at a time to the handler, and when caught up waits for an append signal (same
 * process) or the poll interval (other processes), whichever comes first.
 */
export function pollingSubscription(
  source: CatchUpSource,
  fromPosition: number,
  handler: (event: RecordedEvent) => Promise<void> | void,
  options: SubscribeOptions = {},
): Subscription {
  checkPosition(fromPosition, 'fromPosition');
  const batchSize = options.batchSize ?? 1000;
  const pollIntervalMs = options.pollIntervalMs ?? 200;
  let stopped = false;
  let wake: (() => void) | undefined;
  let signalled = false;
  const unsubscribe = source.onAppended(() => {
    signalled = true;
    wake?.();
  });

  const run = async () => {
    let position = fromPosition;
    try {
      while (!stopped) {
        signalled = false;
        const page = await source.readAll(position, batchSize);
        for (const event of page) {
          if (stopped) return;
          // Await only what returns a promise: a handler that pipelines (the relay) stays in one turn.
          const pending = handler(event);
          if (pending) await pending;
          position = event.position;
        }
        if (page.length < batchSize && !stopped && !signalled) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, pollIntervalMs);
            wake = () => {
              clearTimeout(timer);
              resolve();
            };
          });
          wake = undefined;
        }
      }
    } finally {
      unsubscribe();
    }
  };

  const done = run();
  return {
    done,
    async stop() {
      stopped = true;
      wake?.();
      await done.catch(() => undefined);
    },
  };
}
