/**
 * Rewards benchmark, three numbers:
 *
 *   - accruals/s through the ledger projection: N `RewardAccrued` events already in WEAI_REWARDS
 *     (published as the relay would), applied by the service's `ledgerProjection` through
 *     `ProjectionRunner` into a SQLite read model, timed from the runner's start until its
 *     checkpoint reaches the last one;
 *   - withdrawals settled/s on the in-process chain (Hardhat's EDR, automining): vouchers signed
 *     with the platform key, redeemed by the relayer (8 in flight) and reconciled with
 *     `PayoutClient.settle(voucher, 1)` until every one is `paid`: the chain half of the saga,
 *     without the event-store appends;
 *   - 1,000,000 ledger events (accruals over 1,000 owners, each following from its basis) in a
 *     SQLite rewards store: the time to replay them with the invariant check (`LedgerAuditor`,
 *     what `weai.rpc.rewards.check` runs), and the time for `audit verify` over all of them
 *     (stored rows re-read, leaves and Merkle roots recomputed, compared with the roots anchored
 *     on chain in segments of 10,000; the anchoring itself is timed apart).
 *
 * Progress on stderr; the last line of stdout is one JSON object.
 *
 *   npm run bench:rewards                 # 20,000 accruals, 200 withdrawals, 1,000,000 ledger events
 *   npm run bench:rewards -- --quick      # 2,000 / 40 / 20,000
 *   npm run bench:rewards -- --ledger-events 200000 --accruals 5000 --withdrawals 100
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ProjectionRunner, connectBus, encodeEvent, ensureStreams } from '@weai/messaging';
import { startNatsServer } from '@weai/messaging/src/testing/nats-server';
import type { RewardsFamilyEvent, WeaiEvent } from '@weai/contracts';
import { type RecordedEvent, openSqlEventStore, openStoredLog } from '@weai/eventstore';
import {
  AuditAnchorClient,
  PayoutClient,
  WEBI,
  WebiTokenClient,
  anchorPending,
  deployAuditAnchor,
  deployPayout,
  deployWebi,
  signWithdrawalVoucher,
  verifyRange,
  withdrawalNonce,
} from '@weai/chain';
import { startEvm } from '@weai/chain/test/evm';
import { openReadModel } from '@weai/runtime';
import { Wallet } from 'ethers';
import { type AccrualTerms, accrue } from '../services/rewards/src/domain/policy';
import { LedgerAuditor } from '../services/rewards/src/domain/ledger-check';
import { sumOf } from '../services/rewards/src/domain/ledger';
import { AccountEntity, CreateRewardsLedger1764500000001, PostingEntity, WithdrawalEntity, ledgerProjection } from '../services/rewards/src/application/ledger.read-model';
import { UsageError, fmt, log, round1, round3, runBench, secondsSince } from './support/run';

interface Options {
  readonly accruals: number;
  readonly withdrawals: number;
  readonly ledgerEvents: number;
}

const USAGE = `usage: npm run bench:rewards -- [--quick] [--accruals N] [--withdrawals N] [--ledger-events N]`;

function parse(argv: readonly string[]): Options | 'help' {
  let o = { accruals: 20_000, withdrawals: 200, ledgerEvents: 1_000_000 };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') return 'help';
    if (arg === '--quick') {
      o = { accruals: 2_000, withdrawals: 40, ledgerEvents: 20_000 };
      continue;
    }
    const key = ({ '--accruals': 'accruals', '--withdrawals': 'withdrawals', '--ledger-events': 'ledgerEvents' } as const)[arg as '--accruals'];
    const value = argv[++i];
    if (!key) throw new UsageError(`unknown argument ${JSON.stringify(arg)}`);
    if (!value || !/^[1-9][0-9]*$/.test(value)) throw new UsageError(`${arg} needs a positive integer, got ${JSON.stringify(value)}`);
    o = { ...o, [key]: Number(value) };
  }
  return o;
}

const TERMS: AccrualTerms = { ratePerMillionUnits: 10n ** 15n + 7n, platformFeeBps: 1000, partnerShareBps: 250 };
const OCCURRED = '2026-11-25T10:00:00.000Z';

/** Accrual `i` to owner `owner`: work that varies, amounts that follow from the basis. */
function accrual(i: number, owner: number): WeaiEvent {
  const work = { computeMs: 10 + (i % 97) + 0.125, benchmarkScore: 1 + (i % 13) / 8 };
  const a = accrue(work, TERMS);
  const eventId = randomUUID();
  return {
    type: 'RewardAccrued',
    data: {
      ownerId: `owner-${owner}`,
      nodeId: `node-${owner}`,
      jobId: `job-${Math.floor(i / 1000)}`,
      shardId: `shard-${i}`,
      amount: String(a.owner),
      platformFee: String(a.platformFee),
      partnerId: 'partner-1',
      partnerShare: String(a.partnerShare),
      basis: { ...work, workMicroUnits: String(a.workMicroUnits), ratePerMillionUnits: String(TERMS.ratePerMillionUnits), platformFeeBps: TERMS.platformFeeBps, partnerShareBps: TERMS.partnerShareBps },
    },
    metadata: { eventId, correlationId: eventId, causationId: eventId, occurredAt: OCCURRED },
  } as WeaiEvent;
}

