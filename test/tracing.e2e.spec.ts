import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '@weai/messaging/src/testing/nats-server';
import { PartnerHttpClient } from '@weai/sdk';
import { type PayoutChain, startPayoutChain } from './support/payout-chain';
import { type TestNetwork, startNetwork } from './support/control-plane';
import { type OtlpReceiver, type ReceivedSpan, startOtlpReceiver } from './support/otlp-receiver';
import type { ManagedProcess } from './support/processes';
import { runReferenceJob } from './support/reference';

const SERVER = 2;
const CLIENT = 3;
const CONSUMER = 5;

/** The chain of spans from `span` up to its trace's root, as far as the spans received go. */
function ancestry(span: ReceivedSpan, spans: readonly ReceivedSpan[]): ReceivedSpan[] {
  const byId = new Map(spans.filter((s) => s.traceId === span.traceId).map((s) => [s.spanId, s]));
  const chain = [span];
  for (let s = span; s.parentSpanId && byId.has(s.parentSpanId); ) chain.push((s = byId.get(s.parentSpanId)!));
  return chain;
}

const metric = (text: string, line: RegExp) => Number(line.exec(text)?.[1] ?? NaN);

describe('tracing (e2e): one trace follows a job from the gateway through the scheduler and an agent to rewards', () => {
  const key = `key-${randomBytes(16).toString('hex')}`;
  let otlp: OtlpReceiver;
  let chain: PayoutChain;
  let net: TestNetwork;
  let gateway: ManagedProcess;
  let baseUrl: string;
  let gatewayHealth: number;
  const agents: ManagedProcess[] = [];

  beforeAll(async () => {
    otlp = await startOtlpReceiver();
    // Spans go out every 200 ms instead of every second, so the test waits less for them.
    const otel = { OTEL_EXPORTER_OTLP_ENDPOINT: otlp.endpoint, OTEL_BSP_SCHEDULE_DELAY: '200' };
    chain = await startPayoutChain('tracing-e2e');
    net = await startNetwork({ ...chain.env, ...otel });
    gatewayHealth = await freePort();
    [{ process: gateway, baseUrl }] = await Promise.all([
      net.startGateway({ ...otel, GATEWAY_PARTNER_KEYS: `partner-t:${key}`, WEAI_HEALTH_PORT: String(gatewayHealth) }),
      net.startService('nodes'),
      net.startService('scheduler'),
      net.startService('rewards'),
    ]);
    // Three owners: a new node's results are cross-checked by a node of another owner, and a
    // replica that ran twice (its lease ran out on a busy machine) still leaves a node to check it.
    for (const name of ['t1', 't2', 't3']) agents.push((await net.startAgent(name, { env: otel })).process);
  });
  afterEach(() => {
    if (process.env['WEAI_E2E_LOGS']) for (const p of [...net.services.values(), gateway, ...agents]) process.stderr.write(`--- ${p.name}\n${p.output().slice(-3000)}\n`);
  });
  afterAll(async () => {
    await gateway?.kill();
    await net?.stop();
    await chain?.stop();
    await otlp?.close();
  });

  it('exports spans of the gateway, scheduler, agent and rewards with the same trace id, each reaching the partner\u2019s HTTP request', async () => {
    const partner = new PartnerHttpClient({ baseUrl, apiKey: key });
    const { jobId, ended } = await runReferenceJob(partner, net.jobs, 16, 23);
    expect(ended).toBe('JobCompleted');

    // The partner's request is the root of the job's trace.
    const root = await otlp.until('the gateway span of the submission', (spans) =>
      spans.find((s) => s.service === 'weai-gateway' && s.kind === SERVER && s.name === 'POST /v1/jobs' && s.attributes['http.response.status_code'] === 201),
    );
    expect(root.parentSpanId).toBeUndefined();
    const reachesRoot = (s: ReceivedSpan) => ancestry(s, otlp.spans).at(-1)!.spanId === root.spanId;

    // Every hop of the job, each with its parent chain complete up to that request.
    const hops = await otlp.until('spans of every service in the job\u2019s trace, linked to its root', (spans) => {
      const trace = spans.filter((s) => s.traceId === root.traceId);
      const submit = trace.find((s) => s.service === 'weai-scheduler' && s.kind === SERVER && s.name === 'weai.rpc.jobs.submit');
      const dispatch = trace.find((s) => s.service === 'weai-scheduler' && s.kind === CONSUMER && s.name === 'scheduler-dispatch-job process');
      const shard = trace.find((s) => s.service === 'weai-agent' && s.kind === CONSUMER && s.name === 'shard execute' && reachesRoot(s));
      const result = trace.find((s) => s.service === 'weai-scheduler' && s.name === 'scheduler-results process' && reachesRoot(s));
      const accrual = trace.find((s) => s.service === 'weai-rewards' && s.name === 'rewards-accrual process' && reachesRoot(s));
      return submit && dispatch && shard && result && accrual && { submit, dispatch, shard, result, accrual };
    });
    const services = new Set(otlp.spans.filter((s) => s.traceId === root.traceId).map((s) => s.service));
    if (process.env['WEAI_E2E_LOGS']) {
      const counts = new Map<string, number>();
      for (const s of otlp.spans.filter((x) => x.traceId === root.traceId)) counts.set(`${s.service} ${s.name}`, (counts.get(`${s.service} ${s.name}`) ?? 0) + 1);
      process.stderr.write(`spans of the job's trace:\n${[...counts].map(([k, n]) => `  ${n} × ${k}`).join('\n')}\n`);
    }
    expect([...services]).toEqual(expect.arrayContaining(['weai-gateway', 'weai-scheduler', 'weai-agent', 'weai-rewards']));

    // gateway HTTP → gateway NATS request → scheduler responder → (JobPartitioned) dispatch consumer.
    const client = otlp.spans.find((s) => s.spanId === hops.submit.parentSpanId)!;
    expect(client).toMatchObject({ service: 'weai-gateway', kind: CLIENT, name: 'weai.rpc.jobs.submit', parentSpanId: root.spanId });
    expect(hops.dispatch.parentSpanId).toBe(hops.submit.spanId);
    expect(hops.dispatch.attributes['weai.event.type']).toBe('JobPartitioned');
    // agent shard ← a scheduler dispatch; result ← the agent's shard; accrual ← a result (ShardValidated).
    const shardChain = ancestry(hops.shard, otlp.spans);
    expect(shardChain.map((s) => s.service)).toEqual(expect.arrayContaining(['weai-agent', 'weai-scheduler', 'weai-gateway']));
    expect(shardChain[1]!.service).toBe('weai-scheduler');
    expect(hops.shard.attributes).toMatchObject({ 'weai.job.id': jobId });
    expect(otlp.spans.find((s) => s.spanId === hops.result.parentSpanId)).toMatchObject({ service: 'weai-agent', name: 'shard execute' });
    const accrualChain = ancestry(hops.accrual, otlp.spans).map((s) => `${s.service}:${s.name}`);
    expect(accrualChain[0]).toBe('weai-rewards:rewards-accrual process');
    expect(accrualChain).toEqual(expect.arrayContaining(['weai-scheduler:scheduler-results process', 'weai-agent:shard execute', 'weai-gateway:POST /v1/jobs']));

    // The same job in the metrics: the gateway counts by route template, agents count shards.
    const gatewayMetrics = await (await fetch(`http://127.0.0.1:${gatewayHealth}/metrics`)).text();
    expect(metric(gatewayMetrics, /^weai_http_requests_total\{method="POST",route="\/v1\/jobs",status="201"\} (\d+)$/m)).toBe(1);
    expect(gatewayMetrics).not.toContain(jobId);
    let shards = 0;
    for (const name of ['t1', 't2', 't3']) {
      const { url } = JSON.parse(readFileSync(join(net.dir, name, 'control.json'), 'utf8')) as { url: string };
      const text = await (await fetch(`${url}metrics`)).text();
      shards += metric(text, /^weai_agent_shards_total\{outcome="completed"\} (\d+)$/m) || 0;
    }
    expect(shards).toBeGreaterThanOrEqual(4);
  }, 240_000);
});
