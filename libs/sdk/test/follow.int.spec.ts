import { type JobStatus, jobRequestSubject } from '@weai/contracts';
import { type Bus, connectBus, ensureStreams } from '@weai/messaging';
import { type TestNatsServer, startNatsServer } from '@weai/messaging/src/testing/nats-server';
import { PartnerClient } from '../src';

/**
 * PartnerClient.follow against a real NATS server, with a stand-in for the scheduler's status
 * responder: the job's events never reach the partner's subscription (as when a fail-over leaves
 * its consumer silent), yet the scheduler knows the job ended.
 */
describe('PartnerClient.follow: a silent subscription does not keep a partner waiting', () => {
  let nats: TestNatsServer;
  let bus: Bus;
  let partner: PartnerClient;
  const asked: string[] = [];

  beforeAll(async () => {
    nats = await startNatsServer();
    bus = await connectBus({ servers: nats.url, name: 'follow-test' });
    await ensureStreams(bus.jsm);
    const statuses: Record<string, JobStatus> = {
      'job-done': { jobId: 'job-done', partnerId: 'p1', status: 'completed', shardCount: 2, shardsValidated: 2, shardsFailed: 0, outputHash: 'd'.repeat(64) },
      'job-running': { jobId: 'job-running', partnerId: 'p1', status: 'running', shardCount: 2, shardsValidated: 1, shardsFailed: 0 },
      'job-failed': { jobId: 'job-failed', partnerId: 'p1', status: 'failed', shardCount: 2, shardsValidated: 0, shardsFailed: 1, reason: 'shard 1 failed: bad model' },
    };
    bus.nc.subscribe(jobRequestSubject('status', 'p1'), {
      callback: (_, m) => {
        const { jobId } = m.json<{ jobId: string }>();
        asked.push(jobId);
        m.respond(JSON.stringify({ ok: true, value: statuses[jobId] }));
      },
    });
    partner = await PartnerClient.connect({ servers: nats.url, partnerId: 'p1' });
  });
  afterAll(async () => {
    await partner?.close();
    await bus?.close();
    await nats?.stop();
  });

  it('given a completed job whose events never arrive, when followed, then it resolves from the scheduler’s answer after the quiet period', async () => {
    const started = performance.now();
    await expect(partner.follow('job-done', undefined, { checkEveryMs: 300 })).resolves.toEqual({ status: 'completed', jobId: 'job-done', outputHash: 'd'.repeat(64) });
    expect(performance.now() - started).toBeGreaterThanOrEqual(300);
    expect(asked).toContain('job-done');
  });

  it('given a failed job, when followed, then the outcome carries the scheduler’s reason', async () => {
    await expect(partner.follow('job-failed', undefined, { checkEveryMs: 200 })).resolves.toEqual({ status: 'failed', jobId: 'job-failed', reason: 'shard 1 failed: bad model' });
  });

  it('given a job still running, when the partner gives up, then follow rejects with the abort', async () => {
    const abort = new AbortController();
    const following = partner.follow('job-running', undefined, { checkEveryMs: 100, signal: abort.signal });
    await new Promise((r) => setTimeout(r, 500)); // several checks: each says running
    expect(asked.filter((j) => j === 'job-running').length).toBeGreaterThanOrEqual(2);
    abort.abort();
    await expect(following).rejects.toThrow(/abort/i);
  });
});
