import { DeciderSpecification, DomainError } from '@weai/decider';
import type { CommandMetadata } from '@weai/eventstore';
import { type NodeCommand, nodeDecider } from '../src/domain/node.decide';
import type { NodeEvent } from '../src/domain/node';

const metadata: CommandMetadata = { commandId: 'c1', correlationId: 'c1', causationId: 'c1', now: '2026-11-25T10:00:00.000Z' };
const eventMeta = { eventId: '00000000-0000-4000-8000-000000000000', correlationId: 'x', causationId: 'x', occurredAt: metadata.now };
const ev = (type: NodeEvent['type'], data: object) => ({ type, data, metadata: eventMeta }) as NodeEvent;
const out = (type: NodeEvent['type'], data: object) => ({ type, data }) as unknown as NodeEvent;

const pk = `U${'A'.repeat(55)}`;
const identity = { nodeId: 'n1', publicKey: pk, ownerId: 'o1', payoutAddress: `0x${'ab'.repeat(20)}` };
const cpuCaps = { os: 'linux' as const, cpuFlags: ['avx2'], gpus: [], executionProviders: ['cpu' as const], benchmarkScore: 120 };
const reported = { ...cpuCaps, capabilityClasses: ['cpu.avx2', 'cpu.generic'] };

const registeredNode = [ev('NodeRegistered', identity)];
const readyNode = [...registeredNode, ev('NodeCapabilitiesReported', { nodeId: 'n1', capabilities: reported })];
const onlineAvailable = [...readyNode, ev('NodeCameOnline', { nodeId: 'n1', at: metadata.now }), ev('NodeBecameAvailable', { nodeId: 'n1' })];

const cmd = (c: Omit<NodeCommand, 'metadata'>) => ({ ...c, metadata }) as NodeCommand;
const spec = DeciderSpecification.for(nodeDecider);

describe('node decider', () => {
  it('registers a new node', () => {
    spec.given([]).when(cmd({ type: 'RegisterNode', data: identity })).then([out('NodeRegistered', identity)]);
  });

  it('treats a re-registration with the same key as the same node: no event', () => {
    spec.given(registeredNode).when(cmd({ type: 'RegisterNode', data: identity })).then([]);
  });

  it('refuses the node id with another key, and a silent payout change', () => {
    spec.given(registeredNode).when(cmd({ type: 'RegisterNode', data: { ...identity, publicKey: `U${'B'.repeat(55)}` } })).thenThrows(DomainError, /another key/);
    spec.given(registeredNode).when(cmd({ type: 'RegisterNode', data: { ...identity, payoutAddress: `0x${'cd'.repeat(20)}` } })).thenThrows(DomainError, /payout/);
  });

  it('records capabilities with their derived classes, and only when they change', () => {
    spec.given(registeredNode).when(cmd({ type: 'ReportCapabilities', data: { capabilities: cpuCaps } })).then([out('NodeCapabilitiesReported', { nodeId: 'n1', capabilities: reported })]);
    spec.given(readyNode).when(cmd({ type: 'ReportCapabilities', data: { capabilities: cpuCaps } })).then([]);
  });

  it('refuses anything but registration from an unknown node', () => {
    spec.given([]).when(cmd({ type: 'RecordHeartbeat', data: { allowsWork: true } })).thenThrows(DomainError, /not registered/);
  });

  it('brings a node online on its first heartbeat and available when the owner allows work', () => {
    spec.given(readyNode).when(cmd({ type: 'RecordHeartbeat', data: { allowsWork: true } })).then([
      out('NodeCameOnline', { nodeId: 'n1', at: metadata.now }),
      out('NodeBecameAvailable', { nodeId: 'n1' }),
    ]);
    spec.given(onlineAvailable).when(cmd({ type: 'RecordHeartbeat', data: { allowsWork: true } })).then([]);
  });

  it('keeps a node unavailable until it reported capabilities', () => {
    spec.given(registeredNode).when(cmd({ type: 'RecordHeartbeat', data: { allowsWork: true } })).then([out('NodeCameOnline', { nodeId: 'n1', at: metadata.now })]);
  });

  it('makes a node unavailable, with the owner\'s reason, when the owner takes the GPU back', () => {
    spec.given(onlineAvailable).when(cmd({ type: 'RecordHeartbeat', data: { allowsWork: false, reason: 'game.exe is using the GPU' } })).then([
      out('NodeBecameUnavailable', { nodeId: 'n1', reason: 'game.exe is using the GPU' }),
    ]);
  });

  it('marks a silent node offline (and unavailable first), once', () => {
    spec.given(onlineAvailable).when(cmd({ type: 'MarkOffline', data: { lastSeenAt: metadata.now } })).then([
      out('NodeBecameUnavailable', { nodeId: 'n1', reason: 'offline' }),
      out('NodeWentOffline', { nodeId: 'n1', lastSeenAt: metadata.now }),
    ]);
    spec.given([...readyNode]).when(cmd({ type: 'MarkOffline', data: { lastSeenAt: metadata.now } })).then([]);
  });

  it('quarantines a node: no work for it until it is released', () => {
    const q = { reason: 'wrong results', by: 'operator-1' };
    spec.given(onlineAvailable).when(cmd({ type: 'QuarantineNode', data: q })).then([
      out('NodeQuarantined', { nodeId: 'n1', ...q }),
      out('NodeBecameUnavailable', { nodeId: 'n1', reason: 'quarantined: wrong results' }),
    ]);
    const quarantined = [...readyNode, ev('NodeCameOnline', { nodeId: 'n1', at: metadata.now }), ev('NodeQuarantined', { nodeId: 'n1', ...q })];
    spec.given(quarantined).when(cmd({ type: 'RecordHeartbeat', data: { allowsWork: true } })).then([]);
    spec.given(quarantined).when(cmd({ type: 'QuarantineNode', data: q })).thenThrows(DomainError, /already quarantined/);
    spec.given(quarantined).when(cmd({ type: 'ReleaseNode', data: { reason: 'appeal accepted', by: 'operator-1' } })).then([
      out('NodeReleased', { nodeId: 'n1', reason: 'appeal accepted', by: 'operator-1' }),
    ]);
    spec.given(onlineAvailable).when(cmd({ type: 'ReleaseNode', data: q })).thenThrows(DomainError, /not quarantined/);
  });
});
