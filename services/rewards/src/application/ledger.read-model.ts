import { EntitySchema, In, type DataSource, type EntityManager, type MigrationInterface, type QueryRunner } from 'typeorm';
import { type RewardsFamilyEvent, streamOfFamily } from '@weai/contracts';
import { assertNever } from '@weai/decider';
import { type Projection, type ReceivedEvent, readCheckpoint } from '@weai/messaging';
import { type Balances, ownerAccount, postingsOf } from '../domain/ledger';

/** One account's balance; a decimal string (credits minus debits, may be negative for the treasury). */
export interface AccountRow {
  account: string;
  balance: string;
}

/** One posting of the journal: the ledger's history. */
export interface PostingRow {
  position: number;
  seq: number;
  eventId: string;
  eventType: string;
  debit: string;
  credit: string;
  amount: string;
  /** What it is for: `job <jobId> shard <shardId> node <nodeId>` or `withdrawal <id>`. */
  reference: string;
  occurredAt: string;
}

/** A withdrawal as owners and operators see it. */
export interface WithdrawalRow {
  ownerId: string;
  withdrawalId: string;
  amount: string;
  payoutAddress: string;
  status: 'requested' | 'submitted' | 'settled' | 'failed';
  txHash: string | null;
  blockNumber: number | null;
  reason: string | null;
  requestedAt: string;
  updatedAt: string;
}

const bigintColumn = { type: 'bigint' as const, transformer: { to: (v: number) => v, from: (v: string | number) => Number(v) } };

export const AccountEntity = new EntitySchema<AccountRow>({
  name: 'RewardAccount',
  tableName: 'rewards_accounts',
  columns: {
    account: { type: String, primary: true, length: 160 },
    balance: { type: String, length: 80 },
  },
});

export const PostingEntity = new EntitySchema<PostingRow>({
  name: 'RewardPosting',
  tableName: 'rewards_postings',
  columns: {
    position: { ...bigintColumn, primary: true },
    seq: { type: Number, primary: true },
    eventId: { type: String, name: 'event_id', length: 36 },
    eventType: { type: String, name: 'event_type', length: 64 },
    debit: { type: String, length: 160 },
    credit: { type: String, length: 160 },
    amount: { type: String, length: 80 },
    reference: { type: String, length: 400 },
    occurredAt: { type: String, name: 'occurred_at', length: 32 },
  },
});

export const WithdrawalEntity = new EntitySchema<WithdrawalRow>({
  name: 'RewardWithdrawal',
  tableName: 'rewards_withdrawals',
  columns: {
    ownerId: { type: String, primary: true, name: 'owner_id', length: 128 },
    withdrawalId: { type: String, primary: true, name: 'withdrawal_id', length: 128 },
    amount: { type: String, length: 80 },
    payoutAddress: { type: String, name: 'payout_address', length: 42 },
    status: { type: String, length: 16 },
    txHash: { type: String, name: 'tx_hash', length: 66, nullable: true },
    blockNumber: { ...bigintColumn, name: 'block_number', nullable: true },
    reason: { type: String, length: 1024, nullable: true },
    requestedAt: { type: String, name: 'requested_at', length: 32 },
    updatedAt: { type: String, name: 'updated_at', length: 32 },
  },
});

export class CreateRewardsLedger1764500000001 implements MigrationInterface {
  async up(q: QueryRunner): Promise<void> {
    await q.query('CREATE TABLE rewards_accounts (account VARCHAR(160) PRIMARY KEY, balance VARCHAR(80) NOT NULL)');
    await q.query(`CREATE TABLE rewards_postings (position BIGINT NOT NULL, seq INTEGER NOT NULL, event_id VARCHAR(36) NOT NULL,
      event_type VARCHAR(64) NOT NULL, debit VARCHAR(160) NOT NULL, credit VARCHAR(160) NOT NULL, amount VARCHAR(80) NOT NULL,
      reference VARCHAR(400) NOT NULL, occurred_at VARCHAR(32) NOT NULL, PRIMARY KEY (position, seq))`);
    await q.query('CREATE INDEX rewards_postings_debit ON rewards_postings (debit, position)');
    await q.query('CREATE INDEX rewards_postings_credit ON rewards_postings (credit, position)');
    await q.query(`CREATE TABLE rewards_withdrawals (owner_id VARCHAR(128) NOT NULL, withdrawal_id VARCHAR(128) NOT NULL,
      amount VARCHAR(80) NOT NULL, payout_address VARCHAR(42) NOT NULL, status VARCHAR(16) NOT NULL, tx_hash VARCHAR(66),
      block_number BIGINT, reason VARCHAR(1024), requested_at VARCHAR(32) NOT NULL, updated_at VARCHAR(32) NOT NULL,
      PRIMARY KEY (owner_id, withdrawal_id))`);
  }
  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE rewards_withdrawals');
    await q.query('DROP TABLE rewards_postings');
    await q.query('DROP TABLE rewards_accounts');
  }
}

