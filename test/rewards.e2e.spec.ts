import { join } from 'node:path';
import { WebiTokenClient } from '@weai/chain';
import { REWARDS_RPC, ownerRequestSubject, streamOfFamily } from '@weai/contracts';
import { requestJson } from '@weai/messaging';
import { eventually } from '@weai/messaging/src/testing/streams';
import { PartnerClient } from '@weai/sdk';
import { type PayoutChain, startPayoutChain } from './support/payout-chain';
import { type TestNetwork, startNetwork } from './support/control-plane';
import { type EventLog, ofType, watchStream } from './support/events';
import { type ManagedProcess, startTs } from './support/processes';
import { runReferenceJob } from './support/reference';

// Base units per million work units; the odd 7 makes the flooring visible in the amounts.
const RATE = 10n ** 15n + 7n;
const FEE_BPS = 1000n;
const SHARE_BPS = 250n;

/** The documented policy (docs/rewards.md), recomputed here independently of the service. */
function expectedAccrual(computeMs: number, benchmarkScore: number) {
  const work = BigInt(Math.round(computeMs * 1000)) * BigInt(Math.round(benchmarkScore * 1000));
  const gross = (work * RATE) / 10n ** 12n;
  const fee = (gross * FEE_BPS) / 10_000n;
  const share = (gross * SHARE_BPS) / 10_000n;
  return { gross, fee, share, owner: gross - fee - share };
}

