/**
 * A node that cheats: it runs shards like any agent but reports every output shifted by 1.0.
 * Validation must catch it, use none of its results, and have it quarantined.
 *
 *   node -r @swc-node/register test/support/cheating-agent.ts NATS_URL DIR PAYOUT
 */
import { startAgent } from '@weai/node-agent';
import { type Tensor, float32Tensor, toFloat64Array } from '@weai/tensors';

const [url, dir, payout] = process.argv.slice(2) as [string, string, string];
const tamper = (t: Tensor): Tensor => float32Tensor(t.dims, Array.from(toFloat64Array(t), (v) => v + 1));

startAgent({ natsServers: [url], dataDir: dir, payoutAddress: payout, heartbeatMs: 300, slots: 2, leaseMs: 3000, tamper }).catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exit(1);
});
