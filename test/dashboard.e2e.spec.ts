import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Wallet, getBytes } from 'ethers';
import { type Browser, type BrowserContext, type Page, chromium } from 'playwright-core';
import { streamOfFamily } from '@weai/contracts';
import { referenceMlp } from '@weai/node-agent/src/onnx/reference-model';
import { encodeTensor } from '@weai/tensors';
import { type PayoutChain, startPayoutChain } from './support/payout-chain';
import { type TestNetwork, LEASE_MS, startNetwork } from './support/control-plane';
import { type EventLog, ofType, watchStream } from './support/events';
import { type ManagedProcess, ROOT, startTs } from './support/processes';
import { dataset } from './support/reference';

// What the functions run in the page use of the DOM (the test is compiled without the DOM library).
interface PageElement {
  readonly textContent: string | null;
  readonly value: string;
  getAttribute(name: string): string | null;
}
declare const document: { querySelector(selector: string): PageElement | null; querySelectorAll(selector: string): { length: number } };
declare const window: unknown;
declare const sessionStorage: { getItem(key: string): string | null };

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];
const SCREENSHOTS = join(ROOT, 'test-output', 'screenshots');
const FAKE_SMI = join(ROOT, 'node-agent', 'test', 'fixtures', 'nvidia-smi');

/**
 * The web dashboard in real Chromium against a real network: nats-server, the nodes, scheduler and
 * rewards services (on a local EVM chain), two agents — the owner's reports GPU telemetry through
 * a replayed nvidia-smi — and the gateway serving the pages. Each step awaits what the page shows.
 */
