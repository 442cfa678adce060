import { randomUUID } from 'node:crypto';
import { CapabilitiesPayloadSchema, RegisterPayloadSchema } from '@weai/contracts';
import { DomainError } from '@weai/decider';
import { type CommandMetadata, type EventStore, handleCommand } from '@weai/eventstore';
import { type NodeCommand, nodeDecider } from '../domain/node.decide';
import { toNodeStreamId } from '../domain/node';
import { nodeIdOf, ownerIdOf } from './identity';
import { AuthenticationError, verifySignedRequest } from './signed-request';

/** Builds command metadata; `causationId` defaults to the command id (an outside request). */
export function commandMetadata(now: Date, causationId?: string, correlationId?: string): CommandMetadata {
  const commandId = randomUUID();
  return { commandId, causationId: causationId ?? commandId, correlationId: correlationId ?? causationId ?? commandId, now: now.toISOString() };
}

/** The node network's use cases, on top of the generic command handler. */
export class NodeCommands {
  constructor(private readonly store: EventStore) {}

  /** Runs one command against a node's stream, re-deciding on a concurrent write. */
  async execute(nodeId: string, command: NodeCommand) {
    return handleCommand(this.store, nodeDecider, toNodeStreamId(nodeId), command, { retryOnConflict: 3 });
  }

  /** Verifies a signed registration and registers the node (idempotently). */
  async register(body: unknown, now: Date): Promise<{ nodeId: string; ownerId: string }> {
    const { publicKey, payload } = verifySignedRequest(body, RegisterPayloadSchema, now);
    const nodeId = nodeIdOf(publicKey);
    const ownerId = ownerIdOf(payload.payoutAddress);
    await this.execute(nodeId, { type: 'RegisterNode', data: { nodeId, publicKey, ownerId, payoutAddress: payload.payoutAddress }, metadata: commandMetadata(now) });
    return { nodeId, ownerId };
  }

  /** Verifies a signed capability report from the node that owns the key. */
  async reportCapabilities(body: unknown, now: Date): Promise<{ capabilityClasses: string[] }> {
    const { publicKey, payload } = verifySignedRequest(body, CapabilitiesPayloadSchema, now);
    if (nodeIdOf(publicKey) !== payload.nodeId) throw new AuthenticationError(`key does not belong to node ${payload.nodeId}`);
    const { capabilityClasses: _ignored, ...capabilities } = payload.capabilities;
    const { state } = await this.execute(payload.nodeId, { type: 'ReportCapabilities', data: { capabilities }, metadata: commandMetadata(now) });
    if (state.status !== 'registered' || !state.capabilities) throw new DomainError('node is not registered', 'node.unregistered');
    return { capabilityClasses: state.capabilities.capabilityClasses };
  }
}
