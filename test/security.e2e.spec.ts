import { connect as connectTcp } from 'node:net';
import { AckPolicy } from '@nats-io/jetstream';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { createUser } from '@nats-io/nkeys';
import { type NatsConnection, connect, nkeyAuthenticator } from '@nats-io/transport-node';
import { SECURITY_RPC, SHARDS_STREAM, TELEMETRY_STREAM, heartbeatSubject, shardSubject } from '@weai/contracts';
import type { RecordedEvent } from '@weai/eventstore';
import { requestJson } from '@weai/messaging';
import { eventually } from '@weai/messaging/src/testing/streams';
import { Kvm } from '@nats-io/kv';
import { JOB_STATUS_BUCKET, RESULTS_STREAM, resultSubject } from '@weai/contracts';
import { ContentStore } from '@weai/messaging';
import { ensureShardConsumer } from '@weai/node-agent/src/worker';
import type { IssuedCredential } from '../services/security/src/application/credentials';
import { partnerJobsDurable, shardDurable } from '../services/security/src/domain/permissions';
import { type SecuredBus, startSecuredBus } from '../services/security/test/support';

/**
 * Least privilege on the bus, against a real nats-server 2.9 with TLS only, nkey users rendered by
 * the security service, and reloads: every refusal is the server's, and each is then found as an
 * audit event in the security service's store.
 */
