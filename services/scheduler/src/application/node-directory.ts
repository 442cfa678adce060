import { EntitySchema, type DataSource, type EntityManager, type MigrationInterface, type QueryRunner } from 'typeorm';
import { streamOfFamily } from '@weai/contracts';
import type { Projection, ReceivedEvent } from '@weai/messaging';

/** What the scheduler knows of a node: whose it is, and how far its results can be trusted. */
export interface NodeRecord {
  nodeId: string;
  ownerId: string;
  consecutiveValid: number;
  rejected: number;
  quarantined: boolean;
}

export const NodeRecordEntity = new EntitySchema<NodeRecord>({
  name: 'SchedulerNode',
  tableName: 'scheduler_nodes',
  columns: {
    nodeId: { type: String, primary: true, name: 'node_id', length: 128 },
    ownerId: { type: String, name: 'owner_id', length: 128 },
    consecutiveValid: { type: Number, name: 'consecutive_valid' },
    rejected: { type: Number },
    quarantined: { type: Boolean },
  },
});

export class CreateSchedulerNodes1764400000000 implements MigrationInterface {
  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE scheduler_nodes (node_id VARCHAR(128) PRIMARY KEY, owner_id VARCHAR(128) NOT NULL,
      consecutive_valid INTEGER NOT NULL, rejected INTEGER NOT NULL, quarantined BOOLEAN NOT NULL)`);
  }
  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE scheduler_nodes');
  }
}

/** Results in a row after which a node is trusted alone (BOINC's adaptive replication uses 10). */
export const TRUST_AFTER_VALID = 10;

/**
 * Node owners (from the node network's events) and trust (from the scheduler's own validation
 * events): a node earns trust with consecutive valid results and loses it with one rejection.
 */
export const nodeDirectoryProjection: Projection = {
  name: 'scheduler-nodes',
  streams: [streamOfFamily('nodes'), streamOfFamily('jobs')],
  async apply({ event }: ReceivedEvent, em: EntityManager) {
    const repo = em.getRepository(NodeRecordEntity);
    // This projection picks four events out of two families; every other event passes by.
    // eslint-disable-next-line @typescript-eslint/switch-exhaustiveness-check
    switch (event.type) {
      case 'NodeRegistered':
        await repo.upsert({ nodeId: event.data.nodeId, ownerId: event.data.ownerId, consecutiveValid: 0, rejected: 0, quarantined: false }, ['nodeId']);
        return;
      case 'NodeQuarantined':
      case 'NodeReleased':
        await repo.update({ nodeId: event.data.nodeId }, { quarantined: event.type === 'NodeQuarantined' });
        return;
      case 'ShardValidated':
        for (const a of event.data.accepted) await repo.increment({ nodeId: a.nodeId }, 'consecutiveValid', 1);
        return;
      case 'ShardResultRejected':
        await repo.update({ nodeId: event.data.nodeId }, { consecutiveValid: 0 });
        await repo.increment({ nodeId: event.data.nodeId }, 'rejected', 1);
        return;
      default:
        return;
    }
  },
};

/** Reads the directory, with a short-lived cache (results arrive by the thousand). */
export class NodeDirectory {
  private readonly cache = new Map<string, { record: NodeRecord; at: number }>();

  constructor(private readonly readModel: DataSource) {}

  async get(nodeId: string): Promise<NodeRecord | undefined> {
    const hit = this.cache.get(nodeId);
    const now = performance.now();
    if (hit && now - hit.at < 1000) return hit.record;
    const record = await this.readModel.getRepository(NodeRecordEntity).findOneBy({ nodeId });
    if (record) this.cache.set(nodeId, { record, at: now });
    return record ?? undefined;
  }
}
