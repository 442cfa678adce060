import type { EventOfType } from '@weai/contracts';
import type { OwnerLedger } from './owner-ledger';
import type { NodeDirectory } from './node-directory';
import { type RewardPolicy, termsFor } from '../domain/policy';
import { commandMetadata } from './metadata';

/**
 * Turns a validated shard into one accrual per accepted node, on the node owner's ledger. The
 * command id derives from job, shard and node, so a redelivered event, or the same shard
 * validated twice, pays once: the store keeps the first append of those event ids.
 */
export class RewardAccrual {
  constructor(
    private readonly ledger: OwnerLedger,
    private readonly nodes: NodeDirectory,
    private readonly policy: RewardPolicy,
  ) {}

  async onShardValidated(e: EventOfType<'ShardValidated'>, now: Date): Promise<number> {
    const { jobId, shardId, partnerId } = e.data;
    const terms = termsFor(this.policy, partnerId);
    let accrued = 0;
    for (const { nodeId, computeMs } of e.data.accepted) {
      const node = await this.nodes.require(nodeId);
      const metadata = commandMetadata(now, { key: `accrue:${jobId}:${shardId}:${nodeId}`, causationId: e.metadata.eventId, correlationId: e.metadata.correlationId });
      const { events } = await this.ledger.execute(node.ownerId, {
        type: 'AccrueReward',
        data: { ownerId: node.ownerId, nodeId, jobId, shardId, partnerId, work: { computeMs, benchmarkScore: node.benchmarkScore }, terms },
        metadata,
      });
      accrued += events.length;
    }
    return accrued;
  }
}
