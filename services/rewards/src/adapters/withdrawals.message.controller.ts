import { Controller, Inject } from '@nestjs/common';
import { Ctx, Payload } from '@nestjs/microservices';
import { REWARDS_RPC, WithdrawRequestSchema } from '@weai/contracts';
import { OnRequest, type RequestContext, requestPrincipal } from '@weai/messaging';
import { CLOCK, type Clock } from '@weai/runtime';
import { WithdrawalRequests } from '../application/withdrawals';

/**
 * Owners' withdrawal requests, on `weai.rpc.rewards.withdraw.<ownerId>`: NATS permissions let an
 * owner publish only there, and the body must name the same owner.
 */
@Controller()
export class WithdrawalsMessageController {
  constructor(
    private readonly withdrawals: WithdrawalRequests,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  @OnRequest(`${REWARDS_RPC.withdraw}.*`, { queue: 'rewards' })
  withdraw(@Payload() body: unknown, @Ctx() ctx: RequestContext) {
    requestPrincipal(ctx, WithdrawRequestSchema.parse(body).ownerId);
    return this.withdrawals.request(body, this.clock.now());
  }
}
