import type { RewardsFamilyEvent } from '@weai/contracts';
import { assertNever } from '@weai/decider';
import { type Balances, CHAIN, IN_FLIGHT, TREASURY, applyPostings, postingsOf, sumOf } from './ledger';
import { accrue } from './policy';

/** An event of the rewards log with its position in the store's global log. */
export interface LoggedEvent {
  readonly position: number;
  readonly event: RewardsFamilyEvent;
}

/** What a replay of the log found. */
export interface LedgerReplay {
  /** Position of the last event replayed; 0 for none. */
  readonly position: number;
  readonly events: number;
  readonly balances: Balances;
  /** Broken rules, each naming the position; empty for a sound ledger. */
  readonly violations: string[];
}

interface Open {
  readonly amount: bigint;
  status: 'requested' | 'settled' | 'failed';
}

/**
 * Replays rewards events and checks the ledger's rules at every position: the sum over all
 * accounts is zero; only the treasury goes below zero; every accrual's parts sum to its gross
 * and match its recorded basis; a withdrawal is requested once, then settled or failed at most
 * once for the same amount; in the end the in-flight account holds exactly the open
 * withdrawals and the chain account exactly the settled ones.
 */
export class LedgerAuditor {
  private readonly balances: Balances = new Map();
  private readonly withdrawals = new Map<string, Open>();
  private readonly violations: string[] = [];
  private position = 0;
  private events = 0;

  apply({ position, event }: LoggedEvent): void {
    const at = `position ${position} (${event.type})`;
    if (position <= this.position) this.violations.push(`${at}: not after position ${this.position}`);
    this.position = position;
    this.events++;
    const postings = postingsOf(event);
    for (const p of postings) if (p.debit === p.credit || p.amount <= 0n) this.violations.push(`${at}: posting ${p.debit} → ${p.credit} of ${p.amount}`);
    applyPostings(this.balances, postings);
    const sum = sumOf(this.balances);
    if (sum !== 0n) this.violations.push(`${at}: accounts sum to ${sum}, not 0`);
    for (const p of postings) {
      const balance = this.balances.get(p.debit) ?? 0n;
      if (p.debit !== TREASURY && balance < 0n) this.violations.push(`${at}: ${p.debit} is overdrawn (${balance})`);
    }
    this.checkEvent(at, event);
  }

  private checkEvent(at: string, event: RewardsFamilyEvent): void {
    const key = `${event.data.ownerId}/${'withdrawalId' in event.data ? event.data.withdrawalId : ''}`;
    const w = this.withdrawals.get(key);
    switch (event.type) {
      case 'RewardAccrued': {
        const d = event.data;
        if (!d.basis) return;
        const b = d.basis;
        const a = accrue(b, { ratePerMillionUnits: BigInt(b.ratePerMillionUnits), platformFeeBps: b.platformFeeBps, partnerShareBps: b.partnerShareBps });
        const recorded = [d.amount, d.platformFee, d.partnerShare ?? '0', b.workMicroUnits].join('/');
        const expected = [a.owner, a.platformFee, a.partnerShare, a.workMicroUnits].join('/');
        if (recorded !== expected) this.violations.push(`${at}: owner/fee/share/work ${recorded} does not follow from its basis (${expected})`);
        return;
      }
      case 'WithdrawalRequested':
        if (w) this.violations.push(`${at}: withdrawal ${key} requested twice`);
        else this.withdrawals.set(key, { amount: BigInt(event.data.amount), status: 'requested' });
        return;
      case 'WithdrawalSubmitted':
        if (w?.status !== 'requested') this.violations.push(`${at}: withdrawal ${key} submitted while ${w?.status ?? 'unknown'}`);
        return;
      case 'WithdrawalSettled':
      case 'WithdrawalFailed':
        if (w?.status !== 'requested') this.violations.push(`${at}: withdrawal ${key} ${event.type === 'WithdrawalSettled' ? 'settled' : 'failed'} while ${w?.status ?? 'unknown'}`);
        else if (w.amount !== BigInt(event.data.amount)) this.violations.push(`${at}: withdrawal ${key} closed for ${event.data.amount}, requested ${w.amount}`);
        else w.status = event.type === 'WithdrawalSettled' ? 'settled' : 'failed';
        return;
      default:
        return assertNever(event, 'rewards event');
    }
  }

  /** The replay so far, with the end-of-log rules checked. */
  result(): LedgerReplay {
    const violations = [...this.violations];
    const total = (status: Open['status']) => [...this.withdrawals.values()].filter((w) => w.status === status).reduce((s, w) => s + w.amount, 0n);
    const inFlight = this.balances.get(IN_FLIGHT) ?? 0n;
    const chain = this.balances.get(CHAIN) ?? 0n;
    if (inFlight !== total('requested')) violations.push(`${IN_FLIGHT} holds ${inFlight}, open withdrawals ${total('requested')}`);
    if (chain !== total('settled')) violations.push(`${CHAIN} holds ${chain}, settled withdrawals ${total('settled')}`);
    return { position: this.position, events: this.events, balances: new Map(this.balances), violations };
  }
}

/** Replays events from the start of the log. */
export function replayLedger(events: Iterable<LoggedEvent>): LedgerReplay {
  const auditor = new LedgerAuditor();
  for (const e of events) auditor.apply(e);
  return auditor.result();
}

/** Accounts whose balances differ (a missing account counts as zero), sorted by account. */
export function compareBalances(expected: ReadonlyMap<string, bigint>, actual: ReadonlyMap<string, bigint>): Array<{ account: string; expected: string; actual: string }> {
  const accounts = [...new Set([...expected.keys(), ...actual.keys()])].sort();
  return accounts
    .filter((a) => (expected.get(a) ?? 0n) !== (actual.get(a) ?? 0n))
    .map((account) => ({ account, expected: String(expected.get(account) ?? 0n), actual: String(actual.get(account) ?? 0n) }));
}
