/**
 * The network on the authenticated bus, end to end (issue 6, item 2): nats-server 2.9 with TLS only
 * and nkey users rendered by the security service; the nodes, scheduler, resources, rewards and
 * gateway services each connect with their own issued service credential; a node owner signs in at
 * the gateway and enrols the node key `weai-agent init` made; the agent connects as itself (its
 * node key, the CA, its own inbox prefix) and runs a sealed job to the exact single-process output,
 * and rewards credits the nodes; a partner on the bus (`PartnerClient`, its own partner credential)
 * runs a job and follows its events, and is refused another partner's; an operator reads the
 * capacity index with the `weai` CLI under its operator credential; then the node's credential is
 * revoked, its live connection is cut, its reconnects are refused, and each step is on record in
 * the security service's store.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createUser } from '@nats-io/nkeys';
import { setSha256Backend } from '@nats-io/obj';
import { Wallet } from 'ethers';
import { type WeaiEvent, nodeIdOf, streamOfFamily } from '@weai/contracts';
import { freePort } from '@weai/messaging/src/testing/nats-server';
import { eventually } from '@weai/messaging/src/testing/streams';
import { referenceMlp } from '@weai/node-agent/src/onnx/reference-model';
import { PartnerClient, PartnerHttpClient } from '@weai/sdk';
import { encodeTensor, sha256 } from '@weai/tensors';
import { ownerIdOf } from '../services/gateway/src/auth/owner-id';
import { KeyRing } from '../services/security/src/application/key-ring';
import { type SecuredBus, startSecuredBus } from '../services/security/test/support';
import { FAST_ENV } from './support/control-plane';
import { type EventLog, ofType, watchStream } from './support/events';
import { type PayoutChain, startPayoutChain } from './support/payout-chain';
import { type ManagedProcess, startTs } from './support/processes';
import { dataset, runLocally } from './support/reference';

/** The agent's own variables, unset: what the test passes is all the agent gets. */
const CLEAN_ENV = { NATS_URL: '', NATS_TLS_CA: '', WEAI_AGENT_DIR: '', WEAI_PAYOUT_ADDRESS: '', WEAI_NVIDIA_SMI: '', WEAI_OWNER_TOKEN: '' };

