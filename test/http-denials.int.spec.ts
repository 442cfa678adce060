import { randomBytes } from 'node:crypto';
import { DeliverPolicy } from '@nats-io/jetstream';
import { PARKED_STREAM, securityReportSubject } from '@weai/contracts';
import { type EventStore, type RecordedEvent, openSqlEventStore } from '@weai/eventstore';
import { type Bus, connectBus, ensureStreams } from '@weai/messaging';
import { type TestNatsServer, startNatsServer } from '@weai/messaging/src/testing/nats-server';
import { DenialReporter, reportOf } from '../services/gateway/src/audit/denials';
import { DenialsMessageController } from '../services/security/src/adapters/denials.message.controller';

/**
 * The audit path of HTTP refusals, against a real nats-server and a real SQLite store: the
 * gateway's reporter publishes, the security service's consumer appends to `audit-<principal>`.
 */
describe('HTTP refusals reach the security audit (int)', () => {
  let nats: TestNatsServer;
  let bus: Bus;
  let store: EventStore;
  let consumer: DenialsMessageController;
  const recorded: RecordedEvent[] = [];
  const waiters = new Set<() => void>();
  const until = (what: string, predicate: (events: RecordedEvent[]) => boolean) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (!predicate(recorded)) return;
        cleanup();
        resolve();
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out waiting for ${what}: ${JSON.stringify(recorded.map((e) => [e.streamId, e.type]))}`));
      }, 10_000);
      const cleanup = () => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });
  let stopSubscription: () => Promise<void>;

  beforeAll(async () => {
    nats = await startNatsServer();
    bus = await connectBus({ servers: nats.url, name: 'http-denials-test' });
    await ensureStreams(bus.jsm);
    store = await openSqlEventStore({ type: 'sqlite', path: ':memory:' });
    const sub = store.subscribe(0, (e) => {
      recorded.push(e);
      waiters.forEach((w) => w());
    });
    stopSubscription = () => sub.stop();
    consumer = new DenialsMessageController(bus, store);
    await consumer.onApplicationBootstrap();
  });
  afterAll(async () => {
    await consumer?.onApplicationShutdown();
    await stopSubscription?.();
    await store?.close();
    await bus?.close();
    await nats?.stop();
  });

  it('records an access refusal and a failed authentication under their principals, with pseudonyms only', async () => {
    const reporter = new DenialReporter(bus.js, randomBytes(32), (m) => {
      throw new Error(m);
    });
    const source = reporter.pseudonym('203.0.113.7');
    expect(source).toMatch(/^src-[0-9a-f]{32}$/);
    expect(reporter.pseudonym('203.0.113.7')).toBe(source);
    expect(reporter.pseudonym('203.0.113.8')).not.toBe(source);
    const now = new Date();
    reporter.report({ kind: 'access', principal: { role: 'owner', id: 'o1234' }, action: 'GET /v1/jobs/:jobId', resource: 'job:j-1', reason: 'this route is for partners only', source }, now);
    reporter.report({ kind: 'authentication', claimedId: 'not an id!', action: 'GET /v1/owner/nodes', reason: 'the token expired at …', source }, now);
    await until('both refusals', (events) => events.length === 2);
    const denied = recorded.find((e) => e.type === 'AccessDenied')!;
    expect(denied).toMatchObject({ streamId: 'audit-o1234', data: { principalId: 'o1234', role: 'owner', channel: 'http', resource: 'job:j-1', source } });
    const failed = recorded.find((e) => e.type === 'AuthenticationFailed')!;
    expect(failed).toMatchObject({ streamId: 'audit-anonymous', data: { principalId: 'anonymous', channel: 'http', action: 'GET /v1/owner/nodes', source } });
    expect(JSON.stringify(recorded)).not.toContain('203.0.113');
  });

  it('stores a report delivered twice once, and parks one that is no audit event', async () => {
    const before = recorded.length;
    const report = reportOf({ kind: 'access', principal: { role: 'partner', id: 'partner-x' }, action: 'GET /v1/objects/:hash', resource: `object:${'a'.repeat(64)}`, reason: 'no grant' }, '4b0c9e2a-1f3d-4c5e-9a7b-2d8e6f1a3c5b', new Date());
    const subject = securityReportSubject('gateway', 'AccessDenied');
    // Two message ids: JetStream keeps both, so only the store's idempotency stops the second.
    await bus.js.publish(subject, JSON.stringify(report), { msgID: 'first' });
    await bus.js.publish(subject, JSON.stringify(report), { msgID: 'second' });
    // Both copies handled (acknowledged), and the event is in the store once.
    await until('the first copy', (events) => events.slice(before).some((e) => e.metadata.eventId === report.metadata.eventId));
    for (const deadlineAt = Date.now() + 10_000; ; ) {
      const info = await bus.jsm.consumers.info('WEAI_SECURITY_REPORTS', 'security-denial-reports');
      if (info.num_pending === 0 && info.num_ack_pending === 0) break;
      if (Date.now() > deadlineAt) throw new Error(`reports still pending: ${JSON.stringify({ pending: info.num_pending, ack: info.num_ack_pending })}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(recorded.slice(before).filter((e) => e.metadata.eventId === report.metadata.eventId)).toHaveLength(1);
    expect(await store.readStream('audit-partner-x')).toHaveLength(1);

    // Not an audit event (a reporter may not revoke credentials): parked with the reason, nothing stored.
    await bus.js.publish(subject, JSON.stringify({ type: 'CredentialRevoked', data: { credentialId: 'c', principalId: 'p', reason: 'forged' }, metadata: report.metadata }), { msgID: 'forged' });
    const parked = await bus.js.consumers.get(PARKED_STREAM, { deliver_policy: DeliverPolicy.All, filter_subjects: 'weai.parked.security-denial-reports' });
    const message = await parked.next({ expires: 10_000 });
    expect(message?.string()).toContain('CredentialRevoked');
    expect(message?.headers?.get('Weai-Park-Reason')).toMatch(/not an AccessDenied or AuthenticationFailed event/);
    expect(await store.readStream('audit-p')).toEqual([]);
  });

});
