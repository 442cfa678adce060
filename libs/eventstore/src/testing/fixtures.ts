import { randomUUID } from 'node:crypto';
import type { WeaiEvent } from '@weai/contracts';

/** A valid event for store tests: a node coming online, with fresh ids. */
export function nodeCameOnline(nodeId: string, at = '2026-11-25T10:00:00.000Z'): WeaiEvent {
  return {
    type: 'NodeCameOnline',
    data: { nodeId, at },
    metadata: { eventId: randomUUID(), correlationId: 'test', causationId: 'test', occurredAt: at },
  };
}

/** `n` valid events for one node. */
export function someEvents(n: number, nodeId = 'node-1'): WeaiEvent[] {
  return Array.from({ length: n }, () => nodeCameOnline(nodeId));
}
