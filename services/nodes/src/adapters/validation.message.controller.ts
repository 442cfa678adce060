import { Controller, Inject } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import type { EventOfType } from '@weai/contracts';
import { DomainError } from '@weai/decider';
import { OnJetStreamEvents } from '@weai/messaging';
import { CLOCK, type Clock } from '@weai/runtime';
import { commandMetadata, NodeCommands } from '../application/node.commands';
import { QUARANTINE_AFTER } from './tokens';

/** Validation outcomes from the scheduler: each rejected result is a strike; enough strikes quarantine the node. */
@Controller()
export class ValidationMessageController {
  constructor(
    private readonly commands: NodeCommands,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(QUARANTINE_AFTER) private readonly quarantineAfter: number,
  ) {}

  @OnJetStreamEvents({ durable: 'nodes-strikes', types: ['ShardResultRejected'] })
  async rejected(@Payload() e: EventOfType<'ShardResultRejected'>) {
    // The command id derives from the event id, so a redelivered event records no second strike.
    const metadata = { ...commandMetadata(this.clock.now(), e.metadata.eventId, e.metadata.correlationId), commandId: `strike-${e.metadata.eventId}` };
    try {
      await this.commands.execute(e.data.nodeId, { type: 'RecordStrike', data: { shardId: e.data.shardId, reason: e.data.reason.slice(0, 512), quarantineAfter: this.quarantineAfter }, metadata });
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
    }
  }
}