async function projectionThroughput(n: number, dir: string): Promise<number> {
  const nats = await startNatsServer();
  const bus = await connectBus({ servers: nats.url, name: 'bench-rewards' });
  try {
    await ensureStreams(bus.jsm);
    const pending: Promise<unknown>[] = [];
    for (let i = 0; i < n; i++) {
      const event = accrual(i, i % 1000);
      const recorded: RecordedEvent = { ...event, streamId: `rewards-owner-owner-${i % 1000}`, revision: Math.floor(i / 1000), position: i + 1, schemaVersion: 1, recordedAt: OCCURRED };
      const { subject, body, headers } = encodeEvent('rewards', recorded);
      pending.push(bus.js.publish(subject, body, { headers, msgID: event.metadata.eventId }));
      if (pending.length >= 256) await Promise.all(pending.splice(0));
    }
    await Promise.all(pending);
    const dataSource = await openReadModel(`sqlite:${join(dir, 'read.sqlite')}`, [CreateRewardsLedger1764500000001], [AccountEntity, PostingEntity, WithdrawalEntity]);
    let done!: () => void;
    const finished = new Promise<void>((r) => (done = r));
    const runner = new ProjectionRunner({
      dataSource,
      js: bus.js,
      projection: ledgerProjection,
      onCommitted: (_s, cp) => cp.storePosition >= n && done(),
      onError: (e) => log(`projection: ${(e as Error).message}`),
    });
    const started = performance.now();
    await runner.start();
    await finished;
    const seconds = secondsSince(started);
    await runner.stop();
    const rows = await dataSource.getRepository(AccountEntity).find();
    if (sumOf(new Map(rows.map((r) => [r.account, BigInt(r.balance)]))) !== 0n) throw new Error('the projected ledger does not sum to zero');
    await dataSource.destroy();
    return n / seconds;
  } finally {
    await bus.close();
    await nats.stop();
  }
}

