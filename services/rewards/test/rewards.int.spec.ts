import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { INestMicroservice } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { JsMsg } from '@nats-io/jetstream';
import { type JsonRpcProvider, Wallet, parseEther } from 'ethers';
import { PayoutClient, WEBI, WebiTokenClient, chainConfigFromEnv, connectChain, deployPayout, deployWebi, withdrawalNonce } from '@weai/chain';
import { PARKED_STREAM, REWARDS_RPC, type WeaiEvent, ownerRequestSubject, streamOfFamily } from '@weai/contracts';
import type { EventStore } from '@weai/eventstore';
import { type Bus, JetStreamServer, PARK_HEADERS, RpcError, connectBus, decodeEvent, ensureStreams, requestJson } from '@weai/messaging';
import { type TestNatsServer, startNatsServer } from '@weai/messaging/src/testing/nats-server';
import { eventually, readWholeStream } from '@weai/messaging/src/testing/streams';
import { EVENT_STORE, serviceConfigFromEnv } from '@weai/runtime';
import type { AuditReport } from '../src/application/audit';
import type { WithdrawalRow } from '../src/application/ledger.read-model';
import type { SagaHooks } from '../src/application/withdrawal-saga';
import type { WithdrawalReceipt } from '../src/application/withdrawals';
import { connectPayoutChain } from '../src/adapters/payout.chain';
import { readPrivateKey, rewardsConfigFromEnv } from '../src/config';
import { RewardsModule } from '../src/rewards.module';
import { type CrashPoint, type EvmChild, crashAt, meta, publishAs, startEvmChild } from './support';

// 10^18 + 7 base units per million work units: 200,000 units pay 0.2 WEBI and one base unit of flooring.
const RATE = 10n ** 18n + 7n;
const FUNDED = 1_000n * WEBI;
const TTL = 3600;