describe('web dashboard in Chromium (e2e): owners, partners and operators', () => {
  const partnerKey = `key-p-${randomBytes(16).toString('hex')}`;
  const otherPartnerKey = `key-p2-${randomBytes(16).toString('hex')}`;
  const operatorKey = `key-op-${randomBytes(16).toString('hex')}`;
  const owner = new Wallet(`0x${randomBytes(32).toString('hex')}`);
  let chain: PayoutChain;
  let dir: string;
  let net: TestNetwork;
  let rewards: EventLog;
  let ownerAgent: ManagedProcess;
  let ownerNodeId: string;
  let gateway: ManagedProcess;
  let baseUrl: string;
  let browser: Browser;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    chain = await startPayoutChain('dashboard');
    dir = chain.dir;
    // An nvidia-smi that replays a recorded RTX 3080 at the desktop: the owner's node reports GPU telemetry.
    const smi = join(dir, 'nvidia-smi');
    writeFileSync(smi, `#!/bin/sh\nFAKE_NVIDIA_SMI_DIR='${join(FAKE_SMI, 'rtx3080-windows-idle')}' exec sh '${join(FAKE_SMI, 'fake-nvidia-smi.sh')}' "$@"\n`);
    chmodSync(smi, 0o755);
    net = await startNetwork(chain.env);
    rewards = await watchStream(net.bus, streamOfFamily('rewards'));
    await Promise.all([net.startService('nodes'), net.startService('scheduler'), net.startService('rewards')]);
    ownerAgent = startTs('owner-agent', 'node-agent/src/cli.ts', ['start', '--nats', net.nats.url, '--dir', join(dir, 'owner-agent'), '--payout', owner.address, '--heartbeat-ms', '300', '--slots', '2', '--lease-ms', String(LEASE_MS), '--nvidia-smi', smi, '--status-port', '0', '--verbose'], {});
    ownerNodeId = (await ownerAgent.waitFor(/registered as node (\S+)/)).split(' ').pop()!;
    // A node with no record yet is checked by a node of another owner: a second owner takes part.
    await Promise.all([ownerAgent.waitFor(/taking work on/), net.startAgent('other', { payout: `0x${randomBytes(20).toString('hex')}` })]);
    ({ process: gateway, baseUrl } = await net.startGateway({ GATEWAY_PARTNER_KEYS: `partner-d:${partnerKey},partner-e:${otherPartnerKey}`, GATEWAY_OPERATOR_KEYS: `op-1:${operatorKey}` }));
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  }, 240_000);
  afterEach(() => {
    if (process.env['WEAI_E2E_LOGS']) for (const p of [...net.services.values(), gateway, ownerAgent]) process.stderr.write(`--- ${p.name}\n${p.output().slice(-3000)}\n`);
  });
  afterAll(async () => {
    await browser?.close();
    await gateway?.kill();
    await ownerAgent?.kill('SIGKILL');
    await rewards?.close();
    await net?.stop();
    await chain?.stop();
  });

  /** A fresh browser profile whose page errors (a CSP violation, an exception) fail the test. */
  async function openContext(): Promise<BrowserContext> {
    const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 900 } });
    context.on('page', (page) => watch(page));
    return context;
  }
  function watch(page: Page): void {
    page.on('pageerror', (e) => pageErrors.push(`${page.url()}: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error' && !/status of 40[13]/.test(m.text())) pageErrors.push(`${page.url()}: ${m.text()}`);
    });
  }
  const textOf = (page: Page, selector: string) => page.locator(selector).first().textContent();
  const shot = (page: Page, name: string) => page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });

  /** Signs in with a key through the sign-in page; lands on the role's page. */
  async function signInWithKey(context: BrowserContext, role: 'partner' | 'operator', key: string): Promise<Page> {
    const page = await context.newPage();
    await page.goto(`${baseUrl}/app/`);
    await page.click(`[data-role=${role}]`);
    await page.fill(`#${role}-key`, key);
    await Promise.all([page.waitForURL(`**/app/${role}.html`), page.click(`#${role}-form button[type=submit]`)]);
    await page.waitForSelector('body[data-ready=true]');
    return page;
  }

  /** Signs the owner in with a browser wallet: `window.ethereum` backed by the test's ethers Wallet. */
  async function signInOwner(context: BrowserContext): Promise<Page> {
    await context.exposeBinding('weaiTestSign', (_source, hex: string) => owner.signMessage(getBytes(hex)));
    await context.addInitScript((address: string) => {
      const w = window as unknown as { ethereum: unknown; weaiTestSign: (hex: string) => Promise<string> };
      w.ethereum = {
        request: async ({ method, params }: { method: string; params?: string[] }) => {
          if (method === 'eth_requestAccounts') return [address];
          if (method === 'personal_sign') return w.weaiTestSign(params![0]!);
          throw new Error(`unsupported ${method}`);
        },
      };
    }, owner.address);
    const page = await context.newPage();
    await page.goto(`${baseUrl}/app/`);
    await shot(page, 'sign-in');
    await Promise.all([page.waitForURL('**/app/owner.html'), page.click('#owner-wallet')]);
    await page.waitForSelector('body[data-ready=true]');
    return page;
  }

  let jobId: string;

  it("an owner signs in with the payout wallet and sees the GPU charts; a partner submits a job from its page and downloads the result; the owner's balance grows live, and it withdraws", async () => {
    const ownerContext = await openContext();
    const ownerPage = await signInOwner(ownerContext);
    expect(await textOf(ownerPage, '#who')).toMatch(/^owner o[0-9a-f]{24}$/);
    // The charts fill from the node's heartbeats, live.
    await ownerPage.waitForFunction(() => Number(document.querySelector('[data-testid=gpu-chart-utilizationPct]')?.getAttribute('data-points')) >= 3, null, { timeout: 30_000 });
    expect(await ownerPage.locator(`[data-testid=gpu-chart-temperatureC][data-node="${ownerNodeId}"]`).count()).toBe(1);
    expect(await textOf(ownerPage, `tr[data-node="${ownerNodeId}"] [data-testid=policy]`)).toMatch(/idle, taking work|working/);
    expect(await textOf(ownerPage, '#available')).toBe('0 WEBI');

    // The partner submits a job from its page and downloads the output.
    const partnerContext = await openContext();
    const partnerPage = await signInWithKey(partnerContext, 'partner', partnerKey);
    jobId = `dash-${randomBytes(4).toString('hex')}`;
    await partnerPage.setInputFiles('#model-file', { name: 'model.onnx', mimeType: 'application/octet-stream', buffer: Buffer.from(referenceMlp()) });
    await partnerPage.setInputFiles('#input-file', { name: 'input.weat', mimeType: 'application/octet-stream', buffer: Buffer.from(encodeTensor(dataset(16, 64))) });
    await partnerPage.fill('#job-id', jobId);
    await partnerPage.fill('#shard-size', '8');
    await partnerPage.click('#submit-form button[type=submit]');
    await partnerPage.waitForFunction(() => document.querySelector('#job-status')?.textContent === 'completed', null, { timeout: 180_000 }).catch(async (error: Error) => {
      // Say where the job stood, on the page and in the scheduler's events, not just that time ran out.
      const seen = net.jobs.events.filter((e) => (e.data as { jobId?: string }).jobId === jobId).map((e) => e.type);
      throw new Error(`${error.message}\npage: ${(await partnerPage.locator('#job').innerText()).slice(0, 2000)}\nevents: ${seen.join(', ')}\n${await net.describe()}`);
    });
    await partnerPage.waitForFunction(() => document.querySelectorAll('#shards tr .state-validated').length === 2, null, { timeout: 10_000 });
    expect(await textOf(partnerPage, '#job-progress')).toBe('2 / 2');
    expect(await partnerPage.locator('#shards tr').count()).toBe(2);
    await shot(partnerPage, 'partner');
    const completed = await net.jobs.until('JobCompleted', (events) => ofType(events, 'JobCompleted').find((e) => e.data.jobId === jobId));
    const [download] = await Promise.all([partnerPage.waitForEvent('download'), partnerPage.click('[data-testid=download]')]);
    expect(download.suggestedFilename()).toBe(`${jobId}.weat`);
    const bytes = readFileSync((await download.path())!);
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(completed.data.outputHash);
    expect(await partnerPage.locator('text=partner-d').count()).toBeGreaterThan(0);

    // The job list (GET /v1/jobs, the gateway's projection) shows the job with its cost once the
    // rewards ledger has paid every accepted replica: owners' rewards + platform fee, in base units.
    const accepted = ofType(net.jobs.events, 'ShardValidated')
      .filter((e) => e.data.jobId === jobId)
      .flatMap((e) => e.data.accepted.filter((a) => a.computeMs > 0).map((a) => `${e.data.shardId} ${a.nodeId}`));
    const jobAccruals = await rewards.until('every accrual of the job', (events) => {
      const mine = ofType(events, 'RewardAccrued').filter((e) => e.data.jobId === jobId);
      const paid = new Set(mine.map((e) => `${e.data.shardId} ${e.data.nodeId}`));
      return accepted.every((k) => paid.has(k)) && mine;
    });
    const cost = String(jobAccruals.reduce((sum, e) => sum + BigInt(e.data.amount) + BigInt(e.data.platformFee), 0n));
    expect(cost).toMatch(/^[1-9][0-9]*$/);
    const row = `#jobs tr[data-job="${jobId}"]`;
    await partnerPage.waitForFunction(
      ([selector, base]) => document.querySelector(`${selector} [data-testid=job-cost]`)?.getAttribute('data-base') === base && document.querySelector(`${selector} [data-testid=job-state]`)?.textContent === 'completed',
      [row, cost],
      { timeout: 30_000 },
    );
    expect(await textOf(partnerPage, `${row} [data-testid=job-shards]`)).toBe('2/2');
    await partnerPage.waitForFunction((base) => (document.querySelector('#job-cost-base')?.textContent ?? '').startsWith(`${base} base units`), cost, { timeout: 30_000 });
    await shot(partnerPage, 'partner-jobs');
    // The same over HTTP, from the test (a 404 in the page would be a console error).
    const asBearer = (path: string, token: string) => fetch(`${baseUrl}${path}`, { headers: { authorization: `Bearer ${token}` } });
    const listAs = async (token: string) => (await (await asBearer('/v1/jobs?limit=100', token)).json()) as { jobs: Array<{ jobId: string; status: string; cost: { total: string } }> };
    const ownToken = await partnerPage.evaluate(() => (JSON.parse(sessionStorage.getItem('weai.session')!) as { token: string }).token);
    expect((await listAs(ownToken)).jobs.find((j) => j.jobId === jobId)).toMatchObject({ status: 'completed', shardCount: 2, shardsValidated: 2, cost: { total: cost } });
    expect(await (await asBearer(`/v1/jobs/${jobId}`, ownToken)).json()).toMatchObject({ status: 'completed', cost: { total: cost } });
    // Another partner never sees it, in its list or by id.
    expect((await listAs(otherPartnerKey)).jobs.map((j) => j.jobId)).not.toContain(jobId);
    expect((await asBearer(`/v1/jobs/${jobId}`, otherPartnerKey)).status).toBe(404);

    // Meanwhile the owner's page heard of the rewards over its live feed, without a reload.
    const ownerId = ofType(net.nodes.events, 'NodeRegistered').find((e) => e.data.nodeId === ownerNodeId)!.data.ownerId;
    const accrued = await rewards.until('rewards of the owner', (events) => {
      const mine = ofType(events, 'RewardAccrued').filter((e) => e.data.jobId === jobId && e.data.ownerId === ownerId);
      return mine.length > 0 && mine;
    });
    await ownerPage.waitForFunction(() => document.querySelector('#available')?.textContent !== '0 WEBI', null, { timeout: 30_000 });
    const earned = accrued.reduce((sum, e) => sum + BigInt(e.data.amount), 0n);
    await ownerPage.waitForFunction((base) => document.querySelector('#available-base')?.textContent === `${base} base units`, String(earned), { timeout: 30_000 });
    expect(await ownerPage.locator('#per-node tr').count()).toBe(1);
    expect(await ownerPage.content()).not.toContain(jobId);

    await ownerPage.fill('#withdraw-amount', '1');
    await ownerPage.click('#withdraw-form button[type=submit]');
    await ownerPage.waitForSelector('#withdrawals tr [data-testid=withdrawal-status]');
    await rewards.until('the WithdrawalRequested', (events) => ofType(events, 'WithdrawalRequested').some((e) => e.data.ownerId === ownerId));
    // The withdrawal is paid on the local chain; the page shows the transaction hash once the ledger says so.
    await ownerPage.waitForFunction(() => /^0x[0-9a-f]{64}$/.test(document.querySelector('#withdrawals tr td:nth-child(4)')?.textContent ?? ''), null, { timeout: 60_000 }).catch(() => undefined);
    await ownerPage.waitForFunction(() => Number(document.querySelector('[data-testid=gpu-chart-utilizationPct]')?.getAttribute('data-points')) >= 10, null, { timeout: 30_000 });
    await shot(ownerPage, 'owner');
    await Promise.all([ownerContext.close(), partnerContext.close()]);
    expect(pageErrors).toEqual([]);
  }, 300_000);

  it('an operator opens a stream and steps through its events, and quarantines and releases a node', async () => {
    const context = await openContext();
    const page = await signInWithKey(context, 'operator', operatorKey);
    await page.waitForSelector(`#nodes tr[data-node="${ownerNodeId}"]`);
    expect(await page.locator('#classes tr[data-class="cpu.generic"] td').nth(1).textContent()).toBe('2');
    // Heartbeats arrive over the live feed.
    await page.waitForFunction((id) => / · \d+\/2 slots/.test(document.querySelector(`#nodes tr[data-node="${id}"] td:nth-child(5)`)?.textContent ?? ''), ownerNodeId, { timeout: 10_000 });

    const options = await page.locator('#stream option').evaluateAll((os) => os.map((o) => (o as unknown as PageElement).value));
    expect(options).toEqual(expect.arrayContaining(['WEAI_NODES', 'WEAI_JOBS', 'WEAI_REWARDS', 'WEAI_TELEMETRY']));
    expect(options).not.toContain('WEAI_SHARDS');
    expect(options).not.toContain('WEAI_RESULTS');
    await page.selectOption('#stream', 'WEAI_NODES');
    await page.fill('#from-seq', '1');
    await page.click('#browse-form button[type=submit]');
    await page.waitForFunction(() => document.querySelector('#event-seq')?.textContent === '1');
    expect(await textOf(page, '#event-type')).toBe('NodeRegistered');
    const stored = (await net.bus.jsm.streams.getMessage(streamOfFamily('nodes'), { seq: 2 }))!;
    await page.click('#next');
    await page.waitForFunction(() => document.querySelector('#event-seq')?.textContent === '2');
    expect(await textOf(page, '#event-subject')).toBe(stored.subject);
    expect(await textOf(page, '#event-type')).toBe(stored.subject.split('.').pop());
    await page.click('#next');
    await page.waitForFunction(() => document.querySelector('#event-seq')?.textContent === '3');
    await page.click('#prev');
    await page.waitForFunction(() => document.querySelector('#event-seq')?.textContent === '2');
    // A time instead of a sequence: the first message stored since then.
    await page.fill('#since', '2000-01-01T00:00:00Z');
    await page.click('#browse-form button[type=submit]');
    await page.waitForFunction(() => document.querySelector('#event-seq')?.textContent === '1');
    await page.click('#next');
    await page.waitForFunction(() => document.querySelector('#event-seq')?.textContent === '2');
    // The throughput chart: the job's two validated shards and its completion fall in the last hour.
    await page.waitForFunction(() => Number(document.querySelector('[data-testid=throughput-chart]')?.getAttribute('data-max')) > 0, null, { timeout: 30_000 });
    expect(await page.locator('[data-testid=throughput-chart]').getAttribute('data-points')).toBe('60');
    expect(await textOf(page, '#throughput-total')).toMatch(/^Last hour: ([2-9]|\d{2,}) shards validated, [1-9]\d* jobs completed\.$/);
    await shot(page, 'operator-throughput');
    // The shard work queue: each capability class's shared consumer, with its backlog.
    await page.waitForSelector('#queue-consumers tr');
    await shot(page, 'operator-events');

    // Quarantine from the page; the node event comes back over the live feed and the row changes.
    await page.fill('#action-reason', 'dashboard test');
    await page.click(`#nodes tr[data-node="${ownerNodeId}"] button[data-action=quarantine]`);
    await page.waitForFunction((id) => document.querySelector(`#nodes tr[data-node="${id}"] [data-testid=node-state]`)?.textContent === 'quarantined: dashboard test', ownerNodeId);
    await net.nodes.until('NodeQuarantined', (events) => ofType(events, 'NodeQuarantined').some((e) => e.data.nodeId === ownerNodeId && e.data.by === 'op-1'));
    await shot(page, 'operator');
    await page.click(`#nodes tr[data-node="${ownerNodeId}"] button[data-action=release]`);
    await net.nodes.until('NodeReleased', (events) => ofType(events, 'NodeReleased').some((e) => e.data.nodeId === ownerNodeId));
    await page.click('#ledger-check');
    await page.waitForFunction(() => /^\{/.test(document.querySelector('#ledger-result')?.textContent ?? ''), null, { timeout: 60_000 });
    await context.close();
    expect(pageErrors).toEqual([]);
  }, 120_000);

  it("refuses each role the other roles' pages and routes", async () => {
    const apiStatus = (page: Page, path: string) =>
      page.evaluate(async (p) => {
        const token = (JSON.parse(sessionStorage.getItem('weai.session')!) as { token: string }).token;
        return (await fetch(p, { headers: { authorization: `Bearer ${token}` } })).status;
      }, path);
    const routes = { owner: ['/v1/owner/telemetry', '/v1/owner/earnings'], partner: [`/v1/jobs/${jobId}`, '/v1/jobs'], operator: ['/v1/operator/streams', '/v1/operator/streams/WEAI_NODES/messages?from=1', '/v1/operator/nodes', '/v1/operator/throughput'] };
    const pages = { owner: 'owner.html', partner: 'partner.html', operator: 'operator.html' };
    const contexts = { owner: await openContext(), partner: await openContext(), operator: await openContext() };
    const signedIn = { owner: await signInOwner(contexts.owner), partner: await signInWithKey(contexts.partner, 'partner', partnerKey), operator: await signInWithKey(contexts.operator, 'operator', operatorKey) };
    for (const role of ['owner', 'partner', 'operator'] as const) {
      const page = signedIn[role];
      for (const other of ['owner', 'partner', 'operator'] as const) {
        for (const path of routes[other]) expect({ role, path, status: await apiStatus(page, path) }).toEqual({ role, path, status: other === role ? 200 : 403 });
        if (other === role) continue;
        await page.goto(`${baseUrl}/app/${pages[other]}`);
        await page.waitForSelector('[data-testid=refused]');
        expect(await textOf(page, '[data-testid=refused]')).toBe(`This page is for ${other}s; you are signed in as ${role === 'owner' || role === 'operator' ? 'an' : 'a'} ${role}.`);
        expect(await page.locator('table').count()).toBe(0);
      }
    }
    await shot(signedIn.partner, 'refused');
    // Without a session, a page sends the visitor to sign in.
    const anonymous = await (await openContext()).newPage();
    await anonymous.goto(`${baseUrl}/app/operator.html`);
    await anonymous.waitForURL('**/app/?next=operator');
    await Promise.all(Object.values(contexts).map((c) => c.close()));
    expect(pageErrors).toEqual([]);
  }, 120_000);

  it('serves only its own fixed files, with a strict content security policy, and browses only the audit streams', async () => {
    const page = await fetch(`${baseUrl}/app/owner.html`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    const etag = page.headers.get('etag')!;
    expect((await fetch(`${baseUrl}/app/owner.html`, { headers: { 'if-none-match': etag } })).status).toBe(304);
    expect((await fetch(`${baseUrl}/app/vendor/chart.umd.js`)).headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    const redirect = await fetch(`${baseUrl}/app`, { redirect: 'manual' });
    expect({ status: redirect.status, location: redirect.headers.get('location') }).toEqual({ status: 308, location: '/app/' });
    for (const path of ['/app/..%2f..%2fpackage.json', '/app/vendor/..%2fchart.cjs', '/app/%2e%2e/%2e%2e/package.json', '/app/nope.js', '/app/vendor/chart.cjs']) {
      const res = await fetch(`${baseUrl}${path}`);
      expect({ path, status: res.status }).toEqual({ path, status: 404 });
      expect(await res.text()).not.toContain('"name": "weai"');
    }
    const asOperator = (path: string) => fetch(`${baseUrl}${path}`, { headers: { authorization: `Bearer ${operatorKey}` } });
    for (const hidden of ['WEAI_SHARDS', 'WEAI_RESULTS', 'KV_weai-object-grants', 'OBJ_weai-objects', 'NOPE']) {
      expect({ hidden, status: (await asOperator(`/v1/operator/streams/${hidden}/messages`)).status }).toEqual({ hidden, status: hidden.startsWith('WEAI_') || hidden === 'NOPE' ? 404 : 400 });
    }
    const since = async (query: string) => (await (await asOperator(`/v1/operator/streams/WEAI_NODES/messages?${query}`)).json()) as { entries: Array<{ seq: number }> };
    expect((await since('since=2000-01-01T00:00:00Z')).entries[0]!.seq).toBe(1);
    expect((await since(`since=${new Date(Date.now() + 3_600_000).toISOString()}`)).entries).toEqual([]);
    const asOtherPartner = (path: string) => fetch(`${baseUrl}${path}`, { headers: { authorization: `Bearer ${otherPartnerKey}` } });
    for (const query of ['limit=0', 'limit=101', 'offset=-1', 'offset=1e3', 'partner=partner-d', 'limit=5&limit=6']) {
      expect({ query, status: (await asOtherPartner(`/v1/jobs?${query}`)).status }).toEqual({ query, status: 400 });
    }
    for (const query of ['from=0', 'from=-1', 'from=abc', 'to=1.5', 'limit=5', 'from=1&from=2', 'since=yesterday', 'since=2026-13-45T00:00:00Z', 'from=1&since=2026-11-26T00:00:00Z']) {
      expect({ query, status: (await asOperator(`/v1/operator/streams/WEAI_NODES/messages?${query}`)).status }).toEqual({ query, status: 400 });
    }
    const pageOf = (await (await asOperator('/v1/operator/streams/WEAI_NODES/messages?from=2&to=500')).json()) as { entries: Array<{ seq: number }>; lastSeq: number };
    expect(pageOf.entries.map((e) => e.seq)).toEqual(Array.from({ length: Math.min(100, pageOf.lastSeq - 1) }, (_, i) => i + 2));
  });

  it("rebuilds the rewards and nodes read models from zero with the operator CLI, identical to the live ones after the job's rewards and the withdrawal", async () => {
    const env = { ...process.env, NATS_URL: net.nats.url, WEAI_DATA_DIR: join(net.dir, 'control-plane') };
    for (const service of ['rewards', 'nodes']) {
      const result = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
        execFile(process.execPath, ['-r', '@swc-node/register', join(ROOT, 'tools/weai/main.ts'), 'projection', 'rebuild', '--service', service], { cwd: ROOT, env }, (error, stdout, stderr) =>
          resolve({ code: error ? ((error as { code?: number }).code ?? -1) : 0, stdout, stderr }),
        ),
      );
      expect({ service, ...result }).toMatchObject({ service, code: 0, stdout: expect.stringContaining(`${service}: the rebuilt read model is identical to the live one`) });
    }
  });
});
