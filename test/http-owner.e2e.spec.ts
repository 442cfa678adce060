import { randomBytes, randomUUID } from 'node:crypto';
import { Wallet } from 'ethers';
import { streamOfFamily } from '@weai/contracts';
import { referenceMlp } from '@weai/node-agent/src/onnx/reference-model';
import { PartnerHttpClient } from '@weai/sdk';
import { type PayoutChain, startPayoutChain } from './support/payout-chain';
import { type TestNetwork, startNetwork } from './support/control-plane';
import { type EventLog, ofType, watchStream } from './support/events';
import type { ManagedProcess } from './support/processes';
import { dataset } from './support/reference';

interface Earnings {
  ownerId: string;
  available: string;
  inFlight: string;
  withdrawals: Array<{ withdrawalId: string; amount: string; status: string }>;
  history: Array<{ at: string; kind: string; amount: string; nodeId?: string; withdrawalId?: string; jobId?: string }>;
}

/** Owners over HTTP against the real rewards service (and a local EVM chain): earnings, withdrawals, isolation. */
describe('node owners over HTTP (e2e): earnings and withdrawals through the rewards service', () => {
  const partnerKey = `key-p-${randomBytes(16).toString('hex')}`;
  const operatorKey = `key-op-${randomBytes(16).toString('hex')}`;
  const owner = new Wallet(`0x${randomBytes(32).toString('hex')}`);
  const stranger = new Wallet(`0x${randomBytes(32).toString('hex')}`);
  let chain: PayoutChain;
  let net: TestNetwork;
  let rewards: EventLog;
  let gateway: ManagedProcess;
  let baseUrl: string;
  let nodeId: string;

  const call = (path: string, auth: string, init: RequestInit = {}) => fetch(`${baseUrl}${path}`, { ...init, headers: { authorization: `Bearer ${auth}`, 'content-type': 'application/json', ...(init.headers as Record<string, string>) } });
  const signIn = async (wallet: Wallet) => {
    const post = (path: string, body: unknown) => fetch(`${baseUrl}${path}`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
    const { challenge, message } = (await (await post('/v1/auth/owner/challenge', { address: wallet.address })).json()) as { challenge: string; message: string };
    return ((await (await post('/v1/auth/owner/token', { challenge, signature: await wallet.signMessage(message) })).json()) as { token: string }).token;
  };

  beforeAll(async () => {
    chain = await startPayoutChain('http-owner');
    net = await startNetwork(chain.env);
    rewards = await watchStream(net.bus, streamOfFamily('rewards'));
    await Promise.all([net.startService('nodes'), net.startService('scheduler'), net.startService('rewards')]);
    // A node with no record yet is checked by a node of another owner: two owners take part.
    [{ nodeId }] = await Promise.all([net.startAgent('owned', { payout: owner.address }), net.startAgent('other', { payout: `0x${randomBytes(20).toString('hex')}` })]);
    ({ process: gateway, baseUrl } = await net.startGateway({ GATEWAY_PARTNER_KEYS: `partner-o:${partnerKey}`, GATEWAY_OPERATOR_KEYS: `op-1:${operatorKey}` }));
  }, 180_000);
  afterEach(() => {
    if (process.env['WEAI_E2E_LOGS']) for (const p of [...net.services.values(), gateway]) process.stderr.write(`--- ${p.name}\n${p.output().slice(-3000)}\n`);
  });
  afterAll(async () => {
    await gateway?.kill();
    await rewards?.close();
    await net?.stop();
    await chain?.stop();
  });

  it("shows an owner its earnings without the partner's job ids, withdraws through rewards, and shows another owner nothing of it", async () => {
    const partner = new PartnerHttpClient({ baseUrl, apiKey: partnerKey });
    const jobId = `secret-project-${randomUUID()}`;
    await partner.submit(await partner.uploadModel(referenceMlp()), await partner.uploadDataset(dataset(16, 64)), {
      jobId,
      shardSize: 8,
      capability: 'cpu.generic',
      deadline: new Date(Date.now() + 3_600_000).toISOString(),
      redundancy: { replicas: 1, spotCheckRate: 0, tolerance: 1e-5 },
    });
    const stalled = setTimeout(() => void net.describe().then((d) => process.stderr.write(`[http-owner] stalled:\n${d}\n`)), 90_000);
    expect((await partner.follow(jobId).finally(() => clearTimeout(stalled))).status).toBe('completed');
    const accepted = ofType(net.jobs.events, 'ShardValidated')
      .filter((e) => e.data.jobId === jobId)
      .flatMap((e) => e.data.accepted)
      .filter((a) => a.nodeId === nodeId).length;
    expect(accepted).toBeGreaterThan(0);
    const ownerId = ofType(net.nodes.events, 'NodeRegistered').find((e) => e.data.nodeId === nodeId)!.data.ownerId;
    const accruals = await rewards.until(`${accepted} accruals`, (events) => {
      const mine = ofType(events, 'RewardAccrued').filter((e) => e.data.jobId === jobId && e.data.ownerId === ownerId);
      return mine.length === accepted && mine;
    });
    const earned = accruals.reduce((sum, a) => sum + BigInt(a.data.amount), 0n);
    expect(earned).toBeGreaterThan(1n);

    const ownerToken = await signIn(owner);
    // The ledger projection follows the stream: ask until both accruals are in the balance.
    let earnings: Earnings;
    for (const deadlineAt = Date.now() + 10_000; ; ) {
      earnings = (await (await call('/v1/owner/earnings?limit=10', ownerToken)).json()) as Earnings;
      if (earnings.available === String(earned) || Date.now() > deadlineAt) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(earnings).toMatchObject({ ownerId, available: String(earned), inFlight: '0', withdrawals: [] });
    expect(earnings.history.map((h) => ({ kind: h.kind, nodeId: h.nodeId }))).toEqual(Array.from({ length: accepted }, () => ({ kind: 'reward', nodeId })));
    expect(earnings.history.map((h) => BigInt(h.amount)).reduce((a, b) => a + b, 0n)).toBe(earned);
    expect(JSON.stringify(earnings)).not.toContain(jobId);
    expect(JSON.stringify(earnings)).not.toContain('partner-o');

    const tooMuch = await call('/v1/owner/withdrawals', ownerToken, { method: 'POST', body: JSON.stringify({ amount: String(earned + 1n) }) });
    expect({ status: tooMuch.status, code: ((await tooMuch.json()) as { error: { code: string } }).error.code }).toEqual({ status: 409, code: 'rewards.insufficient-balance' });
    const bad = await call('/v1/owner/withdrawals', ownerToken, { method: 'POST', body: JSON.stringify({ amount: '-5', ownerId: 'someone-else' }) });
    expect(bad.status).toBe(400);

    const withdrawn = await call('/v1/owner/withdrawals', ownerToken, { method: 'POST', body: JSON.stringify({ amount: '1', withdrawalId: 'w-1' }) });
    expect(withdrawn.status).toBe(201);
    expect(await withdrawn.json()).toMatchObject({ ownerId: earnings.ownerId, withdrawalId: 'w-1', amount: '1' });
    await rewards.until('the WithdrawalRequested', (events) => ofType(events, 'WithdrawalRequested').some((e) => e.data.ownerId === earnings.ownerId && e.data.withdrawalId === 'w-1'));

    // Another owner: nothing of the first one's, and no route to name it.
    const strangers = (await (await call('/v1/owner/earnings', await signIn(stranger))).json()) as Earnings;
    expect(strangers).toMatchObject({ available: '0', inFlight: '0', withdrawals: [], history: [] });
    expect(strangers.ownerId).not.toBe(earnings.ownerId);

    const check = await call('/v1/operator/ledger/check', operatorKey);
    expect(check.status).toBe(200);
  }, 180_000);
});
