import type { RewardsFamilyEvent } from '@weai/contracts';
import { compareBalances, replayLedger, type LoggedEvent } from '../src/domain/ledger-check';
import { CHAIN, IN_FLIGHT, PLATFORM_FEES, TREASURY, postingsOf, sumOf } from '../src/domain/ledger';

const em = { eventId: '00000000-0000-4000-8000-000000000000', correlationId: 'c', causationId: 'c', occurredAt: '2026-11-25T10:00:00.000Z' };
const ev = (type: RewardsFamilyEvent['type'], data: object) => ({ type, data, metadata: em }) as RewardsFamilyEvent;
const TX = `0x${'11'.repeat(32)}`;
const address = `0x${'ab'.repeat(20)}`;
const basis = { computeMs: 500, benchmarkScore: 200, workMicroUnits: '100000000000', ratePerMillionUnits: '1000000000000000', platformFeeBps: 1000, partnerShareBps: 500 };
// gross = 10^11 × 10^15 / 10^12 = 10^14; fee 10 %, share 5 %
const accrued = (ownerId: string) =>
  ev('RewardAccrued', { ownerId, nodeId: 'n', jobId: 'j', shardId: 's', amount: '85000000000000', platformFee: '10000000000000', partnerId: 'p1', partnerShare: '5000000000000', basis });
const requested = (ownerId: string, amount: string, withdrawalId = 'w1') =>
  ev('WithdrawalRequested', { withdrawalId, ownerId, amount, payoutAddress: address, nonce: '1', deadline: '2' });
const settled = (ownerId: string, amount: string, withdrawalId = 'w1') =>
  ev('WithdrawalSettled', { withdrawalId, ownerId, amount, txHash: TX, nonce: '1', blockNumber: 3, blockHash: TX });
const failed = (ownerId: string, amount: string, withdrawalId = 'w1') => ev('WithdrawalFailed', { withdrawalId, ownerId, amount, reason: 'expired' });
const log = (...events: RewardsFamilyEvent[]): LoggedEvent[] => events.map((event, i) => ({ position: i + 1, event }));

describe('ledger postings', () => {
  it('funds an accrual from the treasury: owner, fee and partner share', () => {
    expect(postingsOf(accrued('o1'))).toEqual([
      { debit: TREASURY, credit: 'owner:o1', amount: 85_000_000_000_000n },
      { debit: TREASURY, credit: PLATFORM_FEES, amount: 10_000_000_000_000n },
      { debit: TREASURY, credit: 'partner-share:p1', amount: 5_000_000_000_000n },
    ]);
  });

  it('moves a withdrawal from the owner to in flight, then to the chain or back to the owner', () => {
    expect(postingsOf(requested('o1', '7'))).toEqual([{ debit: 'owner:o1', credit: IN_FLIGHT, amount: 7n }]);
    expect(postingsOf(settled('o1', '7'))).toEqual([{ debit: IN_FLIGHT, credit: CHAIN, amount: 7n }]);
    expect(postingsOf(failed('o1', '7'))).toEqual([{ debit: IN_FLIGHT, credit: 'owner:o1', amount: 7n }]);
  });

  it('posts nothing for zero amounts', () => {
    expect(postingsOf(ev('RewardAccrued', { ownerId: 'o', nodeId: 'n', jobId: 'j', shardId: 's', amount: '5', platformFee: '0' }))).toHaveLength(1);
  });
});

describe('ledger replay and invariants', () => {
  it('sums to zero at every position and ends with the expected balances', () => {
    const events = log(accrued('o1'), accrued('o2'), requested('o1', '85000000000000'), requested('o2', '1000', 'w2'), settled('o1', '85000000000000'), failed('o2', '1000', 'w2'));
    for (let n = 1; n <= events.length; n++) {
      const replay = replayLedger(events.slice(0, n));
      expect(replay.violations).toEqual([]);
      expect(sumOf(replay.balances)).toBe(0n);
    }
    const { balances, position } = replayLedger(events);
    expect(position).toBe(6);
    expect(Object.fromEntries(balances)).toEqual({
      [TREASURY]: -200_000_000_000_000n,
      'owner:o1': 0n,
      'owner:o2': 85_000_000_000_000n,
      [PLATFORM_FEES]: 20_000_000_000_000n,
      'partner-share:p1': 10_000_000_000_000n,
      [IN_FLIGHT]: 0n,
      [CHAIN]: 85_000_000_000_000n,
    });
  });

  it('rebuilds identical balances from the same log', () => {
    const events = log(accrued('o1'), requested('o1', '5'), accrued('o1'), settled('o1', '5'));
    expect(compareBalances(replayLedger(events).balances, replayLedger(events).balances)).toEqual([]);
  });

  it('names overdrafts, double settlements, amounts that differ and accruals that do not follow from their basis', () => {
    const bad = replayLedger(
      log(
        accrued('o1'),
        requested('o1', '90000000000000'),
        settled('o1', '90000000000000'),
        settled('o1', '90000000000000'),
        failed('o1', '1', 'w9'),
        ev('RewardAccrued', { ownerId: 'o1', nodeId: 'n', jobId: 'j', shardId: 's2', amount: '86000000000000', platformFee: '9000000000000', partnerId: 'p1', partnerShare: '5000000000000', basis }),
      ),
    );
    expect(bad.violations).toEqual([
      'position 2 (WithdrawalRequested): owner:o1 is overdrawn (-5000000000000)',
      'position 4 (WithdrawalSettled): withdrawals:in-flight is overdrawn (-90000000000000)',
      'position 4 (WithdrawalSettled): withdrawal o1/w1 settled while settled',
      'position 5 (WithdrawalFailed): withdrawals:in-flight is overdrawn (-90000000000001)',
      'position 5 (WithdrawalFailed): withdrawal o1/w9 failed while unknown',
      'position 6 (RewardAccrued): owner/fee/share/work 86000000000000/9000000000000/5000000000000/100000000000 does not follow from its basis (85000000000000/10000000000000/5000000000000/100000000000)',
      'withdrawals:in-flight holds -90000000000001, open withdrawals 0',
      'chain holds 180000000000000, settled withdrawals 90000000000000',
    ]);
  });

  it('compares balances account by account, a missing account counting as zero', () => {
    const a = new Map([['x', 1n], ['y', 0n]]);
    const b = new Map([['x', 2n], ['z', 0n]]);
    expect(compareBalances(a, b)).toEqual([{ account: 'x', expected: '1', actual: '2' }]);
  });
});
