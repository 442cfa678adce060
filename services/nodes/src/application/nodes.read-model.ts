import { EntitySchema, type EntityManager, type MigrationInterface, type QueryRunner } from 'typeorm';
import { streamOfFamily } from '@weai/contracts';
import { assertNever } from '@weai/decider';
import type { Projection, ReceivedEvent } from '@weai/messaging';
import type { NodeEvent } from '../domain/node';

/** One row of the operators' view of the node network. */
export interface NodeView {
  nodeId: string;
  ownerId: string;
  capabilityClasses: string[];
  benchmarkScore: number;
  online: boolean;
  available: boolean;
  quarantineReason: string | null;
  lastChangeAt: string;
}

export const NodeViewEntity = new EntitySchema<NodeView>({
  name: 'NodeView',
  tableName: 'nodes_view',
  columns: {
    nodeId: { type: String, primary: true, name: 'node_id', length: 128 },
    ownerId: { type: String, name: 'owner_id', length: 128 },
    capabilityClasses: { type: 'simple-json', name: 'capability_classes' },
    benchmarkScore: { type: 'double precision', name: 'benchmark_score' },
    online: { type: Boolean },
    available: { type: Boolean },
    quarantineReason: { type: String, name: 'quarantine_reason', nullable: true, length: 512 },
    lastChangeAt: { type: String, name: 'last_change_at', length: 32 },
  },
});

export class CreateNodesView1764200000000 implements MigrationInterface {
  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE nodes_view (
      node_id VARCHAR(128) PRIMARY KEY,
      owner_id VARCHAR(128) NOT NULL,
      capability_classes TEXT NOT NULL,
      benchmark_score DOUBLE PRECISION NOT NULL,
      online BOOLEAN NOT NULL,
      available BOOLEAN NOT NULL,
      quarantine_reason VARCHAR(512),
      last_change_at VARCHAR(32) NOT NULL)`);
  }
  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE nodes_view');
  }
}

/** The nodes read model: one row per node, fed from WEAI_NODES. */
export const nodesProjection: Projection = {
  name: 'nodes-view',
  streams: [streamOfFamily('nodes')],
  async apply({ event }: ReceivedEvent, em: EntityManager) {
    const e = event as NodeEvent;
    const repo = em.getRepository(NodeViewEntity);
    const at = e.metadata.occurredAt;
    const patch = (nodeId: string, change: Partial<NodeView>) => repo.update({ nodeId }, { ...change, lastChangeAt: at });
    switch (e.type) {
      case 'NodeRegistered':
        await repo.upsert(
          { nodeId: e.data.nodeId, ownerId: e.data.ownerId, capabilityClasses: [], benchmarkScore: 0, online: false, available: false, quarantineReason: null, lastChangeAt: at },
          ['nodeId'],
        );
        return;
      case 'NodeCapabilitiesReported':
        await patch(e.data.nodeId, { capabilityClasses: e.data.capabilities.capabilityClasses, benchmarkScore: e.data.capabilities.benchmarkScore });
        return;
      case 'NodeCameOnline':
        await patch(e.data.nodeId, { online: true });
        return;
      case 'NodeWentOffline':
        await patch(e.data.nodeId, { online: false, available: false });
        return;
      case 'NodeBecameAvailable':
        await patch(e.data.nodeId, { available: true });
        return;
      case 'NodeBecameUnavailable':
        await patch(e.data.nodeId, { available: false });
        return;
      case 'NodeQuarantined':
        await patch(e.data.nodeId, { quarantineReason: e.data.reason });
        return;
      case 'NodeReleased':
        await patch(e.data.nodeId, { quarantineReason: null });
        return;
      case 'NodeStrikeRecorded':
        return;
      default:
        return assertNever(e, 'node event');
    }
  },
};
