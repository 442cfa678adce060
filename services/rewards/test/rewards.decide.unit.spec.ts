import { DeciderSpecification, DomainError } from '@weai/decider';
import type { CommandMetadata } from '@weai/eventstore';
import type { OwnerEvent } from '../src/domain/owner';
import { type OwnerCommand, ownerDecider } from '../src/domain/owner.decide';
import { type AccrualTerms, accrue, termsFor, workMicroUnits } from '../src/domain/policy';

const metadata: CommandMetadata = { commandId: 'c', correlationId: 'c', causationId: 'c', now: '2026-11-25T10:00:00.000Z' };
const em = { eventId: '00000000-0000-4000-8000-000000000000', correlationId: 'c', causationId: 'c', occurredAt: metadata.now };
const ev = (type: OwnerEvent['type'], data: object) => ({ type, data, metadata: em }) as OwnerEvent;
const out = (type: OwnerEvent['type'], data: object) => ({ type, data }) as unknown as OwnerEvent;
const cmd = (c: Omit<OwnerCommand, 'metadata'>) => ({ ...c, metadata }) as OwnerCommand;

const spec = DeciderSpecification.for(ownerDecider);
const RATE = 10n ** 15n + 7n;
const terms: AccrualTerms = { ratePerMillionUnits: RATE, platformFeeBps: 333, partnerShareBps: 125 };
const address = `0x${'ab'.repeat(20)}`;
const accrueCmd = (computeMs: number, benchmarkScore: number, t: AccrualTerms = terms, nodeId = 'n1') =>
  cmd({ type: 'AccrueReward', data: { ownerId: 'o1', nodeId, jobId: 'j1', shardId: 'j1-0', partnerId: 'p1', work: { computeMs, benchmarkScore }, terms: t } });
const accrued = (amount: bigint) => ev('RewardAccrued', { ownerId: 'o1', nodeId: 'n1', jobId: 'j1', shardId: 'j1-0', amount: String(amount), platformFee: '0' });
const request = (amount: bigint, withdrawalId = 'w1', over: Partial<Extract<OwnerCommand, { type: 'RequestWithdrawal' }>['data']> = {}) =>
  cmd({ type: 'RequestWithdrawal', data: { ownerId: 'o1', withdrawalId, amount, minimum: 10n, payoutAddress: address, nonce: '42', deadline: '1800000000', ...over } });
const requested = (amount: bigint, withdrawalId = 'w1') =>
  ev('WithdrawalRequested', { withdrawalId, ownerId: 'o1', amount: String(amount), payoutAddress: address, nonce: '42', deadline: '1800000000' });
const TX = `0x${'11'.repeat(32)}`;
const BLOCK = `0x${'22'.repeat(32)}`;
const settledOut = (amount: bigint) => out('WithdrawalSettled', { withdrawalId: 'w1', ownerId: 'o1', amount: String(amount), txHash: TX, nonce: '42', blockNumber: 7, blockHash: BLOCK });
const settle = cmd({ type: 'SettleWithdrawal', data: { withdrawalId: 'w1', txHash: TX, blockNumber: 7, blockHash: BLOCK } });
const fail = cmd({ type: 'FailWithdrawal', data: { withdrawalId: 'w1', reason: 'voucher expired', checkedAtBlock: 9 } });

