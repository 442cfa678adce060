import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import type { EventOfType } from '@weai/contracts';
import { OnJetStreamEvents } from '@weai/messaging';
import { WithdrawalSaga } from '../application/withdrawal-saga';

/** The withdrawal saga, driven by the service's own `WithdrawalRequested` as JetStream delivers it back. */
@Controller()
export class WithdrawalEventsMessageController {
  constructor(private readonly saga: WithdrawalSaga) {}

  // Acknowledged only once the withdrawal is settled or failed; until then every delivery
  // reconciles from chain state. A chain outage retries for hours (backoff up to 30 s) before parking.
  @OnJetStreamEvents({ durable: 'rewards-withdrawal-saga', types: ['WithdrawalRequested'], concurrency: 4, maxDeliver: 1000, ackWaitMs: 60_000 })
  async requested(@Payload() e: EventOfType<'WithdrawalRequested'>) {
    await this.saga.run(e);
  }
}