describe('rewards (e2e): a job run pays its honest workers exactly, on chain too, and a cheater nothing', () => {
  let chain: PayoutChain;
  let net: TestNetwork;
  let rewards: EventLog;
  let partner: PartnerClient;
  let token: WebiTokenClient;
  let cheater: ManagedProcess | undefined;

  beforeAll(async () => {
    chain = await startPayoutChain('rewards-e2e');
    token = chain.token;
    net = await startNetwork({
      ...chain.env,
      CHAIN_CONFIRMATIONS: '2',
      REWARDS_RATE_PER_MILLION_UNITS: String(RATE),
      REWARDS_PLATFORM_FEE_BPS: String(FEE_BPS),
      REWARDS_PARTNER_SHARES: `partner-e2e:${SHARE_BPS}`,
    });
    rewards = await watchStream(net.bus, streamOfFamily('rewards'));
    await Promise.all([net.startService('nodes'), net.startService('scheduler'), net.startService('rewards')]);
    partner = await PartnerClient.connect({ servers: net.nats.url, partnerId: 'partner-e2e' });
  });
  afterEach(() => {
    if (process.env['WEAI_E2E_LOGS']) for (const [name, p] of net.services) process.stderr.write(`--- ${name}\n${p.output().slice(-3000)}\n`);
  });
  afterAll(async () => {
    await cheater?.kill('SIGKILL');
    await partner?.close();
    await rewards?.close();
    await net?.stop();
    await chain?.stop();
  });

  it('accrues exactly the policy amounts to the owners of accepted results, the fee to the platform, nothing to the cheater; a withdrawal pays on chain', async () => {
    await Promise.all(['r1', 'r2'].map((n) => net.startAgent(n)));
    cheater = startTs('cheater', 'test/support/cheating-agent.ts', [net.nats.url, join(net.dir, 'cheater'), `0x${'c5'.repeat(20)}`], {});
    const cheaterId = (await cheater.waitFor(/registered as node (\S+)/)).split(' ').pop()!;
    await cheater.waitFor(/taking work on/);

    const { jobId, ended } = await runReferenceJob(partner, net.jobs, 240, 17);
    expect(ended).toBe('JobCompleted');

    const validated = ofType(net.jobs.events, 'ShardValidated').filter((e) => e.data.jobId === jobId);
    const paidResults = validated.flatMap((v) => v.data.accepted.map((a) => ({ ...a, shardId: v.data.shardId })));
    expect(ofType(net.jobs.events, 'ShardResultRejected').filter((e) => e.data.jobId === jobId && e.data.nodeId === cheaterId).length).toBeGreaterThanOrEqual(1);
    expect(paidResults.some((r) => r.nodeId === cheaterId)).toBe(false);

    // One accrual per accepted result, awaited as the rewards service publishes them.
    const accruals = await rewards.until(`${paidResults.length} accruals`, (events) => {
      const mine = ofType(events, 'RewardAccrued').filter((e) => e.data.jobId === jobId);
      return mine.length >= paidResults.length && mine;
    });
    expect(accruals).toHaveLength(paidResults.length);

    const registered = ofType(net.nodes.events, 'NodeRegistered');
    const ownerOf = new Map(registered.map((e) => [e.data.nodeId, e.data.ownerId]));
    const scores = ofType(net.nodes.events, 'NodeCapabilitiesReported');
    const expected = new Map<string, bigint>();
    let fees = 0n;
    let shares = 0n;
    let gross = 0n;
    for (const r of paidResults) {
      const accrual = accruals.find((a) => a.data.shardId === r.shardId && a.data.nodeId === r.nodeId)!;
      expect(accrual).toBeDefined();
      const score = accrual.data.basis!.benchmarkScore;
      // The score paid on is one the node reported; the compute time the one validated.
      expect(scores.some((s) => s.data.nodeId === r.nodeId && s.data.capabilities.benchmarkScore === score)).toBe(true);
      expect(accrual.data.basis!.computeMs).toBe(r.computeMs);
      const e = expectedAccrual(r.computeMs, score);
      expect(accrual.data).toMatchObject({ ownerId: ownerOf.get(r.nodeId), amount: String(e.owner), platformFee: String(e.fee), partnerId: 'partner-e2e', partnerShare: String(e.share) });
      const owner = ownerOf.get(r.nodeId)!;
      expected.set(owner, (expected.get(owner) ?? 0n) + e.owner);
      fees += e.fee;
      shares += e.share;
      gross += e.gross;
    }
    expect(expected.size).toBe(2);
    expect(fees).toBeGreaterThan(0n);

    const rpc = <T>(subject: string, body: unknown) => requestJson<T>(net.bus.nc, subject, body, 20_000);
    // The ledger projection has applied the whole store when the operators' check says so.
    let check = { ok: false, sum: '', livePosition: -1, headPosition: 0 };
    await eventually(async () => {
      check = await rpc<typeof check>(REWARDS_RPC.check, {});
      return check.livePosition === check.headPosition;
    }, 'the ledger projection to catch up', 30_000);
    expect(check).toMatchObject({ ok: true, sum: '0' });
    const { balances } = await rpc<{ balances: Record<string, string> }>(REWARDS_RPC.accounts, {});
    for (const [owner, amount] of expected) expect(balances[`owner:${owner}`]).toBe(String(amount));
    expect(balances[`owner:${ownerOf.get(cheaterId)}`] ?? '0').toBe('0');
    expect(balances['platform:fees']).toBe(String(fees));
    expect(balances['partner-share:partner-e2e']).toBe(String(shares));
    expect(balances['treasury']).toBe(String(-gross));

    // The first owner cashes out everything: WEBI arrive at the payout address it registered.
    const [ownerId, amount] = [...expected][0]!;
    const payoutAddress = registered.find((e) => e.data.ownerId === ownerId)!.data.payoutAddress;
    const before = await token.balanceOf(payoutAddress);
    await rpc(ownerRequestSubject('withdraw', ownerId), { ownerId, withdrawalId: 'cash-out-1', amount: String(amount) });
    const settled = await rewards.until('the withdrawal settled', (events) => ofType(events, 'WithdrawalSettled').find((e) => e.data.ownerId === ownerId), 60_000);
    expect(settled.data).toMatchObject({ withdrawalId: 'cash-out-1', amount: String(amount) });
    expect((await token.balanceOf(payoutAddress)) - before).toBe(amount);
  }, 240_000);
});
