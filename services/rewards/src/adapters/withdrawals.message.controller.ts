import { Controller, Inject } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { REWARDS_RPC } from '@weai/contracts';
import { OnRequest } from '@weai/messaging';
import { CLOCK, type Clock } from '@weai/runtime';
import { WithdrawalRequests } from '../application/withdrawals';

/** Owners' withdrawal requests. That an owner asks only for its own is enforced by NATS permissions. */
@Controller()
export class WithdrawalsMessageController {
  constructor(
    private readonly withdrawals: WithdrawalRequests,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  @OnRequest(REWARDS_RPC.withdraw, { queue: 'rewards' })
  withdraw(@Payload() body: unknown) {
    return this.withdrawals.request(body, this.clock.now());
  }
}
