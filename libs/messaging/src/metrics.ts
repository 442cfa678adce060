/**
 * Prometheus metrics of the messaging adapters, on prom-client's default registry: one registry
 * per process, served by the process's health server (`GET /metrics`). Labels are bounded by
 * the code (durable names, event families, outcomes), never by data (no job or node ids).
 */
import { Counter, Histogram, register } from 'prom-client';

/** The registry every WE-AI metric is on (prom-client's default one). */
export const metricsRegistry = register;

/** Returns the metric of that name if this process has it already (a module loaded twice, tests), else makes it. */
function once<M>(name: string, make: () => M): M {
  return (register.getSingleMetric(name) as M | undefined) ?? make();
}

const consumed = once(
  'weai_consumer_messages_total',
  () => new Counter({ name: 'weai_consumer_messages_total', help: 'Messages a durable consumer finished with, by outcome: handled, failed (retried later), skipped (not its type), parked', labelNames: ['durable', 'outcome'] }),
);
const duration = once(
  'weai_consumer_handler_duration_seconds',
  () =>
    new Histogram({
      name: 'weai_consumer_handler_duration_seconds',
      help: 'Time a durable consumer\u2019s handler took per message (handled or failed)',
      labelNames: ['durable'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 30],
    }),
);
const parked = once('weai_consumer_parked_total', () => new Counter({ name: 'weai_consumer_parked_total', help: 'Messages a durable consumer parked (gave up on)', labelNames: ['durable'] }));

/** The metrics of one durable consumer, with its labels bound once (the per-message cost is an add). */
export interface ConsumerMetrics {
  /** The handler resolved after `seconds`: the message is acknowledged. */
  handled(seconds: number): void;
  /** The handler threw after `seconds`: the message is retried or parked. */
  failed(seconds: number): void;
  /** Acknowledged without calling the handler (not a type it handles). */
  skipped(): void;
  /** Parked: copied to the parking stream and terminated. */
  parked(): void;
}

/** Binds the consumer metrics to one durable. */
export function consumerMetrics(durable: string): ConsumerMetrics {
  const ok = consumed.labels(durable, 'handled');
  const failed = consumed.labels(durable, 'failed');
  const skipped = consumed.labels(durable, 'skipped');
  const parkedOutcome = consumed.labels(durable, 'parked');
  const parkedCount = parked.labels(durable);
  const time = duration.labels(durable);
  return {
    handled: (s) => (ok.inc(), time.observe(s)),
    failed: (s) => (failed.inc(), time.observe(s)),
    skipped: () => skipped.inc(),
    parked: () => (parkedOutcome.inc(), parkedCount.inc()),
  };
}

/** Prometheus text exposition of the process's metrics: the body and its content type. */
export async function renderMetrics(): Promise<{ body: string; contentType: string }> {
  return { body: await register.metrics(), contentType: register.contentType };
}