describe('reward policy', () => {
  it('computes in integers: work rounded to thousandths, gross floored, fee and share floored, the owner gets the remainders', () => {
    // round(1234.5678 × 1000) × round(87.6543 × 1000) = 1234568 × 87654
    expect(workMicroUnits({ computeMs: 1234.5678, benchmarkScore: 87.6543 })).toBe(108_214_823_472n);
    const a = accrue({ computeMs: 1234.5678, benchmarkScore: 87.6543 }, terms);
    // gross = floor(108214823472 × (10^15 + 7) / 10^12); 757503764304 / 10^12 of a base unit stays in the treasury
    expect(a.gross).toBe(108_214_823_472_000n);
    expect(a.platformFee).toBe(3_603_553_621_617n); // floor(gross × 333 / 10^4), remainder 6000 / 10^4
    expect(a.partnerShare).toBe(1_352_685_293_400n); // exact
    expect(a.owner).toBe(103_258_584_556_983n);
    expect(a.owner + a.platformFee + a.partnerShare).toBe(a.gross);
  });

  it('pays a fast node and a slow node the same per unit of work', () => {
    const fast = accrue({ computeMs: 500, benchmarkScore: 200 }, terms);
    const slow = accrue({ computeMs: 2000, benchmarkScore: 50 }, terms);
    expect(fast.workMicroUnits).toBe(slow.workMicroUnits);
    expect(fast).toEqual(slow);
    // Twice the work, twice the pay, up to the flooring of each: 2 × floor(x) <= floor(2x) <= 2 × floor(x) + 1.
    const twice = accrue({ computeMs: 1000, benchmarkScore: 200 }, terms);
    expect(twice.gross - 2n * fast.gross).toBe(1n);
  });

  it('keeps amounts exact far beyond what a float holds', () => {
    const a = accrue({ computeMs: 3_600_000, benchmarkScore: 1234.567 }, { ratePerMillionUnits: 10n ** 30n + 1n, platformFeeBps: 0, partnerShareBps: 0 });
    expect(a.gross).toBe((3_600_000_000n * 1_234_567n * (10n ** 30n + 1n)) / 10n ** 12n);
  });

  it('applies the partner share only to partners that have one, and refuses fee + share above 100 %', () => {
    const policy = { ratePerMillionUnits: RATE, platformFeeBps: 1000, partnerShareBps: { p1: 500 } };
    expect(termsFor(policy, 'p1').partnerShareBps).toBe(500);
    expect(termsFor(policy, 'p2').partnerShareBps).toBe(0);
    expect(() => termsFor({ ...policy, partnerShareBps: { p1: 9001 } }, 'p1')).toThrow(/at most 10000/);
    expect(() => accrue({ computeMs: 1, benchmarkScore: 1 }, { ...terms, platformFeeBps: 1.5 })).toThrow(DomainError);
  });
});

