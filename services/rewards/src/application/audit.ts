import type { RewardsFamilyEvent } from '@weai/contracts';
import type { EventStore } from '@weai/eventstore';
import { LedgerAuditor, type LedgerReplay, compareBalances } from '../domain/ledger-check';
import { sumOf } from '../domain/ledger';
import type { LedgerQueries } from './ledger.read-model';

/** What the operator check found. */
export interface AuditReport {
  /** No rule broken and the live balances equal the replay's. */
  readonly ok: boolean;
  /** Events replayed, and the store position of the last one. */
  readonly events: number;
  readonly headPosition: number;
  /** The store position the live ledger (the projection) has applied. */
  readonly livePosition: number;
  /** Balances replayed from the whole log, decimal. */
  readonly balances: Record<string, string>;
  /** Sum over all accounts of the replay: "0" in a sound ledger. */
  readonly sum: string;
  /** Accounts whose live balance differs from the replay up to the live position. */
  readonly mismatches: ReadonlyArray<{ account: string; expected: string; actual: string }>;
  readonly violations: readonly string[];
}

/**
 * Replays the service's own store from the start with the ledger's rules and compares the live
 * projection with the replay at the very position the projection stands at, so a projection that
 * lags is not a mismatch but one that drifted is.
 */
export class LedgerAudit {
  constructor(
    private readonly store: EventStore,
    private readonly queries: LedgerQueries,
  ) {}

  async check(): Promise<AuditReport> {
    const live = await this.queries.snapshot();
    const auditor = new LedgerAuditor();
    let atLive: LedgerReplay | undefined;
    for (let from = 0; ; ) {
      const page = await this.store.readAll(from, 1000);
      for (const e of page) {
        if (!atLive && e.position > live.position) atLive = auditor.result();
        auditor.apply({ position: e.position, event: e as unknown as RewardsFamilyEvent });
      }
      if (page.length < 1000) break;
      from = page[page.length - 1]!.position;
    }
    const replay = auditor.result();
    const mismatches = compareBalances((atLive ?? replay).balances, live.balances);
    return {
      ok: replay.violations.length === 0 && mismatches.length === 0,
      events: replay.events,
      headPosition: replay.position,
      livePosition: live.position,
      balances: Object.fromEntries([...replay.balances].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, String(v)])),
      sum: String(sumOf(replay.balances)),
      mismatches,
      violations: replay.violations,
    };
  }
}
