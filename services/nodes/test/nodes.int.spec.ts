import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { INestMicroservice } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { createUser } from '@nats-io/nkeys';
import { NODE_RPC, heartbeatSubject } from '@weai/contracts';
import type { EventStore } from '@weai/eventstore';
import { type Bus, JetStreamServer, RpcError, connectBus, ensureStreams, requestJson } from '@weai/messaging';
import { type TestNatsServer, startNatsServer } from '@weai/messaging/src/testing/nats-server';
import { eventually } from '@weai/messaging/src/testing/streams';
import { EVENT_STORE, serviceConfigFromEnv } from '@weai/runtime';
import { signRequest } from '@weai/node-agent/src/identity';
import { LivenessMonitor } from '../src/application/liveness';
import { NodesModule } from '../src/nodes.module';

const payout = `0x${'12'.repeat(20)}`;
const keyOf = () => {
  const kp = createUser();
  return { publicKey: kp.getPublicKey(), sign: (d: Uint8Array) => kp.sign(d) };
};
const register = (key: ReturnType<typeof keyOf>, issuedAt = new Date()) =>
  signRequest(key, { kind: 'register', payoutAddress: payout, issuedAt: issuedAt.toISOString() });

describe('nodes service (in process, real NATS and SQLite)', () => {
  let nats: TestNatsServer;
  let bus: Bus;
  let app: INestMicroservice;
  let dir: string;
  let store: EventStore;

  beforeAll(async () => {
    nats = await startNatsServer();
    dir = mkdtempSync(join(tmpdir(), 'weai-nodes-'));
    bus = await connectBus({ servers: nats.url, name: 'nodes-test' });
    await ensureStreams(bus.jsm);
    const config = serviceConfigFromEnv({ WEAI_DATA_DIR: dir, NATS_URL: nats.url }, 'nodes', 'nodes');
    app = await NestFactory.createMicroservice(NodesModule.create(config, bus, { offlineAfterMs: 400, sweepMs: 50 }), {
      strategy: new JetStreamServer(bus),
      logger: false,
    });
    await app.listen();
    store = app.get(EVENT_STORE);
  });
  afterAll(async () => {
    await app.close();
    await bus.close();
    await nats.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const refused = async (body: unknown, subject: string = NODE_RPC.register) => {
    const head = await store.headPosition();
    const error = await requestJson(bus.nc, subject, body).then(
      () => undefined,
      (e: unknown) => e as RpcError,
    );
    expect(await store.headPosition()).toBe(head);
    return error;
  };

  it('registers a node from a signed request; the same key again is the same node', async () => {
    const key = keyOf();
    const first = await requestJson<{ nodeId: string }>(bus.nc, NODE_RPC.register, register(key));
    const again = await requestJson<{ nodeId: string }>(bus.nc, NODE_RPC.register, register(key));
    expect(again.nodeId).toBe(first.nodeId);
    const events = await store.readStream(`node-${first.nodeId}`);
    expect(events.map((e) => e.type)).toEqual(['NodeRegistered']);
    expect(events[0]!.data).toMatchObject({ publicKey: key.publicKey, payoutAddress: payout });
  });

  it('refuses a forged registration with a clear error and no event', async () => {
    const key = keyOf();
    const tampered = { ...register(key), payload: Buffer.from(JSON.stringify({ kind: 'register', payoutAddress: `0x${'66'.repeat(20)}`, issuedAt: new Date().toISOString() })).toString('base64') };
    expect(await refused(tampered)).toMatchObject({ code: 'auth.failed', message: expect.stringMatching(/signature does not match/) });

    // Someone else's public key, signed with the forger's own key.
    const victim = keyOf();
    const forged = { ...register(keyOf()), publicKey: victim.publicKey };
    expect(await refused(forged)).toMatchObject({ code: 'auth.failed', message: expect.stringMatching(/not signed by this node/) });

    expect(await refused(register(key, new Date(Date.now() - 3_600_000)))).toMatchObject({ code: 'auth.failed', message: expect.stringMatching(/clock/) });
    expect(await refused({ hello: 'world' })).toMatchObject({ code: 'auth.failed', message: expect.stringMatching(/not a signed request/) });
    expect(await refused(signRequest(key, { kind: 'register', payoutAddress: 'my bank account', issuedAt: new Date().toISOString() }))).toMatchObject({
      message: expect.stringMatching(/payoutAddress/),
    });
  });

  it('refuses a capability report signed by another node\'s key', async () => {
    const owner = keyOf();
    const { nodeId } = await requestJson<{ nodeId: string }>(bus.nc, NODE_RPC.register, register(owner));
    const caps = { os: 'linux', cpuFlags: [], gpus: [], executionProviders: ['cpu'], benchmarkScore: 5, capabilityClasses: ['cpu.generic'] };
    const body = signRequest(keyOf(), { kind: 'capabilities', nodeId, capabilities: caps, issuedAt: new Date().toISOString() });
    expect(await refused(body, NODE_RPC.capabilities)).toMatchObject({ code: 'auth.failed', message: expect.stringMatching(/does not belong/) });
    const ok = await requestJson<{ capabilityClasses: string[] }>(bus.nc, NODE_RPC.capabilities, signRequest(owner, { kind: 'capabilities', nodeId, capabilities: caps, issuedAt: new Date().toISOString() }));
    expect(ok.capabilityClasses).toEqual(['cpu.generic']);
  });

  it('drops and counts malformed heartbeats without crashing, then goes offline and online with heartbeats', async () => {
    const key = keyOf();
    const { nodeId } = await requestJson<{ nodeId: string }>(bus.nc, NODE_RPC.register, register(key));
    const monitor = app.get(LivenessMonitor);
    const before = monitor.counters.malformed;
    const enc = new TextEncoder();
    // Distinct subjects: the telemetry stream keeps one message per subject, the latest.
    bus.nc.publish(heartbeatSubject('bad-1'), enc.encode('{not json'));
    bus.nc.publish(heartbeatSubject('bad-2'), enc.encode(JSON.stringify({ nodeId: 'bad-2', allowsWork: 'yes' })));
    bus.nc.publish(heartbeatSubject('someone-else'), enc.encode(JSON.stringify({ nodeId, sentAt: new Date().toISOString(), allowsWork: true, activeShards: 0, slots: 1, gpus: [] })));
    await eventually(async () => monitor.counters.malformed === before + 3, 'three malformed heartbeats counted');

    const beat = () => bus.nc.publish(heartbeatSubject(nodeId), enc.encode(JSON.stringify({ nodeId, sentAt: new Date().toISOString(), allowsWork: true, activeShards: 0, slots: 1, gpus: [] })));
    beat();
    const types = async () => (await store.readStream(`node-${nodeId}`)).map((e) => e.type);
    await eventually(async () => (await types()).includes('NodeCameOnline'), 'NodeCameOnline');
    await eventually(async () => (await types()).includes('NodeWentOffline'), 'NodeWentOffline after silence');
    beat();
    await eventually(async () => (await types()).filter((t) => t === 'NodeCameOnline').length === 2, 'back online');
    // Registered without capabilities: online but never available.
    expect(await types()).toEqual(['NodeRegistered', 'NodeCameOnline', 'NodeWentOffline', 'NodeCameOnline']);
  });
});
