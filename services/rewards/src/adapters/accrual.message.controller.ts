import { Controller, Inject } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import type { EventOfType } from '@weai/contracts';
import { OnJetStreamEvents } from '@weai/messaging';
import { CLOCK, type Clock } from '@weai/runtime';
import { RewardAccrual } from '../application/accrual';

/** Validated shards from the scheduler: each accepted result earns its node's owner a reward. */
@Controller()
export class AccrualMessageController {
  constructor(
    private readonly accrual: RewardAccrual,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  // A node registered just before its first result may not be projected yet: retried, then parked.
  @OnJetStreamEvents({ durable: 'rewards-accrual', types: ['ShardValidated'], concurrency: 8, maxDeliver: 10 })
  async validated(@Payload() e: EventOfType<'ShardValidated'>) {
    await this.accrual.onShardValidated(e, this.clock.now());
  }
}
