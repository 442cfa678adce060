/**
 * Timestamps of a job's messages as they cross the bus, seen by plain core-NATS subscriptions of
 * the benchmark (which JetStream publishes reach as well): the scheduler's work items
 * (`weai.shard.>`), the agents' results (`weai.result.>`) and the events the scheduler's relay
 * publishes for one partner (`weai.evt.jobs.<partner>.<Type>`). Nothing is acknowledged or
 * consumed; bodies are parsed only for the few event types asked for.
 */
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { RESULT_HEADERS, WORK_HEADERS, eventSubject } from '@weai/contracts';
import { wallMs } from './util';

export interface SeenEvent {
  readonly type: string;
  /** Arrival here, wall-clock ms. */
  readonly at: number;
  /** The envelope's `data`, for the types that are parsed. */
  readonly data?: Record<string, unknown>;
}

export interface SeenMessage {
  readonly at: number;
  readonly jobId: string;
  readonly shard: number;
  readonly replica: number;
  /** Compute time the node reported (results only). */
  readonly computeMs?: number;
}

const decoder = new TextDecoder();

export class Tap {
  readonly events: SeenEvent[] = [];
  readonly counts = new Map<string, number>();
  readonly shards: SeenMessage[] = [];
  readonly results: SeenMessage[] = [];
  private readonly subs: Subscription[] = [];
  private readonly waiters = new Set<() => void>();

  private constructor() {}

  /**
   * Starts watching. `parse` lists the event types whose bodies are kept; `messages` also records
   * every work item and result (one entry each: keep it for small jobs).
   */
  static async open(nc: NatsConnection, options: { partnerId: string; parse: readonly string[]; messages: boolean }): Promise<Tap> {
    const tap = new Tap();
    const parse = new Set(options.parse);
    tap.subs.push(
      nc.subscribe(eventSubject('jobs', options.partnerId, '*'), {
        callback: (err, msg) => {
          if (err) return;
          const at = wallMs();
          const type = msg.subject.slice(msg.subject.lastIndexOf('.') + 1);
          tap.counts.set(type, (tap.counts.get(type) ?? 0) + 1);
          if (parse.has(type)) {
            const envelope = JSON.parse(decoder.decode(msg.data)) as { data: Record<string, unknown> };
            tap.events.push({ type, at, data: envelope.data });
          } else {
            tap.events.push({ type, at });
          }
          tap.notify();
        },
      }),
    );
    if (options.messages) {
      const record = (into: SeenMessage[], headers: typeof WORK_HEADERS | typeof RESULT_HEADERS) =>
        nc.subscribe(into === tap.shards ? 'weai.shard.>' : 'weai.result.>', {
          callback: (err, msg) => {
            if (err) return;
            const at = wallMs();
            const h = msg.headers;
            const computeMs = h?.get(RESULT_HEADERS.computeMs);
            into.push({
              at,
              jobId: h?.get(headers.job) ?? '',
              shard: Number(h?.get(headers.shard)),
              replica: Number(h?.get(headers.replica)),
              ...(computeMs && into === tap.results ? { computeMs: Number(computeMs) } : {}),
            });
            tap.notify();
          },
        });
      tap.subs.push(record(tap.shards, WORK_HEADERS), record(tap.results, RESULT_HEADERS));
    }
    // The subscriptions are in place on the server once a round trip has gone through.
    await nc.flush();
    return tap;
  }

  private notify(): void {
    this.waiters.forEach((w) => w());
  }

  /** Resolves with the first value `find` returns for the record so far (re-checked on each arrival). */
  until<T>(what: string, find: () => T | undefined, timeoutMs: number): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const v = find();
        if (v !== undefined) {
          done();
          resolve(v);
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }

  /** The first event of `type` about `jobId` (a parsed type). */
  find(jobId: string, type: string): SeenEvent | undefined {
    return this.events.find((e) => e.type === type && e.data?.['jobId'] === jobId);
  }

  /** Forgets what was recorded (between jobs). */
  clear(): void {
    this.events.length = 0;
    this.shards.length = 0;
    this.results.length = 0;
    this.counts.clear();
  }

  close(): void {
    for (const s of this.subs.splice(0)) s.unsubscribe();
    this.waiters.clear();
  }
}
