import { randomUUID } from 'node:crypto';
import { type EnrolledNode, NODE_RPC, type NodeEnrolment, type NodeEnrolmentRequest, type NodeRevocation, REWARDS_RPC, SECURITY_RPC, ownerRequestSubject } from '@weai/contracts';
import { type Bus, requestJson } from '@weai/messaging';
import { ApiError } from '../http/api-error';
import type { NodeSummary } from './operator.service';
import { askService } from './upstream';

const REWARDS_CODES = {
  'rewards.bad-amount': 400,
  'rewards.below-minimum': 400,
  'rewards.insufficient-balance': 409,
  'rewards.no-payout-address': 409,
  'rewards.withdrawal-id-reused': 409,
};

const ENROLMENT_CODES = {
  'credential.exists': 409,
  'credential.revoked': 409,
  'security.bad-capability': 400,
};

/** What rewards answers for `balance`. */
interface Balance {
  ownerId: string;
  available: string;
  inFlight: string;
  withdrawals: Array<{ withdrawalId: string; amount: string; status: string; txHash: string | null; reason: string | null; requestedAt: string; updatedAt: string }>;
}
/** What rewards answers for `history`. */
interface Posting {
  eventType: string;
  debit: string;
  credit: string;
  amount: string;
  reference: string;
  occurredAt: string;
}

/** One line of an owner's earnings history: no job or partner id, only what the owner's own node and withdrawals did. */
export interface EarningsEntry {
  readonly at: string;
  readonly kind: 'reward' | 'withdrawal' | 'withdrawal-released';
  /** Signed base units: positive credits the owner, negative debits it. */
  readonly amount: string;
  readonly nodeId?: string;
  readonly withdrawalId?: string;
}

/**
 * An owner's view, read from the rewards and nodes services over their request subjects. The
 * owner id always comes from the owner's token, never from the request, so no owner can name
 * another's ledger.
 */
export class OwnerService {
  constructor(private readonly bus: Bus) {}

  async earnings(ownerId: string, limit: number) {
    const [balance, postings] = await Promise.all([
      askService('rewards', REWARDS_CODES, () => requestJson<Balance>(this.bus.nc, ownerRequestSubject('balance', ownerId), { ownerId }, undefined, REWARDS_RPC.balance)),
      askService('rewards', REWARDS_CODES, () => requestJson<Posting[]>(this.bus.nc, ownerRequestSubject('history', ownerId), { ownerId, limit }, undefined, REWARDS_RPC.history)),
    ]);
    return {
      ownerId,
      available: balance.available,
      inFlight: balance.inFlight,
      withdrawals: balance.withdrawals.map(({ withdrawalId, amount, status, txHash, reason, requestedAt, updatedAt }) => ({ withdrawalId, amount, status, txHash, reason, requestedAt, updatedAt })),
      history: postings.map((p) => entryOf(p, `owner:${ownerId}`)),
    };
  }

  withdraw(ownerId: string, amount: string, withdrawalId = `w-${randomUUID()}`) {
    return askService('rewards', REWARDS_CODES, () => requestJson<unknown>(this.bus.nc, ownerRequestSubject('withdraw', ownerId), { ownerId, withdrawalId, amount }, 15_000, REWARDS_RPC.withdraw));
  }

  /**
   * Enrols a node key on the bus: the security service issues the node its credential and reloads
   * nats-server. Only an authenticated owner gets here (no anonymous self-enrolment: a sybil could
   * mint nodes), and the gateway's own bus permissions allow this one security request. The owner's
   * opaque id (never its payout address) is recorded on the credential.
   */
  enrolNode(ownerId: string, enrolment: NodeEnrolment): Promise<EnrolledNode> {
    const request: NodeEnrolmentRequest = { ...enrolment, ownerId };
    return askService('security', ENROLMENT_CODES, () => requestJson<EnrolledNode>(this.bus.nc, SECURITY_RPC.enrolNode, request, 15_000));
  }

  /**
   * Revokes one of the owner's own nodes (a stolen or retired machine): the security service removes
   * its bus credential and nats-server cuts its connection. A node registered to the owner is
   * revoked whoever enrolled it; any other only if this owner enrolled it (security checks that
   * against the credential), so a node enrolled but never registered can be revoked too. Another
   * owner's node answers exactly as a missing one, and is recorded as a refusal.
   */
  async revokeNode(ownerId: string, nodeId: string, reason: string): Promise<{ nodeId: string; revoked: boolean }> {
    const registered = (await this.nodes(ownerId)).some((n) => n.nodeId === nodeId);
    const request: NodeRevocation = registered ? { nodeId, reason } : { nodeId, reason, ownerId };
    try {
      const { revoked } = await askService('security', { 'credential.unknown': 404 }, () => requestJson<{ revoked: boolean }>(this.bus.nc, SECURITY_RPC.revokeNode, request, 15_000));
      return { nodeId, revoked };
    } catch (error) {
      if (registered || !(error instanceof ApiError) || error.code !== 'credential.unknown') throw error;
      const notYours = new ApiError(404, 'node.not-found', `no node ${nodeId} of yours`);
      notYours.refusal = { resource: `node:${nodeId}` };
      throw notYours;
    }
  }

  async nodes(ownerId: string): Promise<NodeSummary[]> {
    return askService('nodes', {}, () => requestJson<NodeSummary[]>(this.bus.nc, NODE_RPC.list, { ownerId }));
  }
}

/**
 * A posting as the owner sees it. The journal's reference names the job and shard the reward was
 * for; those are the partner's, so only the node (the owner's own) is kept.
 */
function entryOf(p: Posting, account: string): EarningsEntry {
  const sign = p.credit === account ? '' : '-';
  const amount = `${sign}${p.amount}`;
  const node = /^job \S+ shard \S+ node (\S+)$/.exec(p.reference)?.[1];
  const withdrawal = /^withdrawal (\S+)$/.exec(p.reference)?.[1];
  if (p.eventType === 'RewardAccrued') return { at: p.occurredAt, kind: 'reward', amount, ...(node ? { nodeId: node } : {}) };
  return { at: p.occurredAt, kind: p.eventType === 'WithdrawalFailed' ? 'withdrawal-released' : 'withdrawal', amount, ...(withdrawal ? { withdrawalId: withdrawal } : {}) };
}
