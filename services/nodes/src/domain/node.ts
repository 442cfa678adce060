import type { Capabilities, NodesFamilyEvent } from '@weai/contracts';
import { assertNever } from '@weai/decider';

/** Events of the node aggregate. */
export type NodeEvent = NodesFamilyEvent;

/** A node's state, tagged by status. */
export type NodeState =
  | { readonly status: 'unregistered' }
  | {
      readonly status: 'registered';
      readonly nodeId: string;
      readonly publicKey: string;
      readonly ownerId: string;
      readonly payoutAddress: string;
      readonly capabilities: Capabilities | undefined;
      readonly online: boolean;
      readonly available: boolean;
      readonly quarantine: { readonly reason: string } | undefined;
      readonly strikes: number;
    };

/** Stream id of one node. */
export const toNodeStreamId = (nodeId: string) => `node-${nodeId}`;

export const initialNodeState = (): NodeState => ({ status: 'unregistered' });

export function evolveNode(state: NodeState, event: NodeEvent): NodeState {
  if (event.type === 'NodeRegistered') {
    const { nodeId, publicKey, ownerId, payoutAddress } = event.data;
    return { status: 'registered', nodeId, publicKey, ownerId, payoutAddress, capabilities: undefined, online: false, available: false, quarantine: undefined, strikes: 0 };
  }
  if (state.status !== 'registered') return state;
  switch (event.type) {
    case 'NodeCapabilitiesReported':
      return { ...state, capabilities: event.data.capabilities };
    case 'NodeCameOnline':
      return { ...state, online: true };
    case 'NodeWentOffline':
      return { ...state, online: false };
    case 'NodeBecameAvailable':
      return { ...state, available: true };
    case 'NodeBecameUnavailable':
      return { ...state, available: false };
    case 'NodeQuarantined':
      return { ...state, quarantine: { reason: event.data.reason } };
    case 'NodeReleased':
      return { ...state, quarantine: undefined, strikes: 0 };
    case 'NodeStrikeRecorded':
      return { ...state, strikes: event.data.strikes };
    default:
      return assertNever(event, 'node event');
  }
}
