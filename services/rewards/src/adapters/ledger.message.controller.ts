import { Controller } from '@nestjs/common';
import { Ctx, Payload } from '@nestjs/microservices';
import { z } from 'zod';
import { Id, REWARDS_RPC } from '@weai/contracts';
import { OnRequest, type RequestContext, requestPrincipal } from '@weai/messaging';
import { LedgerAudit } from '../application/audit';
import { LedgerQueries } from '../application/ledger.read-model';

const OwnerQuery = z.object({ ownerId: Id }).strict();
const HistoryQuery = z.object({ ownerId: Id, limit: z.number().int().min(1).max(1000).default(100) }).strict();

/**
 * Ledger queries for owners (on `weai.rpc.rewards.<query>.<ownerId>`: the owner the subject names,
 * the only one its credential may ask about), and the operators' accounts and invariant check.
 */
@Controller()
export class LedgerMessageController {
  constructor(
    private readonly queries: LedgerQueries,
    private readonly audit: LedgerAudit,
  ) {}

  @OnRequest(`${REWARDS_RPC.balance}.*`, { queue: 'rewards' })
  balance(@Payload() body: unknown, @Ctx() ctx: RequestContext) {
    return this.queries.owner(requestPrincipal(ctx, OwnerQuery.parse(body).ownerId));
  }

  @OnRequest(`${REWARDS_RPC.history}.*`, { queue: 'rewards' })
  history(@Payload() body: unknown, @Ctx() ctx: RequestContext) {
    const { ownerId, limit } = HistoryQuery.parse(body);
    return this.queries.history(requestPrincipal(ctx, ownerId), limit);
  }

  @OnRequest(REWARDS_RPC.accounts, { queue: 'rewards' })
  async accounts() {
    const { position, balances } = await this.queries.snapshot();
    return { position, balances: Object.fromEntries([...balances].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, String(v)])) };
  }

  @OnRequest(REWARDS_RPC.check, { queue: 'rewards' })
  check() {
    return this.audit.check();
  }
}
