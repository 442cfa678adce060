import { randomBytes, randomUUID } from 'node:crypto';
import { referenceMlp } from '@weai/node-agent/src/onnx/reference-model';
import { freePort } from '@weai/messaging/src/testing/nats-server';
import { type JobOutcome, PartnerApiError, PartnerHttpClient } from '@weai/sdk';
import type { WeaiEvent } from '@weai/contracts';
import { encodeTensor, sha256 } from '@weai/tensors';
import { type TestNetwork, startNetwork } from './support/control-plane';
import { type ManagedProcess, startTs } from './support/processes';
import { dataset, runLocally } from './support/reference';

const deadline = () => new Date(Date.now() + 3_600_000).toISOString();
const redundancy = { replicas: 1, spotCheckRate: 0.1, tolerance: 1e-5 };
const MAX_UPLOAD = 256 * 1024;
/** No test agent has this class, so a job asking for it stays running until cancelled. */
const NO_SUCH_NODES = 'cuda.sm120.vram80';

describe('the partner gateway (e2e): HTTP in front of NATS', () => {
  const keyA = `key-a-${randomBytes(16).toString('hex')}`;
  const keyB = `key-b-${randomBytes(16).toString('hex')}`;
  const model = referenceMlp();
  let net: TestNetwork;
  let gateway: ManagedProcess;
  let baseUrl: string;
  let a: PartnerHttpClient;
  let b: PartnerHttpClient;
  let modelHash: string;
  let inputHash: string;
  let completedJobId: string;

  /** A raw request, for what the SDK does not let one get wrong. */
  const call = (path: string, init: RequestInit & { key?: string | null } = {}) => {
    const { key = keyA, headers, ...rest } = init;
    return fetch(`${baseUrl}${path}`, { ...rest, headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(headers as Record<string, string>) } });
  };
  const postJson = (path: string, body: string, key: string = keyA) => call(path, { method: 'POST', body, headers: { 'content-type': 'application/json' }, key });
  const errorOf = async (res: Response) => ((await res.json()) as { error: { code: string; message: string } }).error;
  const refusal = (p: Promise<unknown>) =>
    p.then(
      () => {
        throw new Error('expected a PartnerApiError');
      },
      (e: unknown) => {
        if (!(e instanceof PartnerApiError)) throw e;
        return { status: e.status, code: e.code, message: e.message };
      },
    );

  beforeAll(async () => {
    net = await startNetwork();
    await net.startService('nodes');
    await net.startService('scheduler');
    const port = await freePort();
    gateway = startTs('gateway', 'services/gateway/src/main.ts', [], {
      NATS_URL: net.nats.url,
      GATEWAY_PORT: String(port),
      GATEWAY_MAX_UPLOAD_BYTES: String(MAX_UPLOAD),
      GATEWAY_PARTNER_KEYS: `partner-a:${keyA},partner-b:${keyB}`,
    });
    baseUrl = (await gateway.waitFor(/gateway ready on http:\/\/\S+/)).split(' ').pop()!;
    expect(baseUrl).toBe(`http://127.0.0.1:${port}`);
    a = new PartnerHttpClient({ baseUrl, apiKey: keyA });
    b = new PartnerHttpClient({ baseUrl, apiKey: keyB });
  });
  afterEach(() => {
    if (process.env['WEAI_E2E_LOGS']) for (const p of [...net.services.values(), gateway]) process.stderr.write(`--- ${p.name}\n${p.output().slice(-3000)}\n`);
  });
  afterAll(async () => {
    await gateway?.kill();
    await net?.stop();
  });

  it('serves its OpenAPI document, Swagger UI and a health check', async () => {
    const doc = (await (await call('/openapi.json', { key: null })).json()) as { paths: Record<string, Record<string, unknown>>; components: { securitySchemes: Record<string, unknown> } };
    const operations = Object.entries(doc.paths).flatMap(([path, methods]) => Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`));
    expect(operations).toEqual(
      expect.arrayContaining([
        'POST /v1/objects',
        'GET /v1/objects/{hash}',
        'POST /v1/jobs',
        'GET /v1/jobs/{jobId}',
        'GET /v1/jobs/{jobId}/events',
        'POST /v1/jobs/{jobId}/cancel',
        'GET /v1/jobs/{jobId}/result',
        'GET /healthz',
      ]),
    );
    expect(doc.components.securitySchemes).toHaveProperty('bearer');
    const submit = doc.paths['/v1/jobs']!['post'] as { requestBody: { content: { 'application/json': { schema: { properties: Record<string, unknown> } } } } };
    expect(Object.keys(submit.requestBody.content['application/json'].schema.properties)).not.toContain('partnerId');
    const ui = await call('/docs', { key: null });
    expect(ui.status).toBe(200);
    expect(await ui.text()).toContain('swagger-ui');
    expect(await (await call('/healthz', { key: null })).json()).toEqual({ status: 'ok' });
  });

  it('answers 401 to a missing, malformed or wrong API key', async () => {
    for (const headers of [{} as Record<string, string>, { authorization: `Basic ${keyA}` }, { authorization: `Bearer ${keyA}x` }, { authorization: 'Bearer short' }]) {
      const res = await fetch(`${baseUrl}/v1/jobs/anything`, { headers });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect((await errorOf(res)).code).toBe('unauthorized');
    }
    const upload = await fetch(`${baseUrl}/v1/objects`, { method: 'POST', body: model, headers: { 'content-type': 'application/octet-stream' } });
    expect(upload.status).toBe(401);
    const wrong = new PartnerHttpClient({ baseUrl, apiKey: `not-${keyA}` });
    expect(await refusal(wrong.status('anything'))).toMatchObject({ status: 401, code: 'unauthorized', message: 'the API key is not valid' });
  });

  it('runs a 20-shard job: upload, submit, follow over SSE, download exactly the single-process output', async () => {
    await Promise.all(['g1', 'g2'].map((n) => net.startAgent(n)));
    const input = dataset(80, 64);
    modelHash = await a.uploadModel(model);
    inputHash = await a.uploadDataset(input);
    expect(modelHash).toBe(sha256(model));
    expect(inputHash).toBe(sha256(encodeTensor(input)));
    expect(await a.upload(model)).toEqual({ hash: modelHash, size: model.byteLength });

    const status = await a.submit(modelHash, inputHash, { shardSize: 4, capability: 'cpu.generic', deadline: deadline(), redundancy });
    completedJobId = status.jobId;
    expect(status).toMatchObject({ partnerId: 'partner-a', shardCount: 20 });

    const seen: WeaiEvent[] = [];
    const outcome = await a.follow(completedJobId, (e) => seen.push(e));
    if (outcome.status !== 'completed') throw new Error(`job ${outcome.status}: ${outcome.reason}`);
    expect(seen[0]!.type).toBe('JobSubmitted');
    expect(seen.at(-1)!.type).toBe('JobCompleted');
    expect(new Set(seen.filter((e) => e.type === 'ShardValidated').map((e) => (e.data as { shardIndex: number }).shardIndex)).size).toBe(20);
    expect(seen.every((e) => (e.data as { jobId: string }).jobId === completedJobId)).toBe(true);

    const expected = encodeTensor(runLocally(model, input, 4));
    const res = await call(`/v1/jobs/${completedJobId}/result`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/octet-stream');
    const bytes = Buffer.from(await res.arrayBuffer());
    expect(bytes.equals(Buffer.from(expected))).toBe(true);
    expect(res.headers.get('x-content-sha256')).toBe(outcome.outputHash);
    expect(res.headers.get('etag')).toBe(`"${outcome.outputHash}"`);
    expect((await call(`/v1/jobs/${completedJobId}/result`, { headers: { 'if-none-match': `"${outcome.outputHash}"` } })).status).toBe(304);

    const byJob = await a.downloadTensor({ jobId: completedJobId });
    const byHash = await a.downloadTensor(outcome.outputHash);
    expect(byJob.dims).toEqual([80, 16]);
    expect(Buffer.from(encodeTensor(byHash)).equals(Buffer.from(expected))).toBe(true);
    expect(await a.status(completedJobId)).toMatchObject({ status: 'completed', shardsValidated: 20, outputHash: outcome.outputHash });
  }, 180_000);

  it('replays a finished job over SSE and resumes after Last-Event-ID', async () => {
    const res = await call(`/v1/jobs/${completedJobId}/events`, { headers: { accept: 'text/event-stream' } });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const text = await res.text();
    const ids = [...text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
    const types = [...text.matchAll(/^event: (\w+)$/gm)].map((m) => m[1]);
    expect(types[0]).toBe('JobSubmitted');
    expect(types.at(-1)).toBe('JobCompleted');
    const resumed = await (await call(`/v1/jobs/${completedJobId}/events`, { headers: { 'last-event-id': String(ids.at(-2)) } })).text();
    expect([...resumed.matchAll(/^event: (\w+)$/gm)].map((m) => m[1])).toEqual(['JobCompleted']);
  });

  it('keeps one partner out of another partner\'s jobs: 404, as for a job that does not exist', async () => {
    const missing = await errorOf(await call('/v1/jobs/no-such-job', { key: keyB }));
    expect(missing.code).toBe('job.not-found');
    for (const [what, attempt] of [
      ['status', b.status(completedJobId)],
      ['cancel', b.cancel(completedJobId, 'not mine')],
      ['download', b.download({ jobId: completedJobId })],
      ['follow', b.follow(completedJobId)],
    ] as const) {
      const refused = await refusal(attempt);
      expect({ what, ...refused }).toEqual({ what, status: 404, code: 'job.not-found', message: missing.message.replace('no-such-job', completedJobId) });
    }
    expect(await a.status(completedJobId)).toMatchObject({ status: 'completed' });
  });

  it('answers 409 for the result of a running job, and lets only its partner cancel it', async () => {
    const jobId = `job-${randomUUID()}`;
    const submitted = await a.submit(modelHash, inputHash, { jobId, shardSize: 8, capability: NO_SUCH_NODES, deadline: deadline(), redundancy });
    expect(submitted).toMatchObject({ jobId, status: 'submitted', shardCount: 10 });
    expect(await refusal(a.submit(modelHash, inputHash, { jobId, shardSize: 4, capability: NO_SUCH_NODES, deadline: deadline(), redundancy }))).toMatchObject({ status: 409, code: 'job.id-taken' });
    const pending = await refusal(a.download(jobId));
    expect(pending).toMatchObject({ status: 409, code: 'job.not-completed' });
    expect(pending.message).toMatch(/is submitted \(0 of 10 shards validated\): the result is available once it completes/);

    const events: string[] = [];
    const followed: Promise<JobOutcome> = a.follow(jobId, (e) => events.push(e.type));
    expect(await refusal(b.cancel(jobId, 'not mine'))).toMatchObject({ status: 404 });
    expect(await a.status(jobId)).toMatchObject({ status: 'submitted' });
    expect(await a.cancel(jobId, 'changed my mind')).toMatchObject({ jobId, status: 'cancelled', reason: 'changed my mind' });
    expect(await followed).toEqual({ status: 'cancelled', jobId, reason: 'changed my mind' });
    expect([events[0], events.at(-1)]).toEqual(['JobSubmitted', 'JobCancelled']);
    expect(await refusal(a.download(jobId))).toMatchObject({ status: 409, code: 'job.cancelled' });
  });

  it('refuses bad input with a clear 4xx and creates no job', async () => {
    const jobId = `job-${randomUUID()}`;
    const valid = { jobId, modelHash, inputHash, shardSize: 4, capability: 'cpu.generic', deadline: deadline(), redundancy };
    const cases: Array<[string, Response, number, string, RegExp]> = [
      ['malformed JSON', await postJson('/v1/jobs', '{"jobId": '), 400, 'bad-request', /not valid JSON/],
      ['empty body', await postJson('/v1/jobs', ''), 400, 'bad-request', /body is empty/],
      ['not JSON', await call('/v1/jobs', { method: 'POST', body: 'jobId=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } }), 415, 'unsupported-media-type', /Content-Type: application\/json/],
      ['unknown field', await postJson('/v1/jobs', JSON.stringify({ ...valid, priority: 9 })), 400, 'bad-request', /body: Unrecognized key: "priority"/],
      ['partner id in the body', await postJson('/v1/jobs', JSON.stringify({ ...valid, partnerId: 'partner-b' })), 400, 'bad-request', /Unrecognized key: "partnerId"/],
      ['missing field', await postJson('/v1/jobs', JSON.stringify({ ...valid, shardSize: undefined })), 400, 'bad-request', /^body\.shardSize: required$/],
      ['wrong type', await postJson('/v1/jobs', JSON.stringify({ ...valid, redundancy: { ...redundancy, replicas: 'two' } })), 400, 'bad-request', /body\.redundancy\.replicas: .*expected number/],
      ['bad job id', await call('/v1/jobs/not.an.id'), 400, 'bad-request', /^jobId: must be 1-128 characters/],
      ['bad cancel', await postJson(`/v1/jobs/${completedJobId}/cancel`, JSON.stringify({ reason: '' })), 400, 'bad-request', /body\.reason/],
      ['unknown object', await postJson('/v1/jobs', JSON.stringify({ ...valid, modelHash: sha256(randomBytes(8)) })), 400, 'job.rejected', /model [0-9a-f]{64} is not in the object store: upload it first/],
      ['past deadline', await postJson('/v1/jobs', JSON.stringify({ ...valid, deadline: '2020-01-01T00:00:00.000Z' })), 400, 'job.rejected', /deadline .* has passed/],
      ['unknown route', await call('/v1/nothing'), 404, 'not-found', /Cannot GET \/v1\/nothing/],
    ];
    for (const [what, res, status, code, message] of cases) {
      const error = await errorOf(res);
      expect({ what, status: res.status, code: error.code }).toEqual({ what, status, code });
      expect(error.message).toMatch(message);
    }

    const badModel = await a.uploadModel(randomBytes(4096));
    const rejected = await refusal(a.submit(badModel, inputHash, { jobId, shardSize: 4, capability: 'cpu.generic', deadline: deadline(), redundancy }));
    expect(rejected).toMatchObject({ status: 400, code: 'job.rejected' });
    expect(rejected.message).toMatch(/^model does not load in ONNX Runtime: /);

    const oversized = await refusal(a.upload(randomBytes(MAX_UPLOAD + 1)));
    expect(oversized).toEqual({ status: 413, code: 'payload-too-large', message: `the upload is ${MAX_UPLOAD + 1} bytes; the limit is 256 KiB` });
    let chunks = 0;
    const chunked = await call('/v1/objects', {
      method: 'POST',
      // No Content-Length: the gateway has to count as the bytes arrive.
      body: new ReadableStream({
        pull(controller) {
          if (chunks++ < 8) controller.enqueue(randomBytes(64 * 1024));
          else controller.close();
        },
      }),
      headers: { 'content-type': 'application/octet-stream' },
      duplex: 'half',
    } as RequestInit);
    expect({ status: chunked.status, error: await errorOf(chunked) }).toEqual({ status: 413, error: { code: 'payload-too-large', message: `the upload is more than ${MAX_UPLOAD} bytes; the limit is 256 KiB` } });
    const notBytes = await call('/v1/objects', { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    expect({ status: notBytes.status, code: (await errorOf(notBytes)).code }).toEqual({ status: 415, code: 'unsupported-media-type' });
    expect(await refusal(a.upload(new Uint8Array(0)))).toMatchObject({ status: 400, code: 'bad-request' });

    // The scheduler answers from its own store: no job of that id exists.
    expect(await refusal(a.status(jobId))).toMatchObject({ status: 404, code: 'job.not-found' });
    expect(net.jobs.events.some((e) => (e.data as { jobId?: string }).jobId === jobId)).toBe(false);
  });

  it('never writes an API key to its output', () => {
    expect(gateway.output()).not.toContain(keyA);
    expect(gateway.output()).not.toContain(keyB);
  });

  it('stops reading the events, and removes its consumer, when the client goes away', async () => {
    const consumers = async () => {
      const names: string[] = [];
      // A consumer deleted while the list is read comes back as null.
      for await (const c of await net.bus.jsm.consumers.list('WEAI_JOBS')) if (c?.config?.filter_subject === 'weai.evt.jobs.partner-a.*') names.push(c.name);
      return names;
    };
    const until = async (what: string, predicate: (names: string[]) => boolean) => {
      const deadlineAt = Date.now() + 10_000;
      for (let names = await consumers(); !predicate(names); names = await consumers()) {
        if (Date.now() > deadlineAt) throw new Error(`timed out waiting until ${what}: ${names.join(', ')}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    const before = await consumers();
    const { jobId } = await a.submit(modelHash, inputHash, { shardSize: 8, capability: NO_SUCH_NODES, deadline: deadline(), redundancy });
    const client = new AbortController();
    const res = await call(`/v1/jobs/${jobId}/events`, { signal: client.signal });
    const reader = res.body!.getReader();
    let text = '';
    while (!text.includes('event: JobSubmitted')) text += Buffer.from((await reader.read()).value!).toString();
    await until('the stream has a consumer', (names) => names.some((n) => !before.includes(n)));
    client.abort();
    await until('its consumer is deleted', (names) => names.every((n) => before.includes(n)));
    await a.cancel(jobId, 'done with it');
  });

  it('shuts down on SIGTERM, ending the event streams still open', async () => {
    const { jobId } = await a.submit(modelHash, inputHash, { shardSize: 8, capability: NO_SUCH_NODES, deadline: deadline(), redundancy });
    const res = await call(`/v1/jobs/${jobId}/events`);
    const reader = res.body!.getReader();
    let text = '';
    while (!text.includes('event: JobPartitioned')) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`the stream ended early: ${text}`);
      text += Buffer.from(value).toString();
    }
    await gateway.kill('SIGTERM');
    expect(await gateway.exited).toBe(0);
    for (;;) {
      const { done } = await reader.read();
      if (done) break;
    }
  });
});
