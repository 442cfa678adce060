import { EntitySchema, type EntityManager, type MigrationInterface, type QueryRunner } from 'typeorm';
import { type NodesFamilyEvent, streamOfFamily } from '@weai/contracts';
import { assertNever } from '@weai/decider';
import type { Projection, ReceivedEvent } from '@weai/messaging';
import { type ClassTotals, type NodeCapacity, capacityDelta } from '../domain/capacity';

interface NodeRow extends NodeCapacity {
  nodeId: string;
  classes: string[];
}
interface ClassRow extends ClassTotals {
  capabilityClass: string;
}

export const CapacityNodeEntity = new EntitySchema<NodeRow>({
  name: 'CapacityNode',
  tableName: 'capacity_nodes',
  columns: {
    nodeId: { type: String, primary: true, name: 'node_id', length: 128 },
    classes: { type: 'simple-json' },
    score: { type: 'double precision' },
    online: { type: Boolean },
    available: { type: Boolean },
    quarantined: { type: Boolean },
  },
});

export const CapacityClassEntity = new EntitySchema<ClassRow>({
  name: 'CapacityClass',
  tableName: 'capacity_classes',
  columns: {
    capabilityClass: { type: String, primary: true, name: 'capability_class', length: 64 },
    online: { type: Number },
    available: { type: Number },
    availableScore: { type: 'double precision', name: 'available_score' },
  },
});

export class CreateCapacityIndex1764300000000 implements MigrationInterface {
  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE capacity_nodes (node_id VARCHAR(128) PRIMARY KEY, classes TEXT NOT NULL, score DOUBLE PRECISION NOT NULL,
      online BOOLEAN NOT NULL, available BOOLEAN NOT NULL, quarantined BOOLEAN NOT NULL)`);
    await q.query(`CREATE TABLE capacity_classes (capability_class VARCHAR(64) PRIMARY KEY, online INTEGER NOT NULL,
      available INTEGER NOT NULL, available_score DOUBLE PRECISION NOT NULL)`);
  }
  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE capacity_classes');
    await q.query('DROP TABLE capacity_nodes');
  }
}

/** The next state of a node's capacity after one event, or undefined when the event does not concern capacity. */
function next(before: NodeRow | undefined, event: NodesFamilyEvent): NodeRow {
  const base: NodeRow = before ?? { nodeId: '', classes: [], score: 0, online: false, available: false, quarantined: false };
  switch (event.type) {
    case 'NodeRegistered':
      return { ...base, nodeId: event.data.nodeId };
    case 'NodeCapabilitiesReported':
      return { ...base, classes: event.data.capabilities.capabilityClasses, score: event.data.capabilities.benchmarkScore };
    case 'NodeCameOnline':
      return { ...base, online: true };
    case 'NodeWentOffline':
      return { ...base, online: false, available: false };
    case 'NodeBecameAvailable':
      return { ...base, available: true };
    case 'NodeBecameUnavailable':
      return { ...base, available: false };
    case 'NodeQuarantined':
      return { ...base, quarantined: true };
    case 'NodeReleased':
      return { ...base, quarantined: false };
    case 'NodeStrikeRecorded':
      return base;
    default:
      return assertNever(event, 'node event');
  }
}

/**
 * The live capacity index: per node what it serves, and per class running totals kept by
 * applying each transition's delta, so a query never scans the nodes.
 */
export const capacityProjection: Projection = {
  name: 'capacity-index',
  streams: [streamOfFamily('nodes')],
  async apply({ event }: ReceivedEvent, em: EntityManager) {
    const e = event as NodesFamilyEvent;
    const nodeId = e.data.nodeId;
    const nodes = em.getRepository(CapacityNodeEntity);
    const before = (await nodes.findOneBy({ nodeId })) ?? undefined;
    const after = next(before, e);
    await nodes.save({ ...after, nodeId });
    const classes = em.getRepository(CapacityClassEntity);
    for (const [capabilityClass, d] of capacityDelta(before, after)) {
      const row = (await classes.findOneBy({ capabilityClass })) ?? { capabilityClass, online: 0, available: 0, availableScore: 0 };
      await classes.save({ capabilityClass, online: row.online + d.online, available: row.available + d.available, availableScore: row.availableScore + d.availableScore });
    }
  },
};
