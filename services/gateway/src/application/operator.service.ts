import { NODE_RPC, REWARDS_RPC } from '@weai/contracts';
import { type Bus, requestJson } from '@weai/messaging';
import { askService } from './upstream';

/** A node as the nodes service lists it. */
export interface NodeSummary {
  nodeId: string;
  ownerId: string;
  capabilityClasses: string[];
  benchmarkScore: number;
  online: boolean;
  available: boolean;
  quarantineReason: string | null;
  lastChangeAt: string;
}

const NODE_CODES = { 'node.unregistered': 404, 'node.quarantined': 409, 'node.not-quarantined': 409 };

/** Operators' commands and queries, forwarded to the nodes and rewards services; the operator id comes from the token. */
export class OperatorService {
  constructor(private readonly bus: Bus) {}

  nodes(): Promise<NodeSummary[]> {
    return askService('nodes', NODE_CODES, () => requestJson<NodeSummary[]>(this.bus.nc, NODE_RPC.list, {}));
  }

  quarantine(operatorId: string, nodeId: string, reason: string) {
    return askService('nodes', NODE_CODES, () => requestJson<{ nodeId: string; events: string[] }>(this.bus.nc, NODE_RPC.quarantine, { nodeId, reason, operatorId }));
  }

  release(operatorId: string, nodeId: string, reason: string) {
    return askService('nodes', NODE_CODES, () => requestJson<{ nodeId: string; events: string[] }>(this.bus.nc, NODE_RPC.release, { nodeId, reason, operatorId }));
  }

  ledgerCheck() {
    return askService('rewards', {}, () => requestJson<unknown>(this.bus.nc, REWARDS_RPC.check, {}, 60_000));
  }
}