async function main(options: Options, cleanup: import('./support/run').Cleanup): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'weai-bench-rewards-'));
  cleanup.add('temporary folder', () => rmSync(dir, { recursive: true, force: true }));

  log(`projection: ${fmt(options.accruals)} accruals through the ledger projection…`);
  const accrualsPerS = await projectionThroughput(options.accruals, dir);
  log(`  ${fmt(accrualsPerS)} accruals/s`);

  log(`chain: ${fmt(options.withdrawals)} withdrawals on the in-process EVM…`);
  const evm = await startEvm();
  const [admin, relayer] = [evm.accounts[0]!, evm.accounts[1]!];
  const platform = Wallet.createRandom();
  const webi = await deployWebi(admin);
  const payout = await deployPayout(admin, { token: webi.address, platformSigner: platform.address });
  const token = new WebiTokenClient(webi.address, admin);
  await token.grantMinter(await admin.getAddress());
  await token.mint(payout.address, 1_000_000n * WEBI);
  const payouts = new PayoutClient(payout.address, relayer);
  const domain = { payoutContract: payout.address, chainId: evm.chainId };
  const deadline = (await evm.latestTimestamp()) + 86_400n;
  const vouchers = Array.from({ length: options.withdrawals }, (_, i) => ({ owner: Wallet.createRandom().address, amount: WEBI + BigInt(i), nonce: withdrawalNonce(`owner-${i}:w-${i}`), deadline }));
  const settledAt = performance.now();
  const queue = [...vouchers];
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      for (let v = queue.shift(); v; v = queue.shift()) {
        await payouts.redeem(v, await signWithdrawalVoucher(platform, domain, v));
        for (;;) {
          const state = await payouts.settle(v, 1);
          if (state.status === 'paid') break;
          await evm.mine(1);
        }
      }
    }),
  );
  const withdrawalsPerS = options.withdrawals / secondsSince(settledAt);
  log(`  ${fmt(withdrawalsPerS)} withdrawals settled/s`);

  const n = options.ledgerEvents;
  log(`ledger: writing ${fmt(n)} accruals to a SQLite rewards store…`);
  const storePath = join(dir, 'rewards.sqlite');
  const store = await openSqlEventStore({ type: 'sqlite', path: storePath });
  cleanup.add('event store', () => store.close());
  const writeStart = performance.now();
  const owners = 1000;
  const perAppend = 500;
  for (let base = 0; base < n; ) {
    const appends: Promise<unknown>[] = [];
    for (let k = 0; k < 8 && base < n; k++, base += perAppend) {
      // One append: a run of accruals of one owner, in that owner's stream.
      const owner = (base / perAppend) % owners;
      const events = Array.from({ length: Math.min(perAppend, n - base) }, (_, j) => accrual(base + j, owner));
      appends.push(store.append(`rewards-owner-owner-${owner}`, events, 'any'));
    }
    await Promise.all(appends);
    if (base % 100_000 < perAppend * 8) log(`  ${fmt(base)} written`);
  }
  const writeSeconds = secondsSince(writeStart);

  log('ledger: replaying with the invariant check…');
  const replayStart = performance.now();
  const auditor = new LedgerAuditor();
  for (let from = 0; ; ) {
    const page = await store.readAll(from, 10_000);
    for (const e of page) auditor.apply({ position: e.position, event: e as unknown as RewardsFamilyEvent });
    if (page.length < 10_000) break;
    from = page[page.length - 1]!.position;
  }
  const replay = auditor.result();
  const replaySeconds = secondsSince(replayStart);
  if (replay.events !== n || replay.violations.length > 0 || sumOf(replay.balances) !== 0n) {
    throw new Error(`replay: ${replay.events} events, ${replay.violations.length} violations (${replay.violations[0] ?? ''}), sum ${sumOf(replay.balances)}`);
  }
  log(`  ${round1(replaySeconds)} s`);

  log('ledger: anchoring in segments of 10,000, then audit verify over all of it…');
  const stored = await openStoredLog({ type: 'sqlite', path: storePath });
  cleanup.add('stored log', () => stored.close());
  const anchorDeployed = await deployAuditAnchor(admin);
  const anchor = new AuditAnchorClient(anchorDeployed.address, admin);
  const anchorStart = performance.now();
  const segments = await anchorPending(stored, anchor, { segmentSize: 10_000 });
  const anchorSeconds = secondsSince(anchorStart);
  const verifyStart = performance.now();
  const verified = await verifyRange(stored, anchor, 1n, BigInt(await stored.headPosition()));
  const verifySeconds = secondsSince(verifyStart);
  if (!verified.ok || verified.events !== n) throw new Error(`audit verify did not verify ${n} events: ${JSON.stringify(verified, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}`);
  log(`  anchored ${segments.length} segments in ${round1(anchorSeconds)} s, verified in ${round1(verifySeconds)} s`);

  process.stdout.write(
    `${JSON.stringify({
      bench: 'rewards',
      cpus: cpus().length,
      accruals: options.accruals,
      accruals_per_s_ledger_projection: Math.round(accrualsPerS),
      withdrawals: options.withdrawals,
      withdrawals_settled_per_s_in_process_chain: round1(withdrawalsPerS),
      ledger_events: n,
      ledger_events_written_per_s: Math.round(n / writeSeconds),
      replay_and_check_s: round3(replaySeconds),
      audit_anchor_s: round3(anchorSeconds),
      audit_segments: segments.length,
      audit_verify_s: round3(verifySeconds),
      replay_and_verify_s: round3(replaySeconds + verifySeconds),
    })}\n`,
  );
}

runBench(parse, USAGE, main);