describe('security: credentials, permissions, TLS, revocation and audit on a real nats-server', () => {
  let sb: SecuredBus;
  let operator: NatsConnection;
  let scheduler: NatsConnection;
  const now = () => new Date();

  const issue = (body: Record<string, unknown>) => requestJson<IssuedCredential>(operator, SECURITY_RPC.issue, body);
  const auditEvents = async (type: string): Promise<RecordedEvent[]> => (await sb.store.readAll(0, 10_000)).filter((e) => e.type === type);
  const awaitAudit = async (type: string, match: (data: Record<string, string>) => boolean, what: string) => {
    await eventually(async () => (await auditEvents(type)).some((e) => match(e.data as Record<string, string>)), what);
  };
  /** Resolves with the first permission error the server reports to a connection, or "none" after 5 s. */
  const nextPermissionError = (nc: NatsConnection) => {
    let timer: NodeJS.Timeout | undefined;
    const none = new Promise<string>((resolve) => (timer = setTimeout(() => resolve('none within 5 s'), 5000)));
    const seen = (async () => {
      for await (const s of nc.status()) if (s.type === 'error' && /Permissions Violation/.test(String(s.error))) return String(s.error);
      return 'closed';
    })();
    return Promise.race([seen, none]).finally(() => clearTimeout(timer));
  };

  beforeAll(async () => {
    sb = await startSecuredBus();
    // The first operator is issued beside the server (as the CLI would); everything else over the bus.
    const op = await sb.commands.issue({ credentialId: 'op-alice', role: 'operator', principalId: 'alice' }, now());
    operator = await sb.connectAs(op);
    scheduler = await sb.connectAs(await issue({ credentialId: 'svc-scheduler', role: 'service', principalId: 'scheduler' }));
  });
  afterAll(async () => {
    await sb?.stop();
  });

  it('records CredentialIssued with the public key and permissions, never the seed', async () => {
    const events = await auditEvents('CredentialIssued');
    expect(events.map((e) => (e.data as { credentialId: string }).credentialId)).toEqual(expect.arrayContaining(['op-alice', 'svc-scheduler']));
    expect(JSON.stringify(events)).not.toMatch(/SU[A-Z2-7]{56}/);
  });

  it('a node publishes its own heartbeat, and one on another node’s subject is refused and recorded', async () => {
    const node = await sb.connectAs(await issue({ credentialId: 'cred-n1', role: 'node', principalId: 'n1', capabilityClasses: ['cpu.avx2'] }));
    const refused = nextPermissionError(node);
    node.publish(heartbeatSubject('n1'), JSON.stringify({ nodeId: 'n1' }));
    node.publish(heartbeatSubject('n2'), JSON.stringify({ nodeId: 'n2', forged: true }));
    await node.flush();
    expect(await refused).toMatch(/Publish to "weai.hb.n2"/);
    const jsm = await jetstreamManager(scheduler);
    await eventually(async () => !!(await jsm.streams.getMessage(TELEMETRY_STREAM, { last_by_subj: 'weai.hb.n1' }).catch(() => null)), 'own heartbeat stored');
    expect(await jsm.streams.getMessage(TELEMETRY_STREAM, { last_by_subj: 'weai.hb.n2' }).catch(() => null)).toBeNull();
    await awaitAudit('AccessDenied', (d) => d['principalId'] === 'n1' && d['action'] === 'publish' && d['resource'] === 'weai.hb.n2', 'AccessDenied for the forged heartbeat');
  });

  it('a node publishes its own results, and one in another node’s name is refused and recorded', async () => {
    const node = await sb.connectAs(await issue({ credentialId: 'cred-n6', role: 'node', principalId: 'n6', capabilityClasses: ['cpu.avx2'] }));
    const js = jetstream(node);
    expect((await js.publish(resultSubject('j6', 0, 1, 'n6'), 'own result')).stream).toBe('WEAI_RESULTS');
    const refused = nextPermissionError(node);
    node.publish(resultSubject('j6', 0, 1, 'n7'), 'a result claiming node n7');
    await node.flush();
    expect(await refused).toMatch(/Publish to "weai.result.j6.0.1.n7"/);
    const jsm = await jetstreamManager(scheduler);
    expect(await jsm.streams.getMessage(RESULTS_STREAM, { last_by_subj: resultSubject('j6', 0, 1, 'n7') }).catch(() => null)).toBeNull();
    await awaitAudit('AccessDenied', (d) => d['principalId'] === 'n6' && d['action'] === 'publish' && d['resource'] === 'weai.result.j6.0.1.n7', 'AccessDenied for the result in another node’s name');
  });

  it('a node pulls shards of its own capability class, and pulling another class is refused and recorded', async () => {
    const jsm = await jetstreamManager(scheduler);
    const js = jetstream(scheduler);
    for (const cls of ['cpu.avx2', 'cuda.sm86.vram8']) {
      await jsm.consumers.add(SHARDS_STREAM, { durable_name: shardDurable(cls), filter_subject: shardSubject(cls), ack_policy: AckPolicy.Explicit });
      await js.publish(shardSubject(cls), `work for ${cls}`);
    }
    const cred = await issue({ credentialId: 'cred-n3', role: 'node', principalId: 'n3', capabilityClasses: ['cpu.avx2'] });
    const node = await sb.connectAs(cred);
    const njs = jetstream(node);
    const own = await (await njs.consumers.get(SHARDS_STREAM, shardDurable('cpu.avx2'))).next({ expires: 5000 });
    expect(own?.string()).toBe('work for cpu.avx2');
    expect(await own!.ackAck()).toBe(true);

    const refused = nextPermissionError(node);
    // A raw pull request, as a modified agent would send it, and the client's own route (consumer info first).
    node.publish(`$JS.API.CONSUMER.MSG.NEXT.${SHARDS_STREAM}.${shardDurable('cuda.sm86.vram8')}`, JSON.stringify({ batch: 1 }), { reply: `${cred.inboxPrefix}.stolen` });
    expect(await refused).toMatch(/MSG.NEXT.WEAI_SHARDS.shards-cuda_sm86_vram8/);
    await expect(njs.consumers.get(SHARDS_STREAM, shardDurable('cuda.sm86.vram8')).then((c) => c.next({ expires: 2000 }))).rejects.toThrow();
    expect((await jsm.consumers.info(SHARDS_STREAM, shardDurable('cuda.sm86.vram8'))).num_pending).toBe(1);
    await awaitAudit('AccessDenied', (d) => d['principalId'] === 'n3' && /shards-cuda_sm86_vram8/.test(d['resource']!), 'AccessDenied for the foreign pull');
  });

  it('a node’s permissions are enough for what the agent does: its consumer, results, objects, job status', async () => {
    // What the scheduler sets up before any agent runs.
    const schedulerObjects = await ContentStore.open(jetstream(scheduler));
    const model = await schedulerObjects.put(new TextEncoder().encode('model bytes'.repeat(20_000)));
    const status = await new Kvm(jetstream(scheduler)).create(JOB_STATUS_BUCKET, { history: 1 });
    await status.put('job-cancelled', 'cancelled');
    const node = await sb.connectAs(await issue({ credentialId: 'cred-n5', role: 'node', principalId: 'n5', capabilityClasses: ['cpu.sse4'] }));
    const refused = nextPermissionError(node);
    const js = jetstream(node);
    // The agent's own calls (node-agent/src/agent.ts, worker.ts), in its order.
    await ensureShardConsumer(await jetstreamManager(node), shardDurable('cpu.sse4'), shardSubject('cpu.sse4'));
    const objects = await ContentStore.open(js);
    expect((await objects.get(model))?.byteLength).toBe(11 * 20_000);
    const output = await objects.put(new TextEncoder().encode('large output'.repeat(30_000)));
    expect(await schedulerObjects.has(output)).toBe(true);
    const jobStatus = await new Kvm(js).create(JOB_STATUS_BUCKET, { history: 1 });
    expect((await jobStatus.get('job-cancelled'))?.string()).toBe('cancelled');
    const ack = await js.publish(resultSubject('j1', 0, 0, 'n5'), 'result', { msgID: 'j1.0.0.1.n5' });
    expect(ack.stream).toBe('WEAI_RESULTS');
    expect(await Promise.race([refused, node.flush().then(() => 'none so far')])).toBe('none so far');
  });

  it('a partner reads its own jobs’ events, and subscribing to another partner’s is refused and recorded', async () => {
    const js = jetstream(scheduler);
    await js.publish('weai.evt.jobs.p1.JobSubmitted', JSON.stringify({ mine: true }));
    await js.publish('weai.evt.jobs.p2.JobSubmitted', JSON.stringify({ secret: true }));
    const partner = await sb.connectAs(await issue({ credentialId: 'cred-p1', role: 'partner', principalId: 'p1' }));
    const pjsm = await jetstreamManager(partner);
    await pjsm.consumers.add('WEAI_JOBS', { durable_name: partnerJobsDurable('p1'), filter_subject: 'weai.evt.jobs.p1.>', ack_policy: AckPolicy.Explicit });
    const mine = await (await jetstream(partner).consumers.get('WEAI_JOBS', partnerJobsDurable('p1'))).next({ expires: 5000 });
    expect(mine?.subject).toBe('weai.evt.jobs.p1.JobSubmitted');

    const refused = nextPermissionError(partner);
    partner.subscribe('weai.evt.jobs.p2.>');
    expect(await refused).toMatch(/Subscription to "weai.evt.jobs.p2.>"/);
    await expect(pjsm.consumers.add('WEAI_JOBS', { durable_name: partnerJobsDurable('p1'), filter_subject: 'weai.evt.jobs.p2.>', ack_policy: AckPolicy.Explicit })).rejects.toThrow();
    await awaitAudit('AccessDenied', (d) => d['principalId'] === 'p1' && d['action'] === 'subscribe' && d['resource'] === 'weai.evt.jobs.p2.>', 'AccessDenied for the foreign subscription');
    await awaitAudit('AccessDenied', (d) => d['principalId'] === 'p1' && d['resource'] === '$JS.API.CONSUMER.CREATE.WEAI_JOBS.jobs-p1.weai.evt.jobs.p2.>', 'AccessDenied for the foreign consumer');
  });

  it('revoking a credential cuts its live connection and refuses the next, each recorded', async () => {
    const cred = await issue({ credentialId: 'cred-p3', role: 'partner', principalId: 'p3' });
    const partner = await sb.connectAs(cred, { maxReconnectAttempts: 5, reconnectTimeWait: 100 });
    const closed = partner.closed();
    await requestJson(operator, SECURITY_RPC.revoke, { credentialId: 'cred-p3', reason: 'partner offboarded' });
    expect(String(await closed)).toMatch(/Authorization Violation/);
    await expect(sb.connectAs(cred, { reconnect: false })).rejects.toThrow(/Authorization Violation/);
    expect((await auditEvents('CredentialRevoked')).map((e) => e.data)).toContainEqual({ credentialId: 'cred-p3', principalId: 'p3', reason: 'partner offboarded' });
    const listed = await requestJson<Array<{ credentialId: string }>>(operator, SECURITY_RPC.list, {});
    expect(listed.map((c) => c.credentialId)).toContain('op-alice');
    expect(listed.map((c) => c.credentialId)).not.toContain('cred-p3');
    await awaitAudit('AuthenticationFailed', (d) => d['principalId'] === 'p3' && d['channel'] === 'nats', 'AuthenticationFailed of the revoked key');
  });

  it('an unknown key is refused and recorded under its public key', async () => {
    const stranger = createUser();
    await expect(connect({ servers: sb.nats.url, tls: sb.tls(), reconnect: false, authenticator: nkeyAuthenticator(stranger.getSeed()) })).rejects.toThrow(/Authorization Violation/);
    await awaitAudit('AuthenticationFailed', (d) => d['principalId'] === stranger.getPublicKey(), 'AuthenticationFailed of the stranger');
  });

  it('a connection without TLS is refused (no plaintext fallback) and recorded', async () => {
    // A client that speaks plain NATS: reads INFO, sends CONNECT and PING, and never gets a PONG.
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connectTcp(sb.nats.port, '127.0.0.1');
      let received = '';
      socket.on('data', (d) => {
        received += d.toString('latin1');
        if (received.startsWith('INFO') && received.includes('\r\n') && !socket.writableEnded) socket.write('CONNECT {"verbose":false,"pedantic":false,"tls_required":false}\r\nPING\r\n');
      });
      socket.on('close', () => resolve(received));
      socket.on('error', reject);
    });
    expect(answer).toMatch(/"tls_required":true/);
    expect(answer).not.toMatch(/PONG/);
    // And a client that does not trust the CA cannot complete the handshake either.
    await expect(connect({ servers: sb.nats.url, reconnect: false, timeout: 2000 })).rejects.toThrow();
    await awaitAudit('AuthenticationFailed', (d) => d['principalId'] === 'anonymous' && /^TLS handshake failed/.test(d['reason']!), 'AuthenticationFailed for the plaintext client');
  });

  it('only operators may administer credentials', async () => {
    const node = await sb.connectAs(await issue({ credentialId: 'cred-n4', role: 'node', principalId: 'n4', capabilityClasses: [] }));
    const refused = nextPermissionError(node);
    const head = await sb.store.headPosition();
    await expect(requestJson(node, SECURITY_RPC.issue, { credentialId: 'evil', role: 'operator', principalId: 'mallory' }, 1000)).rejects.toThrow();
    expect(await refused).toMatch(/Publish to "weai.rpc.security.issue"/);
    expect((await sb.store.readAll(head, 100)).filter((e) => e.type === 'CredentialIssued')).toEqual([]);
  });
});
