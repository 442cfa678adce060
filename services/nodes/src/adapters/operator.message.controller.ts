import { Controller, Inject } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { z } from 'zod';
import { Id, NODE_RPC } from '@weai/contracts';
import { OnRequest } from '@weai/messaging';
import { CLOCK, type Clock, READ_MODEL } from '@weai/runtime';
import type { DataSource } from 'typeorm';
import { commandMetadata, NodeCommands } from '../application/node.commands';
import { NodeViewEntity } from '../application/nodes.read-model';

const QuarantineRequest = z.object({ nodeId: Id, reason: z.string().min(1).max(512), operatorId: Id }).strict();

/** Operator commands and queries. Who may send them is enforced by NATS permissions (security service). */
@Controller()
export class OperatorMessageController {
  constructor(
    private readonly commands: NodeCommands,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(READ_MODEL) private readonly readModel: DataSource,
  ) {}

  @OnRequest(NODE_RPC.quarantine, { queue: 'nodes' })
  async quarantine(@Payload() body: unknown) {
    const { nodeId, reason, operatorId } = QuarantineRequest.parse(body);
    const { events } = await this.commands.execute(nodeId, { type: 'QuarantineNode', data: { reason, by: operatorId }, metadata: commandMetadata(this.clock.now()) });
    return { nodeId, events: events.map((e) => e.type) };
  }

  @OnRequest(NODE_RPC.release, { queue: 'nodes' })
  async release(@Payload() body: unknown) {
    const { nodeId, reason, operatorId } = QuarantineRequest.parse(body);
    const { events } = await this.commands.execute(nodeId, { type: 'ReleaseNode', data: { reason, by: operatorId }, metadata: commandMetadata(this.clock.now()) });
    return { nodeId, events: events.map((e) => e.type) };
  }

  @OnRequest(NODE_RPC.list, { queue: 'nodes' })
  list() {
    return this.readModel.getRepository(NodeViewEntity).find({ order: { nodeId: 'ASC' } });
  }
}
