import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NODE_RPC, streamOfFamily } from '@weai/contracts';
import { type Bus, connectBus, ensureStreams, requestJson } from '@weai/messaging';
import { type TestNatsServer, startNatsServer } from '@weai/messaging/src/testing/nats-server';
import { eventually } from '@weai/messaging/src/testing/streams';
import { type EventLog, ofType, watchStream } from './support/events';
import { type ManagedProcess, startTs } from './support/processes';

/**
 * The node network as a user runs it: the nodes and resources services and two agents, each its
 * own process, on a private nats-server.
 */
describe('node network (e2e)', () => {
  let nats: TestNatsServer;
  let bus: Bus;
  let dir: string;
  let log: EventLog;
  const running: ManagedProcess[] = [];

  const agent = (name: string, payout: string, folder = name) => {
    const p = startTs(name, 'node-agent/src/cli.ts', ['start', '--nats', nats.url, '--dir', join(dir, folder), '--payout', payout, '--heartbeat-ms', '300'], {});
    running.push(p);
    return p;
  };

  beforeAll(async () => {
    nats = await startNatsServer();
    dir = mkdtempSync(join(tmpdir(), 'weai-e2e-nodes-'));
    bus = await connectBus({ servers: nats.url, name: 'e2e' });
    await ensureStreams(bus.jsm);
    log = await watchStream(bus, streamOfFamily('nodes'));
    const env = { NATS_URL: nats.url, WEAI_DATA_DIR: join(dir, 'control-plane'), NODES_OFFLINE_AFTER_MS: '1500', NODES_SWEEP_MS: '100' };
    const nodes = startTs('nodes', 'services/nodes/src/main.ts', [], env);
    const resources = startTs('resources', 'services/resources/src/main.ts', [], env);
    running.push(nodes, resources);
    await Promise.all([nodes.waitFor(/nodes service ready/), resources.waitFor(/resources service ready/)]);
  });

  afterAll(async () => {
    await Promise.all(running.map((p) => p.kill('SIGKILL')));
    await log?.close();
    await bus?.close();
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('registers two agents, shows them with capabilities, takes a killed one offline and brings it back', async () => {
    const a = agent('agent-a', `0x${'aa'.repeat(20)}`);
    const b = agent('agent-b', `0x${'bb'.repeat(20)}`);
    const idA = (await a.waitFor(/registered as node (\S+)/)).split(' ').pop()!;
    const idB = (await b.waitFor(/registered as node (\S+)/)).split(' ').pop()!;
    expect(idA).not.toBe(idB);

    await log.until('both nodes online and available', (events) =>
      [idA, idB].every((id) => ofType(events, 'NodeBecameAvailable').some((e) => e.data.nodeId === id)),
    );
    const caps = ofType(log.events, 'NodeCapabilitiesReported').find((e) => e.data.nodeId === idA)!;
    expect(caps.data.capabilities.capabilityClasses).toContain('cpu.generic');
    expect(caps.data.capabilities.benchmarkScore).toBeGreaterThan(0);
    expect(caps.data.capabilities.executionProviders).toEqual(['cpu']);

    // Operators see both, with their classes, once the read model has caught up.
    const listed = () => requestJson<Array<{ nodeId: string; online: boolean; available: boolean; capabilityClasses: string[] }>>(bus.nc, NODE_RPC.list, {});
    await eventually(async () => (await listed()).filter((n) => n.available).length === 2, 'both nodes available in the operators\' view');
    expect((await listed()).map((n) => n.nodeId).sort()).toEqual([idA, idB].sort());
    const capacity = await requestJson<Array<{ capabilityClass: string; available: number }>>(bus.nc, 'weai.rpc.resources.capacity', {});
    await eventually(
      async () => (await requestJson<Array<{ capabilityClass: string; available: number }>>(bus.nc, 'weai.rpc.resources.capacity', {})).some((c) => c.capabilityClass === 'cpu.generic' && c.available === 2),
      `capacity index to count 2 available cpu.generic nodes (was ${JSON.stringify(capacity)})`,
    );

    await a.kill('SIGKILL');
    const offline = await log.until('agent A offline', (events) => ofType(events, 'NodeWentOffline').find((e) => e.data.nodeId === idA));
    expect(offline.data.nodeId).toBe(idA);
    expect(ofType(log.events, 'NodeWentOffline').some((e) => e.data.nodeId === idB)).toBe(false);

    // Restarted with the same key folder: the same node comes back online, not a new one.
    const again = agent('agent-a-again', `0x${'aa'.repeat(20)}`, 'agent-a');
    expect((await again.waitFor(/registered as node (\S+)/)).split(' ').pop()).toBe(idA);
    await log.until('agent A back online', (events) => ofType(events, 'NodeCameOnline').filter((e) => e.data.nodeId === idA).length === 2);
    expect(ofType(log.events, 'NodeRegistered').map((e) => e.data.nodeId).sort()).toEqual([idA, idB].sort());
  });
});
