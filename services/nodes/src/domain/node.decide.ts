import { type Capabilities, capabilityClassesOf } from '@weai/contracts';
import { type Decider, DomainError, assertNever, deepEqual } from '@weai/decider';
import type { CommandMetadata } from '@weai/eventstore';
import { type NodeEvent, type NodeState, evolveNode, initialNodeState } from './node';

type Meta = { readonly metadata: CommandMetadata };

/** Commands of the node aggregate. Time arrives in `metadata.now`. */
export type NodeCommand =
  | ({ type: 'RegisterNode'; data: { nodeId: string; publicKey: string; ownerId: string; payoutAddress: string } } & Meta)
  | ({ type: 'ReportCapabilities'; data: { capabilities: Omit<Capabilities, 'capabilityClasses'> } } & Meta)
  | ({ type: 'RecordHeartbeat'; data: { allowsWork: boolean; reason?: string } } & Meta)
  | ({ type: 'MarkOffline'; data: { lastSeenAt: string } } & Meta)
  | ({ type: 'QuarantineNode'; data: { reason: string; by: string } } & Meta)
  | ({ type: 'ReleaseNode'; data: { reason: string; by: string } } & Meta)
  | ({ type: 'RecordStrike'; data: { shardId: string; reason: string; quarantineAfter: number } } & Meta);

type Decided = Omit<NodeEvent, 'metadata'>;

function registered(state: NodeState): Extract<NodeState, { status: 'registered' }> {
  if (state.status !== 'registered') throw new DomainError('node is not registered', 'node.unregistered');
  return state;
}

/** Availability follows from being online, allowed by the owner, able to run something and not quarantined. */
function availabilityChange(state: Extract<NodeState, { status: 'registered' }>, wanted: boolean, reason: string): Decided[] {
  const { nodeId } = state;
  if (wanted === state.available) return [];
  return [wanted ? { type: 'NodeBecameAvailable', data: { nodeId } } : { type: 'NodeBecameUnavailable', data: { nodeId, reason } }];
}

export function decideNode(command: NodeCommand, state: NodeState): Decided[] {
  switch (command.type) {
    case 'RegisterNode': {
      const d = command.data;
      if (state.status === 'unregistered') return [{ type: 'NodeRegistered', data: d }];
      // The same key is the same node: registering again changes nothing.
      if (state.publicKey !== d.publicKey) throw new DomainError('node id already belongs to another key', 'node.key-mismatch');
      if (state.payoutAddress.toLowerCase() !== d.payoutAddress.toLowerCase()) {
        throw new DomainError('this node is registered with another payout address; changing it needs the owner portal', 'node.payout-change');
      }
      return [];
    }
    case 'ReportCapabilities': {
      const s = registered(state);
      const capabilities: Capabilities = { ...command.data.capabilities, capabilityClasses: capabilityClassesOf(command.data.capabilities) };
      if (s.capabilities && deepEqual(s.capabilities, capabilities)) return [];
      return [{ type: 'NodeCapabilitiesReported', data: { nodeId: s.nodeId, capabilities } }];
    }
    case 'RecordHeartbeat': {
      const s = registered(state);
      const events: Decided[] = s.online ? [] : [{ type: 'NodeCameOnline', data: { nodeId: s.nodeId, at: command.metadata.now } }];
      const why = s.quarantine
        ? `quarantined: ${s.quarantine.reason}`
        : !s.capabilities
          ? 'capabilities not reported yet'
          : (command.data.reason ?? 'the owner does not allow work now');
      const wanted = command.data.allowsWork && !s.quarantine && s.capabilities !== undefined;
      return [...events, ...availabilityChange({ ...s, online: true }, wanted, why)];
    }
    case 'MarkOffline': {
      const s = registered(state);
      if (!s.online) return [];
      return [...availabilityChange(s, false, 'offline'), { type: 'NodeWentOffline', data: { nodeId: s.nodeId, lastSeenAt: command.data.lastSeenAt } }];
    }
    case 'QuarantineNode': {
      const s = registered(state);
      if (s.quarantine) throw new DomainError(`node is already quarantined (${s.quarantine.reason})`, 'node.quarantined');
      return [{ type: 'NodeQuarantined', data: { nodeId: s.nodeId, ...command.data } }, ...availabilityChange(s, false, `quarantined: ${command.data.reason}`)];
    }
    case 'ReleaseNode': {
      const s = registered(state);
      if (!s.quarantine) throw new DomainError('node is not quarantined', 'node.not-quarantined');
      return [{ type: 'NodeReleased', data: { nodeId: s.nodeId, ...command.data } }];
    }
    case 'RecordStrike': {
      const s = registered(state);
      const strikes = s.strikes + 1;
      const strike: Decided = { type: 'NodeStrikeRecorded', data: { nodeId: s.nodeId, reason: command.data.reason, shardId: command.data.shardId, strikes } };
      if (s.quarantine || strikes < command.data.quarantineAfter) return [strike];
      const reason = `${strikes} results rejected by validation`;
      return [strike, { type: 'NodeQuarantined', data: { nodeId: s.nodeId, reason, by: 'validation' } }, ...availabilityChange(s, false, `quarantined: ${reason}`)];
    }
    default:
      return assertNever(command, 'node command');
  }
}

/** The node decider. */
export const nodeDecider: Decider<NodeCommand, NodeEvent, NodeState> = {
  decide: (command, state) => decideNode(command, state) as NodeEvent[],
  evolve: evolveNode,
  initialState: initialNodeState,
};