function referenceOf(e: RewardsFamilyEvent): string {
  return e.type === 'RewardAccrued' ? `job ${e.data.jobId} shard ${e.data.shardId} node ${e.data.nodeId}` : `withdrawal ${e.data.withdrawalId}`;
}

async function applyWithdrawal(e: RewardsFamilyEvent, em: EntityManager): Promise<void> {
  const repo = em.getRepository(WithdrawalEntity);
  const at = e.metadata.occurredAt;
  switch (e.type) {
    case 'RewardAccrued':
      return;
    case 'WithdrawalRequested': {
      const { ownerId, withdrawalId, amount, payoutAddress } = e.data;
      await repo.upsert({ ownerId, withdrawalId, amount, payoutAddress, status: 'requested', txHash: null, blockNumber: null, reason: null, requestedAt: at, updatedAt: at }, ['ownerId', 'withdrawalId']);
      return;
    }
    case 'WithdrawalSubmitted':
      await repo.update({ ownerId: e.data.ownerId, withdrawalId: e.data.withdrawalId, status: In(['requested', 'submitted']) }, { status: 'submitted', txHash: e.data.txHash, updatedAt: at });
      return;
    case 'WithdrawalSettled':
      await repo.update({ ownerId: e.data.ownerId, withdrawalId: e.data.withdrawalId }, { status: 'settled', txHash: e.data.txHash, blockNumber: e.data.blockNumber, updatedAt: at });
      return;
    case 'WithdrawalFailed':
      await repo.update({ ownerId: e.data.ownerId, withdrawalId: e.data.withdrawalId }, { status: 'failed', reason: e.data.reason, updatedAt: at });
      return;
    default:
      return assertNever(e, 'rewards event');
  }
}

/**
 * The ledger read model: balances, the journal of postings and the withdrawals, fed from the
 * service's own stream. Postings come from `postingsOf`, the same rules the invariant check
 * replays with; the runner stores its checkpoint in the same transaction, so balances are
 * always those of exactly the log up to the checkpoint's store position.
 */
export const ledgerProjection: Projection = {
  name: 'rewards-ledger',
  streams: [streamOfFamily('rewards')],
  async apply({ event, envelope }: ReceivedEvent, em: EntityManager) {
    const e = event as RewardsFamilyEvent;
    const postings = postingsOf(e);
    const accounts = em.getRepository(AccountEntity);
    for (const p of postings) {
      for (const [account, delta] of [[p.debit, -p.amount], [p.credit, p.amount]] as const) {
        const row = await accounts.findOneBy({ account });
        await accounts.upsert({ account, balance: String(BigInt(row?.balance ?? '0') + delta) }, ['account']);
      }
    }
    if (postings.length > 0) {
      await em.getRepository(PostingEntity).insert(
        postings.map((p, seq) => ({ position: envelope.position, seq, eventId: e.metadata.eventId, eventType: e.type, debit: p.debit, credit: p.credit, amount: String(p.amount), reference: referenceOf(e), occurredAt: e.metadata.occurredAt })),
      );
    }
    await applyWithdrawal(e, em);
  },
};

/** Queries of the ledger read model. */
export class LedgerQueries {
  constructor(private readonly readModel: DataSource) {}

  /**
   * Every balance with the store position they reflect. The checkpoint is read before and after
   * the balances, and the read repeated if the projection committed in between, so the two belong together.
   */
  async snapshot(): Promise<{ position: number; balances: Balances }> {
    for (;;) {
      const before = await readCheckpoint(this.readModel, ledgerProjection.name, streamOfFamily('rewards'));
      const rows = await this.readModel.getRepository(AccountEntity).find();
      const after = await readCheckpoint(this.readModel, ledgerProjection.name, streamOfFamily('rewards'));
      if (before.storePosition === after.storePosition) return { position: after.storePosition, balances: new Map(rows.map((r) => [r.account, BigInt(r.balance)])) };
    }
  }

  /** One owner's balances and withdrawals. */
  async owner(ownerId: string): Promise<{ ownerId: string; available: string; inFlight: string; withdrawals: WithdrawalRow[] }> {
    const row = await this.readModel.getRepository(AccountEntity).findOneBy({ account: ownerAccount(ownerId) });
    const withdrawals = await this.readModel.getRepository(WithdrawalEntity).find({ where: { ownerId }, order: { requestedAt: 'ASC', withdrawalId: 'ASC' } });
    const inFlight = withdrawals.filter((w) => w.status === 'requested' || w.status === 'submitted').reduce((s, w) => s + BigInt(w.amount), 0n);
    return { ownerId, available: row?.balance ?? '0', inFlight: String(inFlight), withdrawals };
  }

  /** One owner's postings, newest first. */
  async history(ownerId: string, limit: number): Promise<PostingRow[]> {
    const account = ownerAccount(ownerId);
    return this.readModel.getRepository(PostingEntity).find({ where: [{ debit: account }, { credit: account }], order: { position: 'DESC', seq: 'DESC' }, take: limit });
  }
}