describe('the network on the authenticated bus (e2e): every service and the node with its own credential', () => {
  const partnerKey = `key-sn-${randomBytes(16).toString('hex')}`;
  // Two owners: a new node's results are cross-checked by a node of another owner.
  const owner = new Wallet(`0x${randomBytes(32).toString('hex')}`);
  const otherOwner = new Wallet(`0x${randomBytes(32).toString('hex')}`);
  let sb: SecuredBus;
  let chain: PayoutChain;
  let nodes: EventLog;
  let rewards: EventLog;
  let gatewayUrl: string;
  const running: ManagedProcess[] = [];

  /** The environment of a service process connecting with its own issued credential (seed file 0600). */
  const serviceEnv = async (name: 'nodes' | 'scheduler' | 'resources' | 'rewards' | 'gateway') => {
    const issued = await sb.commands.issue({ credentialId: `svc-${name}`, role: 'service', principalId: name }, new Date());
    const seedFile = join(sb.dir, `${name}.nk`);
    writeFileSync(seedFile, `${issued.seed}\n`, { mode: 0o600 });
    return { NATS_URL: sb.nats.url, NATS_TLS_CA: sb.caFile, NATS_NKEY_SEED_FILE: seedFile, NATS_INBOX_PREFIX: issued.inboxPrefix, WEAI_DATA_DIR: join(sb.dir, 'control-plane'), WEAI_SEALING: 'on', ...FAST_ENV };
  };
  const start = (p: ManagedProcess) => (running.push(p), p);
  const partners: PartnerClient[] = [];
  const partnerSeed = (id: string) => join(sb.dir, `partner-${id}.nk`);
  /** A NATS partner connected with its own issued partner credential (TLS, seed file 0600, inbox prefix by default). */
  const startNatsPartner = async (id: string) => {
    const issued = await sb.commands.issue({ credentialId: `partner-${id}`, role: 'partner', principalId: id }, new Date());
    writeFileSync(partnerSeed(id), `${issued.seed}\n`, { mode: 0o600 });
    const client = await PartnerClient.connect({ servers: sb.nats.url, partnerId: id, tlsCaFile: sb.caFile, nkeySeedFile: partnerSeed(id) });
    partners.push(client);
    return client;
  };
  const weaiAgent = async (args: string[]) => {
    const p = start(startTs(`weai-agent ${args[0]}`, 'node-agent/src/cli.ts', args, CLEAN_ENV));
    return { code: await p.exited, output: p.output() };
  };
  const securityEvents = async (type: string) => (await sb.store.readAll(0, 100_000)).filter((e) => e.type === type).map((e) => e.data as Record<string, unknown>);
  const post = (path: string, body: unknown, token?: string) =>
    fetch(`${gatewayUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body) });

  /** Signs in at the gateway with the payout wallet (EIP-191) and returns the owner's token. */
  const signIn = async (wallet: Wallet) => {
    const { challenge, message } = (await (await post('/v1/auth/owner/challenge', { address: wallet.address })).json()) as { challenge: string; message: string };
    return ((await (await post('/v1/auth/owner/token', { challenge, signature: await wallet.signMessage(message) })).json()) as { token: string }).token;
  };
  const startAgent = async (name: string, dir: string) => {
    const agent = start(startTs(name, 'node-agent/src/cli.ts', ['start', '--dir', dir, '--verbose'], CLEAN_ENV));
    const nodeId = (await agent.waitFor(/registered as node \S+/, 120_000)).split(' ').pop()!;
    await agent.waitFor(/taking work on/, 120_000);
    await nodes.until(`${name} available`, (events: WeaiEvent[]) => ofType(events, 'NodeBecameAvailable').some((e) => e.data.nodeId === nodeId));
    return { agent, nodeId };
  };

  beforeAll(async () => {
    setSha256Backend('js');
    sb = await startSecuredBus({ keys: KeyRing.of(randomBytes(32)) });
    chain = await startPayoutChain('secure-network');
    nodes = await watchStream(sb.bus, streamOfFamily('nodes'));
    rewards = await watchStream(sb.bus, streamOfFamily('rewards'));
    for (const name of ['nodes', 'scheduler', 'resources', 'rewards'] as const) {
      const p = start(startTs(name, `services/${name}/src/main.ts`, [], { ...(await serviceEnv(name)), ...(name === 'rewards' ? chain.env : {}) }));
      await p.waitFor(new RegExp(`${name} service ready`), 120_000);
    }
    const port = await freePort();
    const gateway = start(startTs('gateway', 'services/gateway/src/main.ts', [], { ...(await serviceEnv('gateway')), GATEWAY_PORT: String(port), GATEWAY_PARTNER_KEYS: `partner-sn:${partnerKey}` }));
    await gateway.waitFor(/gateway ready on http:\/\/\S+/, 120_000);
    gatewayUrl = `http://127.0.0.1:${port}`;
  }, 300_000);
  afterEach(() => {
    if (process.env['WEAI_E2E_LOGS']) for (const p of running) process.stderr.write(`--- ${p.name}\n${p.output().slice(-4000)}\n`);
  });
  afterAll(async () => {
    await Promise.all(partners.map((p) => p.close().catch(() => undefined)));
    await Promise.all(running.map((p) => p.kill('SIGKILL')));
    await nodes?.close();
    await rewards?.close();
    await sb?.stop();
    await chain?.stop();
  });

  it('an owner enrols the node key, the agent runs a sealed job exactly, and revoking its credential cuts it off, all on record', async () => {
    const dir = join(sb.dir, 'agent');
    const otherDir = join(sb.dir, 'other-agent');
    // The default 15 s lease: on a loaded machine a short one expires mid-shard, and a shard whose
    // replica ran twice can wait for a third node. Two slots: with one slot per agent, the
    // verification replicas were seen to stall now and then (both agents idle, the two items
    // delivered again and again, never started), an open question for the agent's work intake.
    const initArgs = (d: string, wallet: Wallet) => ['init', '--dir', d, '--payout', wallet.address, '--nats', sb.nats.url, '--nats-ca', sb.caFile, '--status-port', '0', '--heartbeat-ms', '300', '--slots', '2'];

    // init makes the node key and prints what to enrol; a start before enrolment is refused with what to do.
    const init = await weaiAgent(initArgs(dir, owner));
    expect(init.code).toBe(0);
    const [, publicKey, classList] = /node key (U[A-Z2-7]{55}) \(node id n[0-9a-f]{24}\); capability classes (\S.*)/.exec(init.output)!;
    const capabilityClasses = classList!.split(', ');
    expect(capabilityClasses).toContain('cpu.generic');
    expect(init.output).toContain(`POST /v1/owner/nodes {"publicKey":"${publicKey}","capabilityClasses":${JSON.stringify(capabilityClasses)}}`);
    const early = await weaiAgent(['start', '--dir', dir]);
    expect(early.code).toBe(1);
    expect(early.output).toContain(`refused this node's key ${publicKey}`);
    expect(early.output).toContain('POST /v1/owner/nodes');
    await eventually(async () => (await securityEvents('AuthenticationFailed')).some((d) => d['principalId'] === publicKey), 'the refused start on record');

    // No anonymous enrolment; the owner signs in with the payout wallet and enrols the key.
    expect((await post('/v1/owner/nodes', { publicKey, capabilityClasses })).status).toBe(401);
    const token = await signIn(owner);
    expect((await post('/v1/owner/nodes', { publicKey, capabilityClasses: ['cpu.*'] }, token)).status).toBe(400);
    const nodeId = nodeIdOf(publicKey!);
    // Enrolled with too few classes, the agent stops at once and says so; enrolled again with all of
    // them, the credential's permissions change (recorded) and it starts.
    // (the agent opens the consumer of its first, most demanding class first: leave that one out)
    const tooFew = capabilityClasses.length > 1 ? capabilityClasses.slice(1) : ['cpu.avx2'];
    const shortRefusal = `shards-${capabilityClasses[0]!.replace(/\./g, '_')}`;
    expect((await post('/v1/owner/nodes', { publicKey, capabilityClasses: tooFew }, token)).status).toBe(201);
    const short = await weaiAgent(['start', '--dir', dir]);
    expect(short.code).toBe(1);
    expect(short.output).toContain(`this node's credential does not cover all of its capability classes (${capabilityClasses.join(', ')}`);
    expect(short.output).toContain(`POST /v1/owner/nodes {"publicKey":"${publicKey}","capabilityClasses":${JSON.stringify(capabilityClasses)}}`);
    await eventually(async () => (await securityEvents('AccessDenied')).some((d) => d['principalId'] === nodeId && String(d['resource']).includes(shortRefusal)), 'the refused consumer on record');
    const enrolled = await post('/v1/owner/nodes', { publicKey, capabilityClasses }, token);
    expect(enrolled.status).toBe(201);
    expect(await securityEvents('CredentialPermissionsChanged')).toContainEqual(expect.objectContaining({ credentialId: `node-${nodeId}`, principalId: nodeId }));
    expect(await enrolled.json()).toEqual({ nodeId, credentialId: `node-${nodeId}`, publicKey, inboxPrefix: `_INBOX.${nodeId}`, capabilityClasses: [...capabilityClasses].sort() });

    // The other owner lets init enrol its node at once.
    const otherInit = await weaiAgent([...initArgs(otherDir, otherOwner), '--gateway', gatewayUrl, '--owner-token', await signIn(otherOwner)]);
    expect(otherInit.code).toBe(0);
    const otherId = /enrolled at \S+: node (n[0-9a-f]{24}) may pull cpu/.exec(otherInit.output)?.[1];
    expect(otherId).toBeDefined();

    // Each agent connects as itself and registers under the id its credential names.
    const { agent, nodeId: registeredAs } = await startAgent('agent', dir);
    expect(registeredAs).toBe(nodeId);
    const other = await startAgent('other-agent', otherDir);
    expect(other.nodeId).toBe(otherId);

    // A partner's sealed job through the gateway runs on the enrolled node, to the exact output.
    const partner = new PartnerHttpClient({ baseUrl: gatewayUrl, apiKey: partnerKey });
    const model = referenceMlp();
    const input = dataset(24, 64, 3);
    const jobId = `job-${randomUUID()}`;
    await partner.submit(await partner.uploadModel(model), await partner.uploadDataset(input), {
      jobId,
      shardSize: 8,
      capability: 'cpu.generic',
      deadline: new Date(Date.now() + 3_600_000).toISOString(),
      redundancy: { replicas: 1, spotCheckRate: 0, tolerance: 1e-5 },
    });
    const outcome = await partner.follow(jobId);
    if (outcome.status !== 'completed') throw new Error(`job ${outcome.status}: ${outcome.reason}`);
    expect(sha256(encodeTensor(await partner.downloadTensor({ jobId })))).toBe(sha256(encodeTensor(runLocally(model, input, 8))));
    // The node fetched the data keys of its leases as itself; nothing on the way was refused.
    const released = await Promise.all([nodeId, otherId!].map(async (id) => (await sb.store.readStream(`audit-${id}`)).filter((e) => e.type === 'KeyReleased').length));
    expect(released[0]! + released[1]!).toBeGreaterThanOrEqual(3);
    // The owners are paid: rewards (under its own credential) accrued each node's work, and the
    // owner reads the balance through the gateway, which asks rewards over the bus.
    await rewards.until('both nodes rewarded', (events: WeaiEvent[]) => [nodeId, otherId].every((id) => ofType(events, 'RewardAccrued').some((e) => e.data.nodeId === id && e.data.jobId === jobId)));
    const available = async () => BigInt(((await (await fetch(`${gatewayUrl}/v1/owner/earnings`, { headers: { authorization: `Bearer ${token}` } })).json()) as { available: string }).available);
    await eventually(async () => (await available()) > 0n, "the owner's earnings through the gateway", 30_000);

    // A partner on the bus itself: the SDK connects with its own partner credential (TLS, its seed,
    // its inbox), uploads, submits and follows its job's events through its own durable consumer.
    const nats = await startNatsPartner('pn');
    const natsJobId = `job-${randomUUID()}`;
    const seen: WeaiEvent[] = [];
    const following = nats.follow(natsJobId, (e) => seen.push(e));
    await nats.submit(await nats.uploadModel(model), await nats.uploadDataset(input), {
      jobId: natsJobId,
      shardSize: 8,
      capability: 'cpu.generic',
      deadline: new Date(Date.now() + 3_600_000).toISOString(),
      redundancy: { replicas: 1, spotCheckRate: 0, tolerance: 1e-5 },
    });
    const natsOutcome = await following;
    // Addresses stay the plaintext SHA-256 under sealing: the integrated output is the reference's.
    expect(natsOutcome).toEqual({ status: 'completed', jobId: natsJobId, outputHash: sha256(encodeTensor(runLocally(model, input, 8))) });
    expect(seen.map((e) => e.type)).toEqual(expect.arrayContaining(['JobSubmitted', 'JobCompleted']));
    expect(seen.every((e) => (e.data as { jobId?: string }).jobId === natsJobId)).toBe(true);
    // Rewards, under its own credential, credits the nodes for this job too.
    await rewards.until('the NATS partner job rewarded', (events: WeaiEvent[]) => ofType(events, 'RewardAccrued').some((e) => e.data.jobId === natsJobId));

    // An operator reads the capacity index with the `weai` CLI over TLS with its own operator
    // credential: the resources service, under its own credential, answers from its read model.
    const operator = await sb.commands.issue({ credentialId: 'op-sn', role: 'operator', principalId: 'op-sn' }, new Date());
    const operatorSeed = join(sb.dir, 'op-sn.nk');
    writeFileSync(operatorSeed, `${operator.seed}\n`, { mode: 0o600 });
    const cli = start(
      startTs('weai capacity', 'tools/weai/main.ts', ['capacity', '--nats', sb.nats.url, '--nats-ca', sb.caFile, '--nkey-seed-file', operatorSeed, '--inbox-prefix', operator.inboxPrefix], {
        ...CLEAN_ENV,
        NATS_NKEY_SEED_FILE: '',
        NATS_INBOX_PREFIX: '',
      }),
    );
    expect({ code: await cli.exited, output: cli.output() }).toEqual({ code: 0, output: expect.stringContaining('"capabilityClass":"cpu.generic"') });
    const capacity = cli.output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { capabilityClass: string; online: number });
    expect(capacity.find((c) => c.capabilityClass === 'cpu.generic')?.online).toBeGreaterThanOrEqual(2);
    // And audits the nodes stream with `weai replay`, message by message (its row allows no consumer).
    const replay = start(
      startTs('weai replay', 'tools/weai/main.ts', ['replay', '--stream', 'WEAI_NODES', '--from', '1', '--to', '3', '--nats', sb.nats.url, '--nats-ca', sb.caFile, '--nkey-seed-file', operatorSeed, '--inbox-prefix', operator.inboxPrefix], {
        ...CLEAN_ENV,
        NATS_NKEY_SEED_FILE: '',
        NATS_INBOX_PREFIX: '',
      }),
    );
    expect({ code: await replay.exited, output: replay.output() }).toMatchObject({ code: 0 });
    const replayed = replay.output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { seq: number; subject: string });
    expect(replayed.map((m) => m.seq)).toEqual([1, 2, 3]);
    expect(replayed.every((m) => m.subject.startsWith('weai.evt.nodes.'))).toBe(true);
    // Every service and node stayed inside its row of the permission table: the server refused
    // nothing but the short-enrolled start's consumer.
    const violations = readFileSync(sb.logFile, 'utf8').split('\n').filter((l) => /(Publish|Subscription|Permissions) Violation/.test(l));
    expect(violations.filter((l) => !l.includes(shortRefusal))).toEqual([]);
    expect((await securityEvents('AccessDenied')).filter((d) => d['principalId'] !== nodeId || !String(d['resource']).includes(shortRefusal))).toEqual([]);

    // A partner cannot follow another partner's job events: the client sees the server's refusal
    // (the partner-sn events through a client holding pn's credential), and it is on record.
    const impostor = await PartnerClient.connect({ servers: sb.nats.url, partnerId: 'partner-sn', tlsCaFile: sb.caFile, nkeySeedFile: partnerSeed('pn'), inboxPrefix: '_INBOX.pn' });
    try {
      await expect(impostor.follow(`job-${randomUUID()}`)).rejects.toThrow(/Permissions Violation for Publish to "\$JS\.API\.CONSUMER\.INFO\.WEAI_JOBS\.jobs-partner-sn"/);
      // Nor ask about, cancel or submit jobs in its name: job requests name the partner in their subject.
      await expect(impostor.status(`job-${randomUUID()}`)).rejects.toThrow(/Permissions Violation for Publish to "weai\.rpc\.jobs\.status\.partner-sn"/);
      await expect(impostor.cancel(`job-${randomUUID()}`, 'not mine')).rejects.toThrow(/Permissions Violation for Publish to "weai\.rpc\.jobs\.cancel\.partner-sn"/);
    } finally {
      await impostor.close();
    }
    await eventually(async () => (await securityEvents('AccessDenied')).some((d) => d['principalId'] === 'pn' && String(d['resource']).includes('jobs-partner-sn')), "the refused foreign follow on record");
    await eventually(async () => (await securityEvents('AccessDenied')).some((d) => d['principalId'] === 'pn' && String(d['resource']).includes('weai.rpc.jobs.status.partner-sn')), 'the refused foreign status request on record');

    // Only its owner may revoke it (another owner's attempt answers as a missing node).
    const revoke = (id: string, t: string) => post(`/v1/owner/nodes/${id}/revoke`, { reason: 'owner reported the machine stolen' }, t);
    expect((await revoke(nodeId, await signIn(otherOwner))).status).toBe(404);
    // Revoked (the machine was stolen): the live connection is cut, the reconnects refused, the agent stops and says why.
    const revoked = await revoke(nodeId, token);
    expect({ status: revoked.status, body: await revoked.json() }).toEqual({ status: 200, body: { nodeId, revoked: true } });
    expect(await agent.exited).toBe(1);
    expect(agent.output()).toContain(`refused this node's key ${publicKey}`);
    expect(await securityEvents('CredentialRevoked')).toContainEqual({ credentialId: `node-${nodeId}`, principalId: nodeId, reason: 'owner reported the machine stolen' });
    await eventually(async () => (await securityEvents('AuthenticationFailed')).some((d) => d['principalId'] === nodeId && d['channel'] === 'nats'), 'the refused reconnect on record');
    // The same key cannot be enrolled again; the other node was not touched.
    expect((await post('/v1/owner/nodes', { publicKey, capabilityClasses }, token)).status).toBe(409);
    expect(other.agent.child.exitCode).toBeNull();
  }, 400_000);

  it('an owner revokes a node it enrolled before the node ever registered; another owner is refused as for an unknown node', async () => {
    const publicKey = createUser().getPublicKey();
    const nodeId = nodeIdOf(publicKey);
    const credentialId = `node-${nodeId}`;
    const [token, otherToken] = [await signIn(owner), await signIn(otherOwner)];
    const ownerId = ownerIdOf(owner.address);
    const otherId = ownerIdOf(otherOwner.address);
    expect((await post('/v1/owner/nodes', { publicKey, capabilityClasses: ['cpu.generic'] }, token)).status).toBe(201);
    // The credential names the enrolling owner by its opaque id, never by its payout address.
    const issued = (await securityEvents('CredentialIssued')).filter((d) => d['credentialId'] === credentialId);
    expect(issued).toEqual([expect.objectContaining({ principalId: nodeId, ownerId })]);
    expect(JSON.stringify(issued).toLowerCase()).not.toContain(owner.address.slice(2).toLowerCase());
    // No other owner may take the key over, nor revoke it: the answer is exactly an unknown node's.
    expect((await post('/v1/owner/nodes', { publicKey, capabilityClasses: ['cpu.generic', 'cpu.avx2'] }, otherToken)).status).toBe(409);
    const revoke = (id: string, t: string) => post(`/v1/owner/nodes/${id}/revoke`, { reason: 'retired before first start' }, t);
    const refused = await revoke(nodeId, otherToken);
    const unknownId = nodeIdOf(createUser().getPublicKey());
    const unknown = await revoke(unknownId, otherToken);
    expect({ status: refused.status, body: await refused.json() }).toEqual({ status: 404, body: { error: { code: 'node.not-found', message: `no node ${nodeId} of yours` } } });
    expect({ status: unknown.status, body: await unknown.json() }).toEqual({ status: 404, body: { error: { code: 'node.not-found', message: `no node ${unknownId} of yours` } } });
    // Each refusal is audited against the owner who tried; nothing is revoked, nothing changed.
    const deniedTo = async (resource: string) => (await sb.store.readStream(`audit-${otherId}`)).some((e) => e.type === 'AccessDenied' && (e.data as Record<string, unknown>)['resource'] === resource);
    await eventually(async () => (await deniedTo(`node:${nodeId}`)) && (await deniedTo(`node:${unknownId}`)), "the other owner's refused revocations on record");
    expect((await sb.store.readStream(`credential-${credentialId}`)).map((e) => e.type)).toEqual(['CredentialIssued']);

    // The enrolling owner revokes it, though the node never registered; the key stays revoked.
    expect(ofType(nodes.events, 'NodeRegistered').some((e) => e.data.nodeId === nodeId)).toBe(false);
    const revoked = await revoke(nodeId, token);
    expect({ status: revoked.status, body: await revoked.json() }).toEqual({ status: 200, body: { nodeId, revoked: true } });
    expect(await securityEvents('CredentialRevoked')).toContainEqual({ credentialId, principalId: nodeId, reason: 'retired before first start' });
    expect((await post('/v1/owner/nodes', { publicKey, capabilityClasses: ['cpu.generic'] }, token)).status).toBe(409);
  }, 120_000);
});