describe('owner ledger decider', () => {
  describe('accrual', () => {
    it('records the owner amount, the fee, the partner share and the basis they follow from', () => {
      spec.given([]).when(accrueCmd(1234.5678, 87.6543)).then([
        out('RewardAccrued', {
          ownerId: 'o1',
          nodeId: 'n1',
          jobId: 'j1',
          shardId: 'j1-0',
          amount: '103258584556983',
          platformFee: '3603553621617',
          partnerId: 'p1',
          partnerShare: '1352685293400',
          basis: { computeMs: 1234.5678, benchmarkScore: 87.6543, workMicroUnits: '108214823472', ratePerMillionUnits: String(RATE), platformFeeBps: 333, partnerShareBps: 125 },
        }),
      ]);
    });

    it('records nothing for work that earns nothing (no compute time)', () => {
      spec.given([]).when(accrueCmd(0, 100)).then([]);
    });
  });

  describe('balance rules', () => {
    it('holds a withdrawal of at most the available balance in flight', () => {
      spec.given([accrued(100n)]).when(request(100n)).then([
        out('WithdrawalRequested', { withdrawalId: 'w1', ownerId: 'o1', amount: '100', payoutAddress: address, nonce: '42', deadline: '1800000000' }),
      ]);
    });

    it('refuses more than the available balance, counting what is already in flight', () => {
      spec.given([accrued(100n)]).when(request(101n)).thenThrows(DomainError, /available balance is 100/);
      spec.given([accrued(100n), requested(60n, 'w0')]).when(request(50n)).thenThrows(DomainError, /available balance is 40/);
      spec.given([]).when(request(50n)).thenThrows(DomainError, /available balance is 0/);
    });

    it('refuses a withdrawal below the minimum, of nothing, or without a payout address', () => {
      spec.given([accrued(100n)]).when(request(9n)).thenThrows(DomainError, /smallest withdrawal is 10/);
      spec.given([accrued(100n)]).when(request(0n, 'w1', { minimum: 0n })).thenThrows(DomainError, /positive amount/);
      spec.given([accrued(100n)]).when(request(50n, 'w1', { payoutAddress: undefined })).thenThrows(DomainError, /no payout address/);
    });

    it('releases failed withdrawals back to the balance, and keeps settled ones out of it', () => {
      const failed = ev('WithdrawalFailed', { withdrawalId: 'w1', ownerId: 'o1', amount: '100', reason: 'expired' });
      spec.given([accrued(100n), requested(100n), failed]).when(request(100n, 'w2')).then([
        out('WithdrawalRequested', { withdrawalId: 'w2', ownerId: 'o1', amount: '100', payoutAddress: address, nonce: '42', deadline: '1800000000' }),
      ]);
      const settled = ev('WithdrawalSettled', { withdrawalId: 'w1', ownerId: 'o1', amount: '100', txHash: TX, nonce: '42', blockNumber: 7, blockHash: BLOCK });
      spec.given([accrued(100n), requested(100n), settled]).when(request(10n, 'w2')).thenThrows(DomainError, /available balance is 0/);
    });
  });

  describe('withdrawal states', () => {
    it('takes the same withdrawal id again as the same withdrawal, whatever its state; another amount under it is refused', () => {
      spec.given([accrued(100n), requested(60n)]).when(request(60n)).then([]);
      spec.given([accrued(100n), requested(60n), ev('WithdrawalFailed', { withdrawalId: 'w1', ownerId: 'o1', amount: '60', reason: 'x' })]).when(request(60n)).then([]);
      spec.given([accrued(100n), requested(60n)]).when(request(30n)).thenThrows(DomainError, /requested for 60, not 30/);
    });

    it('records each transaction that carries the voucher once, and none after the withdrawal closed', () => {
      const submit = cmd({ type: 'RecordSubmission', data: { withdrawalId: 'w1', txHash: TX } });
      spec.given([accrued(100n), requested(100n)]).when(submit).then([out('WithdrawalSubmitted', { withdrawalId: 'w1', ownerId: 'o1', nonce: '42', txHash: TX })]);
      spec.given([accrued(100n), requested(100n), ev('WithdrawalSubmitted', { withdrawalId: 'w1', ownerId: 'o1', nonce: '42', txHash: TX })]).when(submit).then([]);
    });

    it('settles a requested withdrawal once', () => {
      spec.given([accrued(100n), requested(100n)]).when(settle).then([settledOut(100n)]);
      spec.given([accrued(100n), requested(100n), { ...settledOut(100n), metadata: em } as OwnerEvent]).when(settle).then([]);
    });

    it('fails a requested withdrawal once, releasing its amount', () => {
      spec.given([accrued(100n), requested(100n)]).when(fail).then([
        out('WithdrawalFailed', { withdrawalId: 'w1', ownerId: 'o1', amount: '100', reason: 'voucher expired', checkedAtBlock: 9 }),
      ]);
    });

    it('never settles a released withdrawal nor releases a paid one', () => {
      const failed = ev('WithdrawalFailed', { withdrawalId: 'w1', ownerId: 'o1', amount: '100', reason: 'expired' });
      spec.given([accrued(100n), requested(100n), failed]).when(settle).thenThrows(DomainError, /released but is paid/);
      spec.given([accrued(100n), requested(100n), { ...settledOut(100n), metadata: em } as OwnerEvent]).when(fail).thenThrows(DomainError, /cannot fail/);
    });

    it('knows nothing of a withdrawal never requested', () => {
      spec.given([accrued(100n)]).when(settle).thenThrows(DomainError, /no withdrawal w1/);
    });
  });
});
