import { createHmac, createPrivateKey, generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Subscription } from '@nats-io/transport-node';
import { Wallet } from 'ethers';
import fc from 'fast-check';
import { referenceMlp } from '@weai/node-agent/src/onnx/reference-model';
import { freePort } from '@weai/messaging/src/testing/nats-server';
import { encodeTensor } from '@weai/tensors';
import { TokenService } from '../services/gateway/src/auth/tokens';
import { type TestNetwork, startNetwork } from './support/control-plane';
import { ofType } from './support/events';
import { type ManagedProcess, startTs } from './support/processes';
import { dataset } from './support/reference';

/** One report from the gateway on `weai.report.security.gateway.<Type>`. */
interface Report {
  type: 'AccessDenied' | 'AuthenticationFailed';
  data: { principalId: string; action: string; reason: string; resource?: string; role?: string; source?: string; channel: string };
  metadata: { eventId: string };
}

const NO_SUCH_NODES = 'cuda.sm120.vram80';
const deadline = () => new Date(Date.now() + 3_600_000).toISOString();
const redundancy = { replicas: 1, spotCheckRate: 0.1, tolerance: 1e-5 };
const errorOf = async (res: Response) => ((await res.json()) as { error: { code: string; message: string } }).error;

/** Asks again, as the dashboard would, until `probe` finds what a projection has yet to apply (10 s at most). */
async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await probe();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`${what}: not there within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('HTTP security (e2e): roles, tokens, object checks, rate limits, audit, fuzz', () => {
  const keyA = `key-a-${randomBytes(16).toString('hex')}`;
  const keyB = `key-b-${randomBytes(16).toString('hex')}`;
  const keyFuzz = `key-f-${randomBytes(16).toString('hex')}`;
  const keyOp = `key-op-${randomBytes(16).toString('hex')}`;
  const owner = new Wallet(`0x${randomBytes(32).toString('hex')}`);
  const stranger = new Wallet(`0x${randomBytes(32).toString('hex')}`);
  const pem = generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  let dir: string;
  let net: TestNetwork;
  let gateway: ManagedProcess;
  let throttled: ManagedProcess;
  let baseUrl: string;
  let throttledUrl: string;
  let reportsSub: Subscription;
  const reports: Report[] = [];
  const waiters = new Set<() => void>();
  let nodeId: string;
  let tokens: { partner: string; owner: string; operator: string };
  let objectOfA: string;
  let jobOfA: string;

  const call = (path: string, init: RequestInit & { auth?: string | null; url?: string } = {}) => {
    const { auth = keyA, headers, url = baseUrl, ...rest } = init;
    return fetch(`${url}${path}`, { ...rest, headers: { ...(auth ? { authorization: `Bearer ${auth}` } : {}), ...(headers as Record<string, string>) } });
  };
  const postJson = (path: string, body: unknown, auth: string | null = keyA, url = baseUrl) =>
    call(path, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'content-type': 'application/json' }, auth, url });
  /** Resolves with the first report matching, as it arrives on the bus (no sleeping). */
  const reported = (what: string, match: (r: Report) => boolean, timeoutMs = 10_000) =>
    new Promise<Report>((resolve, reject) => {
      const check = () => {
        const r = reports.find(match);
        if (r) {
          done();
          resolve(r);
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no report of ${what} within ${timeoutMs} ms; saw ${JSON.stringify(reports.slice(-5))}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });
  const startGateway = async (name: string, env: Record<string, string>) => {
    const port = await freePort();
    const p = startTs(name, 'services/gateway/src/main.ts', [], {
      NATS_URL: net.nats.url,
      GATEWAY_PORT: String(port),
      GATEWAY_PARTNER_KEYS: `partner-a:${keyA},partner-b:${keyB},partner-fuzz:${keyFuzz}`,
      GATEWAY_OPERATOR_KEYS: `op-1:${keyOp}`,
      ...env,
    });
    await p.waitFor(/gateway ready on http:\/\/\S+/);
    return { process: p, url: `http://127.0.0.1:${port}` };
  };
  const tokenFor = async (key: string) => ((await (await postJson('/v1/auth/token', '', key)).json()) as { token: string }).token;
  const ownerToken = async (wallet: Wallet, signer: Wallet = wallet) => {
    const challenge = (await (await postJson('/v1/auth/owner/challenge', { address: wallet.address }, null)).json()) as { challenge: string; message: string };
    return { challenge, res: await postJson('/v1/auth/owner/token', { challenge: challenge.challenge, signature: await signer.signMessage(challenge.message) }, null) };
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'weai-http-sec-'));
    writeFileSync(join(dir, 'token.pem'), pem, { mode: 0o600 });
    net = await startNetwork();
    reportsSub = net.bus.nc.subscribe('weai.report.security.>', {
      callback: (_err, msg) => {
        reports.push(msg.json<Report>());
        waiters.forEach((w) => w());
      },
    });
    await Promise.all([net.startService('nodes'), net.startService('scheduler')]);
    ({ nodeId } = await net.startAgent('owned', { payout: owner.address, slots: 1 }));
    const main = await startGateway('gateway', { GATEWAY_TOKEN_KEY_FILE: join(dir, 'token.pem'), GATEWAY_RATE_LIMIT: '100000/100000', GATEWAY_AUTH_RATE_LIMIT: '100000/100000' });
    gateway = main.process;
    baseUrl = main.url;
    // Behind one trusted proxy: the client is the last X-Forwarded-For entry.
    const small = await startGateway('gateway-throttled', { GATEWAY_RATE_LIMIT: '3/0.1', GATEWAY_AUTH_RATE_LIMIT: '2/0.1', GATEWAY_TRUSTED_PROXY_HOPS: '1' });
    throttled = small.process;
    throttledUrl = small.url;

    const model = referenceMlp();
    const upload = (bytes: Uint8Array, key = keyA) => call('/v1/objects', { method: 'POST', body: bytes, headers: { 'content-type': 'application/octet-stream' }, auth: key });
    const modelHash = ((await (await upload(model)).json()) as { hash: string }).hash;
    const inputHash = ((await (await upload(encodeTensor(dataset(16, 64)))).json()) as { hash: string }).hash;
    objectOfA = modelHash;
    jobOfA = `job-${randomUUID()}`;
    const submitted = await postJson('/v1/jobs', { jobId: jobOfA, modelHash, inputHash, shardSize: 8, capability: NO_SUCH_NODES, deadline: deadline(), redundancy });
    expect(submitted.status).toBe(201);
    const signedIn = await ownerToken(owner);
    expect(signedIn.res.status).toBe(200);
    tokens = { partner: await tokenFor(keyA), owner: ((await signedIn.res.json()) as { token: string }).token, operator: await tokenFor(keyOp) };
  }, 180_000);
  afterEach(() => {
    if (process.env['WEAI_E2E_LOGS']) for (const p of [gateway, throttled]) process.stderr.write(`--- ${p?.name}\n${p?.output().slice(-3000)}\n`);
  });
  afterAll(async () => {
    reportsSub?.unsubscribe();
    await gateway?.kill();
    await throttled?.kill();
    await net?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('documents every route of every role in the OpenAPI document', async () => {
    const doc = (await (await call('/openapi.json', { auth: null })).json()) as { paths: Record<string, Record<string, unknown>> };
    const operations = Object.entries(doc.paths).flatMap(([path, methods]) => Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`));
    expect(operations).toEqual(
      expect.arrayContaining([
        'POST /v1/auth/token',
        'POST /v1/auth/owner/challenge',
        'POST /v1/auth/owner/token',
        'GET /.well-known/jwks.json',
        'GET /v1/owner/earnings',
        'POST /v1/owner/withdrawals',
        'GET /v1/owner/nodes',
        'POST /v1/owner/nodes',
        'POST /v1/owner/nodes/{nodeId}/revoke',
        'GET /v1/operator/nodes',
        'POST /v1/operator/nodes/{nodeId}/quarantine',
        'POST /v1/operator/nodes/{nodeId}/release',
        'GET /v1/operator/ledger/check',
        'GET /v1/jobs',
        'GET /v1/operator/throughput',
      ]),
    );
  });

  it('signs an owner in with a real wallet: the token is for the owner id the nodes service knows, and the challenge works once', async () => {
    const registered = ofType(net.nodes.events, 'NodeRegistered').find((e) => e.data.nodeId === nodeId)!;
    const claims = JSON.parse(Buffer.from(tokens.owner.split('.')[1]!, 'base64url').toString()) as { sub: string; role: string; aud: string; exp: number; iat: number };
    expect(claims).toMatchObject({ sub: registered.data.ownerId, role: 'owner', aud: 'weai-gateway' });
    expect(claims.exp - claims.iat).toBe(900);
    expect(JSON.stringify(claims)).not.toContain(owner.address.slice(2).toLowerCase());

    const nodes = (await (await call('/v1/owner/nodes', { auth: tokens.owner })).json()) as Array<{ nodeId: string; ownerId: string }>;
    expect(nodes.map((n) => n.nodeId)).toEqual([nodeId]);

    const { challenge, res } = await ownerToken(stranger);
    expect(res.status).toBe(200);
    expect(challenge.message).toContain(`Address: ${stranger.address}`);
    // The stranger has no node: an empty list, never someone else's.
    expect(await (await call('/v1/owner/nodes', { auth: ((await res.json()) as { token: string }).token })).json()).toEqual([]);
    const replay = await postJson('/v1/auth/owner/token', { challenge: challenge.challenge, signature: await stranger.signMessage(challenge.message) }, null);
    expect({ status: replay.status, error: await errorOf(replay) }).toEqual({ status: 401, error: { code: 'unauthorized', message: 'challenge: already used; ask for a new one' } });

    const impostor = await ownerToken(owner, stranger);
    expect({ status: impostor.res.status, error: await errorOf(impostor.res) }).toEqual({ status: 401, error: { code: 'unauthorized', message: 'signature: not made by the key of the challenged address' } });
    await reported('the impostor', (r) => r.type === 'AuthenticationFailed' && r.data.action === 'POST /v1/auth/owner/token' && r.data.reason.includes('not made by the key'));
  });

  it('refuses each role every other role\'s routes with a 403, and reports each refusal', async () => {
    const partnerRoutes: Array<[string, string, unknown?]> = [
      ['GET', '/v1/jobs'],
      ['GET', `/v1/jobs/${jobOfA}`],
      ['POST', '/v1/jobs', {}],
      ['GET', `/v1/objects/${objectOfA}`],
      ['GET', `/v1/jobs/${jobOfA}/events`],
      ['GET', `/v1/jobs/${jobOfA}/result`],
      ['POST', `/v1/jobs/${jobOfA}/cancel`, { reason: 'x' }],
    ];
    const ownerRoutes: Array<[string, string, unknown?]> = [
      ['GET', '/v1/owner/earnings'],
      ['POST', '/v1/owner/withdrawals', { amount: '1' }],
      ['GET', '/v1/owner/nodes'],
      ['POST', '/v1/owner/nodes', { publicKey: `U${'A'.repeat(55)}`, capabilityClasses: ['cpu.generic'] }],
      ['POST', `/v1/owner/nodes/${nodeId}/revoke`, { reason: 'x' }],
    ];
    const operatorRoutes: Array<[string, string, unknown?]> = [
      ['GET', '/v1/operator/nodes'],
      ['POST', `/v1/operator/nodes/${nodeId}/quarantine`, { reason: 'x' }],
      ['POST', `/v1/operator/nodes/${nodeId}/release`, { reason: 'x' }],
      ['GET', '/v1/operator/ledger/check'],
      ['GET', '/v1/operator/throughput'],
    ];
    const callers: Array<[string, string, string, Array<[string, string, unknown?]>]> = [
      ['partner key', keyA, 'partner', [...ownerRoutes, ...operatorRoutes]],
      ['partner token', tokens.partner, 'partner', [...ownerRoutes, ...operatorRoutes]],
      ['owner token', tokens.owner, 'owner', [...partnerRoutes, ...operatorRoutes, ['POST', '/v1/auth/token']]],
      ['operator key', keyOp, 'operator', [...partnerRoutes, ...ownerRoutes]],
      ['operator token', tokens.operator, 'operator', [...partnerRoutes, ...ownerRoutes]],
    ];
    for (const [who, credential, role, routes] of callers) {
      for (const [method, path, body] of routes) {
        const res = await call(path, { method, auth: credential, ...(body ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}) });
        const error = await errorOf(res);
        expect({ who, method, path, status: res.status, code: error.code }).toEqual({ who, method, path, status: 403, code: 'forbidden' });
        expect(error.message).toMatch(new RegExp(`you are signed in as an? ${role}$`));
      }
      const r = await reported(`${who}'s refusals`, (x) => x.type === 'AccessDenied' && x.data.role === role && x.data.reason.endsWith(`signed in as ${role === 'partner' ? 'a' : 'an'} ${role}`));
      expect(r.data).toMatchObject({ channel: 'http' });
      expect(r.data.source).toMatch(/^src-[0-9a-f]{32}$/);
    }
    // The node was neither quarantined nor released by any of it.
    expect(ofType(net.nodes.events, 'NodeQuarantined')).toEqual([]);
    // A token cannot buy a fresh token.
    const renew = await postJson('/v1/auth/token', '', tokens.partner);
    expect(renew.status).toBe(403);
  });

  it("keeps partners out of each other's objects and jobs, and reports it", async () => {
    const download = await call(`/v1/objects/${objectOfA}`, { auth: keyB });
    expect({ status: download.status, error: await errorOf(download) }).toEqual({ status: 404, error: { code: 'object.not-found', message: `no object ${objectOfA}` } });
    await reported("B's download", (r) => r.type === 'AccessDenied' && r.data.principalId === 'partner-b' && r.data.resource === `object:${objectOfA}`);
    expect((await call(`/v1/objects/${objectOfA}`)).status).toBe(200);

    const borrowed = await postJson('/v1/jobs', { modelHash: objectOfA, inputHash: objectOfA, shardSize: 8, capability: NO_SUCH_NODES, deadline: deadline(), redundancy }, keyB);
    expect({ status: borrowed.status, code: (await errorOf(borrowed)).code }).toEqual({ status: 400, code: 'job.rejected' });
    await reported("B's job on A's model", (r) => r.type === 'AccessDenied' && r.data.principalId === 'partner-b' && r.data.action === 'POST /v1/jobs');

    const cancel = await postJson(`/v1/jobs/${jobOfA}/cancel`, { reason: 'not mine' }, keyB);
    expect(cancel.status).toBe(404);
    await reported("B's cancel", (r) => r.type === 'AccessDenied' && r.data.principalId === 'partner-b' && r.data.resource === `job:${jobOfA}`);
    expect(await (await call(`/v1/jobs/${jobOfA}`)).json()).toMatchObject({ status: 'submitted', cost: { total: '0' } });
    expect(ofType(net.jobs.events, 'JobSubmitted').filter((e) => e.data.partnerId === 'partner-b')).toEqual([]);

    // The job list: A's job is in A's list once the gateway's projection has it, and never in B's.
    type JobList = { jobs: Array<{ jobId: string; status: string; cost: { total: string } }>; nextOffset: number | null };
    const listOf = async (key: string, query = '') => (await (await call(`/v1/jobs${query}`, { auth: key })).json()) as JobList;
    const mine = await until('A\'s job in A\'s list', async () => (await listOf(keyA)).jobs.find((j) => j.jobId === jobOfA));
    expect(mine).toMatchObject({ jobId: jobOfA, status: 'submitted', shardsValidated: 0, cost: { total: '0', ownerRewards: '0', platformFee: '0' } });
    expect((await listOf(keyB)).jobs.map((j) => j.jobId)).not.toContain(jobOfA);
    expect((await listOf(tokens.partner, '?limit=100&offset=0')).jobs.map((j) => j.jobId)).toContain(jobOfA);
    for (const query of ['limit=0', 'limit=101', 'limit=abc', 'limit=1.5', 'offset=-1', 'offset=x', 'partnerId=partner-b', 'limit=1&limit=2']) {
      const res = await call(`/v1/jobs?${query}`, { auth: keyB });
      expect({ query, status: res.status, code: (await errorOf(res)).code }).toEqual({ query, status: 400, code: 'bad-request' });
    }
  });

  it('refuses missing, forged, expired, alg-none and HS256-confused tokens with a 401, and reports each', async () => {
    const [h, p] = tokens.partner.split('.') as [string, string];
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
    const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const header = JSON.parse(Buffer.from(h, 'base64url').toString()) as Record<string, unknown>;
    const jwk = ((await (await call('/.well-known/jwks.json', { auth: null })).json()) as { keys: Array<{ x: string }> }).keys[0]!;
    const hsInput = `${b64({ ...header, alg: 'HS256' })}.${b64({ ...claims, role: 'operator' })}`;
    const signer = new TokenService(createPrivateKey(pem), { issuer: 'weai-gateway', audience: 'weai-gateway', ttlSeconds: 900, clockSkewSeconds: 30 });
    const cases: Array<[string, string | null, RegExp]> = [
      ['missing', null, /missing Authorization header/],
      ['forged role', `${h}.${b64({ ...claims, role: 'operator' })}.${tokens.partner.split('.')[2]}`, /signature is not valid/],
      ['expired', signer.issue({ role: 'partner', id: 'partner-a' }, new Date(Date.now() - 3_600_000)).token, /^the token expired at /],
      ['alg none', `${b64({ ...header, alg: 'none' })}.${p}.`, /three base64url parts/],
      ['alg none, signed', `${b64({ ...header, alg: 'none' })}.${p}.${tokens.partner.split('.')[2]}`, /algorithm "none" is not accepted/],
      ['HS256 keyed with the public key', `${hsInput}.${createHmac('sha256', Buffer.from(jwk.x, 'base64url')).update(hsInput).digest('base64url')}`, /algorithm "HS256" is not accepted/],
      ['another audience', signerFor('another-gateway').issue({ role: 'partner', id: 'partner-a' }, new Date()).token, /not meant for this gateway/],
    ];
    function signerFor(audience: string) {
      return new TokenService(createPrivateKey(pem), { issuer: 'weai-gateway', audience, ttlSeconds: 900, clockSkewSeconds: 30 });
    }
    for (const [what, credential, message] of cases) {
      const res = await call(`/v1/jobs/${jobOfA}`, { auth: credential });
      const error = await errorOf(res);
      expect({ what, status: res.status, code: error.code }).toEqual({ what, status: 401, code: 'unauthorized' });
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(error.message).toMatch(message);
      await reported(what, (r) => r.type === 'AuthenticationFailed' && message.test(r.data.reason) && r.data.action === 'GET /v1/jobs/:jobId');
    }
    // The gateway that generated its own key refuses the other's tokens.
    expect((await call(`/v1/jobs/${jobOfA}`, { auth: tokens.partner, url: throttledUrl })).status).toBe(401);
    const forgedReport = reports.find((r) => r.type === 'AuthenticationFailed' && r.data.reason === 'the token signature is not valid')!;
    expect(forgedReport.data.principalId).toBe('partner-a');
  });

  it('serves the operator: nodes, quarantine and release recorded under its id, a clear 4xx for bad input', async () => {
    const nodes = (await (await call('/v1/operator/nodes', { auth: tokens.operator })).json()) as Array<{ nodeId: string }>;
    expect(nodes.map((n) => n.nodeId)).toContain(nodeId);
    const q = await postJson(`/v1/operator/nodes/${nodeId}/quarantine`, { reason: 'e2e check' }, tokens.operator);
    expect(await q.json()).toMatchObject({ nodeId, events: expect.arrayContaining(['NodeQuarantined']) });
    await net.nodes.until('quarantined by op-1', (events) => ofType(events, 'NodeQuarantined').some((e) => e.data.nodeId === nodeId && e.data.by === 'op-1'));
    expect((await postJson(`/v1/operator/nodes/${nodeId}/quarantine`, { reason: 'again' }, keyOp)).status).toBe(409);
    expect((await postJson(`/v1/operator/nodes/${nodeId}/release`, { reason: 'checked' }, keyOp)).status).toBe(200);
    expect((await postJson('/v1/operator/nodes/no-such-node/release', { reason: 'x' }, keyOp)).status).toBe(404);
    const bad = await postJson(`/v1/operator/nodes/${nodeId}/quarantine`, { reason: '' }, keyOp);
    expect({ status: bad.status, message: (await errorOf(bad)).message }).toEqual({ status: 400, message: expect.stringMatching(/^body\.reason: /) });
    // No rewards service runs here: the owner and operator are told which service does not answer.
    const check = await call('/v1/operator/ledger/check', { auth: keyOp });
    expect({ status: check.status, retry: check.headers.get('retry-after'), message: (await errorOf(check)).message }).toEqual({ status: 503, retry: '5', message: expect.stringMatching(/^the rewards service is not answering/) });
    const earnings = await call('/v1/owner/earnings?limit=5', { auth: tokens.owner });
    expect(earnings.status).toBe(503);
    const badQuery = await call('/v1/owner/earnings?limit=0&x=1', { auth: tokens.owner });
    expect({ status: badQuery.status, message: (await errorOf(badQuery)).message }).toEqual({ status: 400, message: expect.stringMatching(/query.*limit|query: Unrecognized key/) });
  });

  it('limits each identity and each failing source, answering 429 with Retry-After, and reports it', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await call(`/v1/jobs/${jobOfA}`, { url: throttledUrl })).status);
    expect(statuses.slice(0, 3)).toEqual([200, 200, 200]);
    expect(statuses.slice(3)).toEqual([429, 429]);
    const limited = await call(`/v1/jobs/${jobOfA}`, { url: throttledUrl });
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await errorOf(limited)).toEqual({ code: 'rate-limited', message: expect.stringMatching(/^too many requests: try again in \d+ s$/) });
    // Another identity is not slowed by partner-a.
    expect((await call(`/v1/jobs/${jobOfA}`, { url: throttledUrl, auth: keyB })).status).toBe(404);
    await reported('the 429', (r) => r.type === 'AccessDenied' && r.data.principalId === 'partner-a' && r.data.reason.startsWith('too many requests'));

    // Guessing keys from one source: two wrong keys, then 429 even before the key is looked at;
    // another source (as the trusted proxy names it) is not affected.
    const guess = (from: string) => call('/v1/jobs/x', { url: throttledUrl, auth: `guess-${randomBytes(12).toString('hex')}`, headers: { 'x-forwarded-for': `192.0.2.200, ${from}` } });
    const guesses: number[] = [];
    for (let i = 0; i < 3; i++) guesses.push((await guess('198.51.100.1')).status);
    expect(guesses).toEqual([401, 401, 429]);
    expect((await guess('198.51.100.2')).status).toBe(401);
    const throttledGuess = await reported('the throttled guesser', (r) => r.type === 'AccessDenied' && r.data.principalId === 'anonymous' && r.data.reason.startsWith('too many requests'));
    const sources = reports.filter((r) => r.data.action === 'GET /v1/jobs/:jobId' && r.data.source !== undefined).map((r) => r.data.source);
    expect(new Set(sources).size).toBeGreaterThanOrEqual(2);
    expect(JSON.stringify(throttledGuess)).not.toContain('198.51.100');
  });

  it('survives fuzzed paths, queries, headers and bodies on every public route: never a 5xx, always a clear 4xx, no job recorded', async () => {
    const before = net.jobs.events.length;
    const nodeEventsBefore = net.nodes.events.filter((e) => e.type === 'NodeQuarantined' || e.type === 'NodeReleased').length;
    const seen = new Set<number>();
    const credentials = [keyFuzz, tokens.owner, keyOp, null, 'Bearer', `${'x'.repeat(5000)}`, 'a.b.c'];
    const routes: Array<[string, string]> = [
      ['POST', '/v1/jobs'],
      ['GET', '/v1/jobs'],
      ['GET', '/v1/jobs/:id'],
      ['POST', '/v1/jobs/:id/cancel'],
      ['GET', '/v1/jobs/:id/result'],
      ['GET', '/v1/jobs/:id/events'],
      ['POST', '/v1/objects'],
      ['GET', '/v1/objects/:id'],
      ['POST', '/v1/auth/token'],
      ['POST', '/v1/auth/owner/challenge'],
      ['POST', '/v1/auth/owner/token'],
      ['GET', '/v1/owner/earnings'],
      ['POST', '/v1/owner/withdrawals'],
      ['GET', '/v1/owner/nodes'],
      ['POST', '/v1/operator/nodes/:id/quarantine'],
      ['POST', '/v1/operator/nodes/:id/release'],
    ];
    const text = fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom('..', '%00', '%2e%2e%2f', '../../etc/passwd', 'a'.repeat(300), '💥', '{}', '%ZZ'));
    const body = fc.oneof(
      fc.json().map((j) => j),
      fc.string({ maxLength: 200 }),
      fc.constantFrom('{', '[]', 'null', '{"__proto__":{"admin":true}}', '{"amount":"-1"}', '{"address":"0x00"}', JSON.stringify({ modelHash: 'a'.repeat(64), inputHash: 'b'.repeat(64), shardSize: 1, capability: 'cpu.generic', deadline: deadline(), redundancy })),
      fc.constant('x'.repeat(70 * 1024)),
    );
    const headerValue = fc.oneof(fc.stringMatching(/^[\x21-\x7e]{0,300}$/), fc.constantFrom('0', '-1', '99999999999999999999', 'a.b.c', 'Bearer', `"${'f'.repeat(64)}"`));
    const fuzzedCredential = fc.oneof(fc.constantFrom(...credentials), headerValue.map((v) => `Bearer ${v}`), headerValue);
    const contentType = fc.constantFrom('application/json', 'application/octet-stream', 'text/plain', 'application/json; charset=utf-8', '', 'multipart/form-data; boundary=x');
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...routes), fuzzedCredential, text, text, body, contentType, headerValue, async ([method, route], credential, id, query, payload, type, extra) => {
        const path = route.replace(':id', encodeURIComponent(id)) + (query ? `?${encodeURIComponent(query)}=${encodeURIComponent(id)}&limit=${encodeURIComponent(query)}` : '');
        const headers: Record<string, string> = {};
        if (type) headers['content-type'] = type;
        if (credential) headers['authorization'] = credential.startsWith('Bearer') || credential.length < 24 ? credential : `Bearer ${credential}`;
        headers['last-event-id'] = extra;
        headers['if-none-match'] = extra;
        headers['x-forwarded-for'] = extra;
        const controller = new AbortController();
        const res = await fetch(`${baseUrl}${path}`, { method, headers, signal: controller.signal, ...(method === 'POST' ? { body: payload } : {}) });
        const status = res.status;
        seen.add(status);
        if (status >= 400 && status !== 429) {
          const error = JSON.parse(await res.clone().text()) as { error?: { code?: unknown; message?: unknown } };
          expect(typeof error.error?.code === 'string' && typeof error.error?.message === 'string' && error.error.message.length > 0).toBe(true);
        }
        if (status === 200 && (res.headers.get('content-type') ?? '').startsWith('text/event-stream')) controller.abort();
        else await res.arrayBuffer();
        expect({ method, path: path.slice(0, 120), status }).toEqual({ method, path: path.slice(0, 120), status: expect.any(Number) });
        if (status >= 500 && status !== 503) throw new Error(`${method} ${path} answered ${status}`);
      }),
      { numRuns: 400 },
    );
    expect([...seen].sort()).toEqual(expect.arrayContaining([400, 401, 403, 404, 413]));
    expect(gateway.child.exitCode).toBeNull();
    expect((await call('/healthz', { auth: null })).status).toBe(200);
    expect(net.jobs.events.slice(before).filter((e) => (e.data as { partnerId?: string }).partnerId === 'partner-fuzz')).toEqual([]);
    expect(net.nodes.events.filter((e) => e.type === 'NodeQuarantined' || e.type === 'NodeReleased').length).toBe(nodeEventsBefore);
  }, 180_000);

  it('never writes a key, token or address to its output or to a report', () => {
    const secrets = [keyA, keyB, keyOp, keyFuzz, tokens.partner, tokens.owner, tokens.operator, owner.address, owner.address.toLowerCase()];
    const everything = `${gateway.output()}${throttled.output()}${JSON.stringify(reports)}`;
    for (const s of secrets) expect(everything.includes(s) ? s : 'absent').toBe('absent');
    // The callers' address appears in no report: only its pseudonym does.
    expect(JSON.stringify(reports)).not.toContain('127.0.0.1');
    expect(JSON.stringify(reports)).not.toContain('198.51.100');
    expect(reports.length).toBeGreaterThan(10);
  });
});
