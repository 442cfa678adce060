/**
 * A job with sealing on, end to end: the partner uploads through the gateway (which seals each
 * object under its own key), the scheduler opens the dataset and model, seals shard inputs, agents
 * fetch the keys of the shards they lease, seal their outputs, and the partner downloads the
 * integrated output through the gateway. The output must be bit-identical to the single-process
 * reference, and nothing of the partner's in the object store or the streams may be plaintext.
 *
 * The bus here has no authentication (the agent does not connect with a credential yet, see
 * docs/security.md), so the node credentials the key service checks are recorded in its store
 * directly, as an operator's issue would record them.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { INestMicroservice } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { createUser } from '@nats-io/nkeys';
import { jetstream } from '@nats-io/jetstream';
import { setSha256Backend } from '@nats-io/obj';
import { RESULTS_STREAM, type WeaiEvent, resultSubject } from '@weai/contracts';
import type { EventStore } from '@weai/eventstore';
import { type Bus, ContentStore, JetStreamServer, connectBus, isSealed } from '@weai/messaging';
import { referenceMlp } from '@weai/node-agent/src/onnx/reference-model';
import { EVENT_STORE, serviceConfigFromEnv } from '@weai/runtime';
import { PartnerHttpClient } from '@weai/sdk';
import { encodeTensor, sha256, sliceItems } from '@weai/tensors';
import { KeyRing } from '../services/security/src/application/key-ring';
import { toCredentialStreamId } from '../services/security/src/domain/credential';
import { permissionsFor } from '../services/security/src/domain/permissions';
import { SecurityModule } from '../services/security/src/security.module';
import { ofType } from './support/events';
import { type TestNetwork, startNetwork } from './support/control-plane';
import type { ManagedProcess } from './support/processes';
import { dataset, runLocally } from './support/reference';

describe('a job with sealing on (e2e): gateway, scheduler and agents seal; the output is exact', () => {
  const key = `key-s-${randomBytes(16).toString('hex')}`;
  const model = referenceMlp();
  let net: TestNetwork;
  let securityBus: Bus;
  let security: INestMicroservice;
  let gateway: ManagedProcess;
  let partner: PartnerHttpClient;
  const nodeIds: string[] = [];

  /** Records a node credential for `nodeId` (classes it may pull), as `weai.rpc.security.issue` would. */
  const registerNode = async (nodeId: string, classes: string[]) => {
    const store = security.get<EventStore>(EVENT_STORE);
    const id = randomUUID();
    const event = {
      type: 'CredentialIssued',
      data: { credentialId: `cred-${nodeId}`, principalId: nodeId, role: 'node', publicNkey: createUser().getPublicKey(), permissions: permissionsFor({ role: 'node', principalId: nodeId, capabilityClasses: classes }) },
      metadata: { eventId: id, correlationId: id, causationId: id, occurredAt: new Date().toISOString() },
    } as WeaiEvent;
    await store.append(toCredentialStreamId(`cred-${nodeId}`), [event], 'no_stream');
  };

  beforeAll(async () => {
    setSha256Backend('js');
    net = await startNetwork({ WEAI_SEALING: 'on', SCHEDULER_MAX_MODEL_BYTES: '2000000' });
    securityBus = await connectBus({ servers: net.nats.url, name: 'security' });
    const config = serviceConfigFromEnv({ WEAI_DATA_DIR: join(net.dir, 'security'), NATS_URL: net.nats.url }, 'security', 'security');
    const none = join(net.dir, 'security-none');
    security = await NestFactory.createMicroservice(
      SecurityModule.create(config, securityBus, { nats: { usersFile: `${none}.conf`, pidFile: `${none}.pid`, bootstrapUsers: [] }, audit: {}, keys: KeyRing.of(randomBytes(32)) }),
      { strategy: new JetStreamServer(securityBus), logger: false },
    );
    await security.listen();
    await net.startService('nodes');
    await net.startService('scheduler');
    const started = await net.startGateway({ GATEWAY_PARTNER_KEYS: `partner-s:${key}`, WEAI_SEALING: 'on' });
    gateway = started.process;
    partner = new PartnerHttpClient({ baseUrl: started.baseUrl, apiKey: key });
    for (const name of ['s1', 's2']) nodeIds.push((await net.startAgent(name)).nodeId);
    for (const nodeId of nodeIds) await registerNode(nodeId, ['cpu.generic']);
  });
  afterEach(() => {
    if (process.env['WEAI_E2E_LOGS']) for (const [name, p] of [...net.services, ['gateway', gateway] as const]) process.stderr.write(`--- ${name}\n${p.output().slice(-3000)}\n`);
  });
  afterAll(async () => {
    await gateway?.kill('SIGKILL');
    await security?.close();
    await securityBus?.close();
    await net?.stop();
  });

  /** Runs a job through the gateway and returns its ids and the downloaded output, checked against the reference. */
  const runSealed = async (items: number, shardSize: number, seed: number) => {
    const input = dataset(items, 64, seed);
    const modelHash = await partner.uploadModel(model);
    const inputHash = await partner.uploadDataset(input);
    const jobId = `job-${randomUUID()}`;
    await partner.submit(modelHash, inputHash, { jobId, shardSize, capability: 'cpu.generic', deadline: new Date(Date.now() + 3_600_000).toISOString(), redundancy: { replicas: 1, spotCheckRate: 0, tolerance: 1e-5 } });
    const outcome = await partner.follow(jobId);
    if (outcome.status !== 'completed') throw new Error(`job ${outcome.status}: ${outcome.reason}`);
    const output = await partner.downloadTensor({ jobId });
    expect(sha256(encodeTensor(output))).toBe(sha256(encodeTensor(runLocally(model, input, shardSize))));
    return { jobId, modelHash, inputHash, outcome, input };
  };

  it('runs a sealed job to the exact single-process output; the bucket and the results hold ciphertext only', async () => {
    const { jobId, modelHash, inputHash, outcome } = await runSealed(40, 4, 5);

    const raw = await ContentStore.open(jetstream(net.bus.nc));
    for (const hash of [modelHash, inputHash, outcome.outputHash!]) {
      const stored = (await raw.getRaw(hash))!;
      expect(isSealed(stored)).toBe(true);
      expect(sha256(stored)).not.toBe(hash);
    }
    const results = ofType(net.jobs.events, 'ShardValidated').filter((e) => e.data.jobId === jobId);
    expect(results).toHaveLength(10);
    for (const v of results) {
      const accepted = v.data.accepted[0]!.nodeId;
      const msg = await net.bus.jsm.streams.getMessage(RESULTS_STREAM, { last_by_subj: resultSubject(jobId, v.data.shardIndex, v.data.replica, accepted) });
      expect(isSealed(msg!.data)).toBe(true);
    }
    // Each agent got the keys of the shards it leased, and the release is on record (without the keys).
    const store = security.get<EventStore>(EVENT_STORE);
    const released = (await Promise.all(nodeIds.map((id) => store.readStream(`audit-${id}`)))).flat().filter((e) => e.type === 'KeyReleased');
    const leases = released.map((e) => (e.data as { lease?: { jobId: string; shard: number; workItem: number } }).lease).filter((l) => l?.jobId === jobId);
    expect(new Set(leases.map((l) => l!.shard)).size).toBe(10);
    expect(new Set(leases.map((l) => l!.workItem)).size).toBe(leases.length); // one release per leased work item
  });

  it('seals shard inputs too large to travel inline as objects, and still gives the exact output', async () => {
    // 1100 items of 64 float32 = 281,600 bytes a shard: above the 256 KiB inline limit.
    const { jobId, input } = await runSealed(2200, 1100, 9);
    expect(ofType(net.jobs.events, 'ShardValidated').filter((e) => e.data.jobId === jobId)).toHaveLength(2);
    const raw = await ContentStore.open(jetstream(net.bus.nc));
    for (const start of [0, 1100]) {
      const shardInput = encodeTensor(sliceItems(input, start, start + 1100));
      const stored = (await raw.getRaw(sha256(shardInput)))!;
      expect(stored.byteLength).toBeGreaterThan(256 * 1024);
      expect(isSealed(stored)).toBe(true);
    }
  });
});
