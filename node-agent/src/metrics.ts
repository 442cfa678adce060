/**
 * The agent's Prometheus metrics (prom-client's default registry), served at `GET /metrics` on
 * its local status page. No job or shard ids as labels: a node runs many thousands of shards.
 */
import { Counter, Histogram, collectDefaultMetrics, register } from 'prom-client';

const shards = new Counter({ name: 'weai_agent_shards_total', help: 'Shards this agent finished, by outcome: completed (result sent), failed (failure reported), released (lease handed back)', labelNames: ['outcome'] });
const compute = new Histogram({
  name: 'weai_agent_shard_compute_seconds',
  help: 'Inference time of the shards this agent completed',
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
});

/** Counts what the shard worker does. */
export const shardMetrics = {
  completed(seconds: number): void {
    shards.inc({ outcome: 'completed' });
    compute.observe(seconds);
  },
  failed(): void {
    shards.inc({ outcome: 'failed' });
  },
  released(): void {
    shards.inc({ outcome: 'released' });
  },
};

let defaults = false;

/** The metrics in Prometheus text format; the process metrics (CPU, memory, event loop) are added on first use. */
export async function agentMetrics(): Promise<{ body: string; contentType: string }> {
  if (!defaults) {
    defaults = true;
    collectDefaultMetrics();
  }
  return { body: await register.metrics(), contentType: register.contentType };
}
