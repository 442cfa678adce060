import { DomainError } from '@weai/decider';

/** 100 % in basis points. */
export const BPS = 10_000n;
/** `workMicroUnits × rate / 10^12`: millionths of a unit (10^6) times a rate per million units (10^6). */
const MICRO_UNITS_PER_MILLION_UNITS = 10n ** 12n;

/** The reward policy in force, from configuration. */
export interface RewardPolicy {
  /** Base units paid per million work units (one work unit: one millisecond at benchmark score 1). */
  readonly ratePerMillionUnits: bigint;
  /** Platform fee, basis points of the gross reward. */
  readonly platformFeeBps: number;
  /** Revenue share of a job's partner, basis points of the gross reward, by partner id; absent: none. */
  readonly partnerShareBps: Readonly<Record<string, number>>;
}

/** The terms one accrual is computed with: the policy as it applies to one job's partner. */
export interface AccrualTerms {
  readonly ratePerMillionUnits: bigint;
  readonly platformFeeBps: number;
  readonly partnerShareBps: number;
}

/** The work a node did for one validated shard. */
export interface Work {
  /** Compute time the scheduler accepted, milliseconds (a measurement, so a float). */
  readonly computeMs: number;
  /** The node's benchmark score (throughput on the reference model, higher is faster). */
  readonly benchmarkScore: number;
}

/** An accrual, in base units: `owner + platformFee + partnerShare = gross`. */
export interface Accrual {
  readonly workMicroUnits: bigint;
  readonly gross: bigint;
  readonly owner: bigint;
  readonly platformFee: bigint;
  readonly partnerShare: bigint;
}

/** The terms for a job of `partnerId`; throws when fee and share together exceed 100 %. */
export function termsFor(policy: RewardPolicy, partnerId: string): AccrualTerms {
  const terms = { ratePerMillionUnits: policy.ratePerMillionUnits, platformFeeBps: policy.platformFeeBps, partnerShareBps: policy.partnerShareBps[partnerId] ?? 0 };
  checkTerms(terms);
  return terms;
}

function checkTerms(t: AccrualTerms): void {
  const bps = (n: number) => Number.isInteger(n) && n >= 0 && n <= 10_000;
  if (t.ratePerMillionUnits < 0n) throw new DomainError('the reward rate must not be negative', 'rewards.bad-terms');
  if (!bps(t.platformFeeBps) || !bps(t.partnerShareBps) || t.platformFeeBps + t.partnerShareBps > 10_000) {
    throw new DomainError(`fee ${t.platformFeeBps} bps and share ${t.partnerShareBps} bps must be integers that sum to at most 10000`, 'rewards.bad-terms');
  }
}

/** Thousandths of `x`, rounded half up: the one place a measurement becomes an integer. */
function thousandths(x: number, what: string): bigint {
  const n = Math.round(x * 1000);
  if (!Number.isSafeInteger(n) || n < 0) throw new DomainError(`${what} ${x} is out of range`, 'rewards.bad-work');
  return BigInt(n);
}

/**
 * Work done, in millionths of a work unit: compute time × benchmark score, each first rounded to
 * thousandths. Paying by time × speed means a node twice as fast, done in half the time, earns
 * the same for the same work: pay per unit of work does not depend on the node's speed.
 */
export function workMicroUnits(work: Work): bigint {
  return thousandths(work.computeMs, 'computeMs') * thousandths(work.benchmarkScore, 'benchmarkScore');
}

/**
 * The accrual for some work under some terms, in integer base units:
 * - gross = floor(workMicroUnits × rate / 10^12) (that is, floor(work units × rate / 10^6)); the
 *   fraction of a base unit left over is never issued (it stays in the treasury);
 * - platformFee = floor(gross × feeBps / 10^4), partnerShare = floor(gross × shareBps / 10^4);
 * - owner = gross − platformFee − partnerShare, so the owner receives the rounding remainders
 *   of the fee and the share, and the three parts sum to the gross exactly.
 */
export function accrue(work: Work, terms: AccrualTerms): Accrual {
  checkTerms(terms);
  const units = workMicroUnits(work);
  const gross = (units * terms.ratePerMillionUnits) / MICRO_UNITS_PER_MILLION_UNITS;
  const platformFee = (gross * BigInt(terms.platformFeeBps)) / BPS;
  const partnerShare = (gross * BigInt(terms.partnerShareBps)) / BPS;
  return { workMicroUnits: units, gross, owner: gross - platformFee - partnerShare, platformFee, partnerShare };
}
