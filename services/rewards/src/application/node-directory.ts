import { EntitySchema, type DataSource, type EntityManager, type MigrationInterface, type QueryRunner } from 'typeorm';
import type { JetStreamManager } from '@nats-io/jetstream';
import { streamOfFamily } from '@weai/contracts';
import { type Projection, type ReceivedEvent, readCheckpoint } from '@weai/messaging';

/** What the rewards service knows of a node: whose it is and how fast it is. */
export interface RewardNode {
  nodeId: string;
  ownerId: string;
  /** Last reported benchmark score; null until the node reports its capabilities. */
  benchmarkScore: number | null;
}

/** Where an owner is paid (`NodeRegistered.payoutAddress`; owner ids derive from it, so it is one per owner). */
export interface PayoutAddress {
  ownerId: string;
  payoutAddress: string;
}

export const RewardNodeEntity = new EntitySchema<RewardNode>({
  name: 'RewardNode',
  tableName: 'rewards_nodes',
  columns: {
    nodeId: { type: String, primary: true, name: 'node_id', length: 128 },
    ownerId: { type: String, name: 'owner_id', length: 128 },
    benchmarkScore: { type: 'double precision', name: 'benchmark_score', nullable: true },
  },
});

export const PayoutAddressEntity = new EntitySchema<PayoutAddress>({
  name: 'RewardPayoutAddress',
  tableName: 'rewards_payout_addresses',
  columns: {
    ownerId: { type: String, primary: true, name: 'owner_id', length: 128 },
    payoutAddress: { type: String, name: 'payout_address', length: 42 },
  },
});

export class CreateRewardNodes1764500000000 implements MigrationInterface {
  async up(q: QueryRunner): Promise<void> {
    await q.query('CREATE TABLE rewards_nodes (node_id VARCHAR(128) PRIMARY KEY, owner_id VARCHAR(128) NOT NULL, benchmark_score DOUBLE PRECISION)');
    await q.query('CREATE TABLE rewards_payout_addresses (owner_id VARCHAR(128) PRIMARY KEY, payout_address VARCHAR(42) NOT NULL)');
  }
  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE rewards_payout_addresses');
    await q.query('DROP TABLE rewards_nodes');
  }
}

/** Nodes' owners and speeds, and owners' payout addresses, from the node network's events. */
export const nodeDirectoryProjection: Projection = {
  name: 'rewards-nodes',
  streams: [streamOfFamily('nodes')],
  async apply({ event }: ReceivedEvent, em: EntityManager) {
    // Two events of the nodes family matter here; every other one passes by.
    // eslint-disable-next-line @typescript-eslint/switch-exhaustiveness-check
    switch (event.type) {
      case 'NodeRegistered':
        await em.getRepository(RewardNodeEntity).upsert({ nodeId: event.data.nodeId, ownerId: event.data.ownerId, benchmarkScore: null }, ['nodeId']);
        await em.getRepository(PayoutAddressEntity).upsert({ ownerId: event.data.ownerId, payoutAddress: event.data.payoutAddress }, ['ownerId']);
        return;
      case 'NodeCapabilitiesReported':
        await em.getRepository(RewardNodeEntity).update({ nodeId: event.data.nodeId }, { benchmarkScore: event.data.capabilities.benchmarkScore });
        return;
      default:
        return;
    }
  },
};

/** A node the directory does not know (yet), or one that never reported its speed. */
export class UnknownNodeError extends Error {
  override readonly name = 'UnknownNodeError';
  readonly code = 'rewards.unknown-node';
}

/**
 * Reads the node directory. The node network's events come through another stream than the
 * scheduler's, so a validated result may arrive before its node's registration has been
 * projected (after a restart, say): `require` then waits until the directory has caught up with
 * the nodes stream as it is now before concluding the node is unknown.
 */
export class NodeDirectory {
  constructor(
    private readonly readModel: DataSource,
    private readonly jsm: JetStreamManager,
    private readonly catchUpMs = 10_000,
  ) {}

  /** The node's owner and benchmark score, or UnknownNodeError (the message is retried, then parked). */
  async require(nodeId: string): Promise<{ ownerId: string; benchmarkScore: number }> {
    const deadline = performance.now() + this.catchUpMs;
    let target: number | undefined;
    for (;;) {
      const node = await this.readModel.getRepository(RewardNodeEntity).findOneBy({ nodeId });
      if (node && node.benchmarkScore !== null) return { ownerId: node.ownerId, benchmarkScore: node.benchmarkScore };
      target ??= (await this.jsm.streams.info(streamOfFamily('nodes'))).state.last_seq;
      const { streamSequence } = await readCheckpoint(this.readModel, nodeDirectoryProjection.name, streamOfFamily('nodes'));
      if (streamSequence >= target || performance.now() > deadline) {
        throw new UnknownNodeError(node ? `node ${nodeId} has not reported its benchmark score` : `node ${nodeId} is not registered`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** The owner's payout address, if one of its nodes registered. */
  async payoutAddressOf(ownerId: string): Promise<string | undefined> {
    return (await this.readModel.getRepository(PayoutAddressEntity).findOneBy({ ownerId }))?.payoutAddress;
  }
}