describe('rewards service (real NATS, SQLite and an EVM over JSON-RPC)', () => {
  let nats: TestNatsServer;
  let evm: EvmChild;
  let provider: JsonRpcProvider;
  let bus: Bus;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let app: INestMicroservice | undefined;
  let token: WebiTokenClient;
  let payouts: PayoutClient;
  let payoutAddress: string;
  let deployBlock: number;
  const owners = { a: { id: 'owner-a', address: Wallet.createRandom().address }, b: { id: 'owner-b', address: Wallet.createRandom().address } };

  const startApp = async (hooks?: SagaHooks, extraEnv: NodeJS.ProcessEnv = {}) => {
    const e = { ...env, ...extraEnv };
    const config = serviceConfigFromEnv(e, 'rewards', 'rewards');
    const rewards = rewardsConfigFromEnv(e);
    const chain = await connectPayoutChain(chainConfigFromEnv(e), { signerKey: readPrivateKey(rewards.signerKeyPath, 'REWARDS_SIGNER_KEY') }, { pollingIntervalMs: 50 });
    const module = RewardsModule.create(config, bus, {
      policy: rewards.policy,
      withdrawals: rewards.withdrawals,
      chain,
      saga: { waitTimeoutMs: 5_000, pollMs: 100, budgetMs: 60_000 },
      ...(hooks ? { hooks } : {}),
    });
    const started = await NestFactory.createMicroservice(module, { strategy: new JetStreamServer(bus), logger: false });
    await started.listen();
    app = started;
    return started;
  };
  const stopApp = async () => {
    await app?.close();
    app = undefined;
  };
  const rpc = <T>(subject: string, body: unknown) => requestJson<T>(bus.nc, subject, body, 20_000);
  const accounts = async () => (await rpc<{ balances: Record<string, string> }>(REWARDS_RPC.accounts, {})).balances;
  const withdrawalOf = async (ownerId: string, withdrawalId: string) =>
    (await rpc<{ withdrawals: WithdrawalRow[] }>(ownerRequestSubject('balance', ownerId), { ownerId })).withdrawals.find((w) => w.withdrawalId === withdrawalId);
  const until = (ownerId: string, withdrawalId: string, status: WithdrawalRow['status']) =>
    eventually(async () => (await withdrawalOf(ownerId, withdrawalId))?.status === status, `${withdrawalId} ${status}`, 60_000);
  const redemptionsOf = async (ownerId: string, withdrawalId: string) =>
    (await payouts.contract.queryFilter(payouts.contract.getEvent('Redeemed')(withdrawalNonce(`${ownerId}:${withdrawalId}`)), deployBlock, 'latest')).length;
  /** Waits until the ledger projection has applied everything in the store. */
  const caughtUp = () =>
    eventually(async () => {
      const { livePosition, headPosition } = await rpc<AuditReport>(REWARDS_RPC.check, {});
      return livePosition === headPosition;
    }, 'the ledger projection to catch up', 30_000);
  const typesIn = async (ownerId: string, withdrawalId: string) => {
    const store = app!.get<EventStore>(EVENT_STORE);
    return (await store.readStream(`rewards-owner-${ownerId}`)).filter((e) => (e.data as { withdrawalId?: string }).withdrawalId === withdrawalId).map((e) => e.type);
  };

  beforeAll(async () => {
    [nats, evm] = await Promise.all([startNatsServer(), startEvmChild()]);
    dir = mkdtempSync(join(tmpdir(), 'weai-rewards-'));
    provider = await connectChain({ rpcUrl: evm.url, chainId: BigInt(evm.chainId) }, { pollingIntervalMs: 50 });
    const admin = await provider.getSigner(0);
    const platform = Wallet.createRandom();
    const keyPath = join(dir, 'platform.key');
    writeFileSync(keyPath, `${platform.privateKey}\n`);
    chmodSync(keyPath, 0o600);
    const webi = await deployWebi(admin);
    const payout = await deployPayout(admin, { token: webi.address, platformSigner: platform.address });
    payoutAddress = payout.address;
    deployBlock = payout.blockNumber;
    token = new WebiTokenClient(webi.address, admin);
    await token.grantMinter(await admin.getAddress());
    await token.mint(payout.address, FUNDED);
    // The platform's wallet pays the gas of every redemption.
    await (await admin.sendTransaction({ to: platform.address, value: parseEther('10') })).wait();
    payouts = new PayoutClient(payout.address, provider);
    // A block every 100 ms, so that confirmations accrue as on a live chain.
    await provider.send('evm_setIntervalMining', [100]);

    bus = await connectBus({ servers: nats.url, name: 'rewards-test' });
    await ensureStreams(bus.jsm);
    env = {
      WEAI_DATA_DIR: dir,
      NATS_URL: nats.url,
      CHAIN_RPC_URL: evm.url,
      CHAIN_ID: evm.chainId,
      CHAIN_CONFIRMATIONS: '3',
      WEBI_PAYOUT_ADDRESS: payout.address,
      REWARDS_RATE_PER_MILLION_UNITS: String(RATE),
      REWARDS_PLATFORM_FEE_BPS: '1000',
      REWARDS_PARTNER_SHARES: 'partner-1:250',
      REWARDS_MIN_WITHDRAWAL: '1000',
      REWARDS_VOUCHER_TTL_SECONDS: String(TTL),
      REWARDS_SIGNER_KEY: keyPath,
    };
    await startApp();
  });

  afterAll(async () => {
    await stopApp();
    await bus?.close();
    provider?.destroy();
    await evm?.stop();
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const node = async (nodeId: string, owner: { id: string; address: string }, benchmarkScore: number) => {
    const publicKey = `U${nodeId.toUpperCase().replace(/[^A-Z]/g, 'A').padEnd(55, 'A')}`;
    await publishAs(bus, 'nodes', { type: 'NodeRegistered', data: { nodeId, publicKey, ownerId: owner.id, payoutAddress: owner.address }, metadata: meta() } as WeaiEvent, `node-${nodeId}`);
    const capabilities = { os: 'linux', cpuFlags: [], gpus: [], executionProviders: ['cpu'], benchmarkScore, capabilityClasses: ['cpu.generic'] };
    await publishAs(bus, 'nodes', { type: 'NodeCapabilitiesReported', data: { nodeId, capabilities }, metadata: meta() } as WeaiEvent, `node-${nodeId}`);
  };
  const validated = (jobId: string, partnerId: string, shardIndex: number, accepted: Array<{ nodeId: string; computeMs: number }>) =>
    publishAs(
      bus,
      'jobs',
      {
        type: 'ShardValidated',
        data: { jobId, partnerId, shardId: `${jobId}-${shardIndex}`, shardIndex, outputHash: 'a'.repeat(64), replica: 0, method: 'redundancy', accepted, rejectedNodeIds: [] },
        metadata: meta(),
      } as WeaiEvent,
      `job-${jobId}`,
    );

  // owner-a: nA1 (score 100) and nA2 (score 400, four times as fast); owner-b: nB1 (score 50).
  // Every 200,000 work units pay gross 200000000000000001 = owner 175000000000000001 + fee 20000000000000000 + partner-1 5000000000000000.
  const A = 2n * 175_000_000_000_000_001n;
  const B = 175_000_000_000_000_001n + 55_552_500_000_000_000n;

  it('accrues each accepted result to its node owner: exact balances, fee and partner share; a shard validated twice pays once', async () => {
    await node('nA1', owners.a, 100);
    await node('nA2', owners.a, 400);
    await node('nB1', owners.b, 50);
    await validated('j1', 'partner-1', 0, [{ nodeId: 'nA1', computeMs: 2000 }, { nodeId: 'nB1', computeMs: 4000 }]);
    await validated('j1', 'partner-1', 1, [{ nodeId: 'nA2', computeMs: 500 }]); // the fast node: same work, same pay as nA1
    await validated('j2', 'partner-2', 0, [{ nodeId: 'nB1', computeMs: 1234.5 }]); // no share for partner-2: 61725000000 micro-units
    await validated('j1', 'partner-1', 0, [{ nodeId: 'nA1', computeMs: 2000 }, { nodeId: 'nB1', computeMs: 4000 }]); // validated again

    const expected = {
      'owner:owner-a': String(A),
      'owner:owner-b': String(B),
      'platform:fees': String(3n * 20_000_000_000_000_000n + 6_172_500_000_000_000n),
      'partner-share:partner-1': String(3n * 5_000_000_000_000_000n),
      treasury: String(-(3n * 200_000_000_000_000_001n + 61_725_000_000_000_000n)),
    };
    await eventually(async () => {
      const [consumer, jobs] = await Promise.all([bus.jsm.consumers.info('WEAI_JOBS', 'rewards-accrual'), bus.jsm.streams.info('WEAI_JOBS')]);
      return consumer.ack_floor.stream_seq === jobs.state.last_seq;
    }, 'every validated shard handled', 30_000);
    await caughtUp();
    expect(await accounts()).toEqual(expected);
    const store = app!.get<EventStore>(EVENT_STORE);
    expect((await store.readStream('rewards-owner-owner-a')).map((e) => e.type)).toEqual(['RewardAccrued', 'RewardAccrued']);
    expect((await store.readStream('rewards-owner-owner-b')).map((e) => e.type)).toEqual(['RewardAccrued', 'RewardAccrued']);
  });

  it('refuses withdrawals above the balance, below the minimum, and of owners with no payout address', async () => {
    const refused = (body: { ownerId: string; [field: string]: unknown }, subject = ownerRequestSubject('withdraw', body.ownerId)) => rpc(subject, body).then(() => undefined, (e: unknown) => e as RpcError);
    expect(await refused({ ownerId: 'owner-a', withdrawalId: 'too-much', amount: String(A + 1n) })).toMatchObject({ code: 'rewards.insufficient-balance' });
    expect(await refused({ ownerId: 'owner-a', withdrawalId: 'too-little', amount: '999' })).toMatchObject({ code: 'rewards.below-minimum' });
    expect(await refused({ ownerId: 'owner-z', withdrawalId: 'nobody', amount: '5000' })).toMatchObject({ code: 'rewards.no-payout-address' });
    expect(await refused({ ownerId: 'owner-a', withdrawalId: 'w', amount: 5000 })).toMatchObject({ code: 'bad-request' });
    // Another owner's account, asked on one's own subject (the only one an owner's credential may publish to).
    expect(await refused({ ownerId: 'owner-a', withdrawalId: 'not-mine', amount: '5000' }, ownerRequestSubject('withdraw', 'owner-b'))).toMatchObject({
      code: 'bad-request',
      message: 'the request names "owner-a" but was sent on weai.rpc.rewards.withdraw.owner-b',
    });
    expect((await rpc<{ withdrawals: WithdrawalRow[] }>(ownerRequestSubject('balance', 'owner-a'), { ownerId: 'owner-a' })).withdrawals.find((w) => w.withdrawalId === 'not-mine')).toBeUndefined();
  });

  it('pays a withdrawal on chain and moves it from the owner through in-flight to the chain account', async () => {
    const amount = 100_000_000_000_000_000n;
    const receipt = await rpc<WithdrawalReceipt>(ownerRequestSubject('withdraw', 'owner-a'), { ownerId: 'owner-a', withdrawalId: 'w1', amount: String(amount) });
    expect(receipt).toMatchObject({ status: 'requested', amount: String(amount), nonce: String(withdrawalNonce('owner-a:w1')) });
    await until('owner-a', 'w1', 'settled');
    expect(await token.balanceOf(owners.a.address)).toBe(amount);
    const balances = await accounts();
    expect(balances).toMatchObject({ 'owner:owner-a': String(A - amount), 'withdrawals:in-flight': '0', chain: String(amount) });
    const w = await withdrawalOf('owner-a', 'w1');
    const redemption = await payouts.findRedemption(withdrawalNonce('owner-a:w1'));
    expect(w).toMatchObject({ status: 'settled', txHash: redemption!.txHash, blockNumber: redemption!.blockNumber });
    const history = await rpc<Array<{ eventType: string; debit: string; credit: string; amount: string }>>(ownerRequestSubject('history', 'owner-a'), { ownerId: 'owner-a', limit: 10 });
    expect(history.map((p) => [p.eventType, p.debit, p.credit, p.amount])).toEqual([
      ['WithdrawalRequested', 'owner:owner-a', 'withdrawals:in-flight', String(amount)],
      ['RewardAccrued', 'treasury', 'owner:owner-a', '175000000000000001'],
      ['RewardAccrued', 'treasury', 'owner:owner-a', '175000000000000001'],
    ]);
  });

  describe('a saga killed at each step pays exactly once after a restart on the same store and chain', () => {
    const amount = 10_000_000_000_000_000n;
    it.each<CrashPoint>(['beforeSign', 'afterSign', 'afterSend', 'afterConfirm'])('killed %s', async (point) => {
      const withdrawalId = `crash-${point}`;
      const before = await token.balanceOf(owners.b.address);
      await stopApp();
      const crash = crashAt(point);
      await startApp(crash.hooks);
      await rpc(ownerRequestSubject('withdraw', 'owner-b'), { ownerId: 'owner-b', withdrawalId, amount: String(amount) });
      await crash.crashed;
      await stopApp();

      const paidBeforeRestart = await redemptionsOf('owner-b', withdrawalId);
      expect(paidBeforeRestart).toBe(point === 'afterSend' || point === 'afterConfirm' ? 1 : 0);

      await startApp();
      await until('owner-b', withdrawalId, 'settled');
      expect((await token.balanceOf(owners.b.address)) - before).toBe(amount);
      expect(await redemptionsOf('owner-b', withdrawalId)).toBe(1);
      const types = await typesIn('owner-b', withdrawalId);
      expect(types.filter((t) => t === 'WithdrawalSettled')).toHaveLength(1);
      expect(types).not.toContain('WithdrawalFailed');
      if (point === 'afterSign') {
        // The restarted saga signed the same voucher again, to the same signature.
        const { txHash } = (await withdrawalOf('owner-b', withdrawalId))!;
        expect((await provider.getTransaction(txHash!))!.data).toContain(crash.seen.signature!.slice(2));
      }
      if (point === 'afterSend') expect((await withdrawalOf('owner-b', withdrawalId))!.txHash).toBe(crash.seen.txHash);
    });
  });

  it('pays a withdrawal submitted twice (at once and again later) once; another amount under its id is refused', async () => {
    const amount = 50_000_000_000_000_000n;
    const before = await token.balanceOf(owners.a.address);
    const body = { ownerId: 'owner-a', withdrawalId: 'dup', amount: String(amount) };
    const withdraw = ownerRequestSubject('withdraw', 'owner-a');
    const [first, second] = await Promise.all([rpc<WithdrawalReceipt>(withdraw, body), rpc<WithdrawalReceipt>(withdraw, body)]);
    expect(second).toEqual(first);
    await until('owner-a', 'dup', 'settled');
    expect(await rpc<WithdrawalReceipt>(withdraw, body)).toMatchObject({ status: 'settled', nonce: first.nonce, deadline: first.deadline });
    await expect(rpc(withdraw, { ...body, amount: String(amount + 1n) })).rejects.toMatchObject({ code: 'rewards.withdrawal-id-reused' });
    expect((await token.balanceOf(owners.a.address)) - before).toBe(amount);
    expect(await redemptionsOf('owner-a', 'dup')).toBe(1);
    expect(await typesIn('owner-a', 'dup')).toEqual(['WithdrawalRequested', 'WithdrawalSubmitted', 'WithdrawalSettled']);
  });

  it('replays the log to the live balances: the sum over all accounts is zero and every rule holds', async () => {
    await caughtUp();
    const report = await rpc<AuditReport>(REWARDS_RPC.check, {});
    expect(report).toMatchObject({ ok: true, sum: '0', mismatches: [], violations: [] });
    expect(report.livePosition).toBe(report.headPosition);
    expect(report.balances).toEqual(await accounts());
    // What left on chain is what the payout contract paid.
    expect(FUNDED - (await token.balanceOf(payoutAddress))).toBe(BigInt(report.balances['chain']!));
  });

  it('rebuilds identical balances into a new read model from the log', async () => {
    const live = await accounts();
    await stopApp();
    await startApp(undefined, { READ_MODEL_URL: `sqlite:${join(dir, 'rebuilt-read.sqlite')}` });
    await eventually(async () => JSON.stringify(await accounts()) === JSON.stringify(live), 'the rebuilt ledger', 30_000);
    expect((await rpc<AuditReport>(REWARDS_RPC.check, {})).ok).toBe(true);
  });

  // Last: it moves the chain's clock past the voucher lifetime for good.
  it('releases a withdrawal whose voucher expired unredeemed back to the owner, once final', async () => {
    const amount = 10_000_000_000_000_000n;
    const balance = BigInt((await accounts())['owner:owner-a']!);
    await stopApp();
    const crash = crashAt('beforeSign');
    await startApp(crash.hooks);
    await rpc(ownerRequestSubject('withdraw', 'owner-a'), { ownerId: 'owner-a', withdrawalId: 'expires', amount: String(amount) });
    await crash.crashed;
    await stopApp();
    await provider.send('evm_increaseTime', [TTL + 60]);

    await startApp();
    await until('owner-a', 'expires', 'failed');
    expect(await redemptionsOf('owner-a', 'expires')).toBe(0);
    expect(await accounts()).toMatchObject({ 'owner:owner-a': String(balance), 'withdrawals:in-flight': '0' });
    expect(await typesIn('owner-a', 'expires')).toEqual(['WithdrawalRequested', 'WithdrawalFailed']);
    expect((await rpc<AuditReport>(REWARDS_RPC.check, {})).ok).toBe(true);
  });

  it('parks at once a WithdrawalRequested that its ledger does not hold, paying nothing', async () => {
    const store = app!.get<EventStore>(EVENT_STORE);
    const head = await store.headPosition();
    const forged = { withdrawalId: 'forged', ownerId: 'owner-b', amount: '5000', payoutAddress: owners.b.address, nonce: '7', deadline: '9999999999' };
    // Position 1: the ledger projection, long past it, skips it as a re-publish; the saga still gets it.
    const { metadata } = await publishAs(bus, 'rewards', { type: 'WithdrawalRequested', data: forged, metadata: meta() } as WeaiEvent, 'rewards-owner-owner-b');
    let copy: JsMsg | undefined;
    await eventually(async () => {
      copy = (await readWholeStream(bus.js, bus.jsm, PARKED_STREAM)).find((m) => m.subject === 'weai.parked.rewards-withdrawal-saga' && decodeEvent(m).event.metadata.eventId === metadata.eventId);
      return copy !== undefined;
    }, 'the forged withdrawal parked', 10_000);
    expect(copy!.headers?.get(PARK_HEADERS.reason)).toMatch(/not in the owner's ledger/);
    const saga = await bus.jsm.consumers.info(streamOfFamily('rewards'), 'rewards-withdrawal-saga');
    expect(saga.num_ack_pending).toBe(0);
    expect(await redemptionsOf('owner-b', 'forged')).toBe(0);
    expect(await store.headPosition()).toBe(head);
  });
});
