import { Controller, Inject } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { z } from 'zod';
import { Id, NODE_RPC } from '@weai/contracts';
import { OnRequest } from '@weai/messaging';
import { CLOCK, type Clock, READ_MODEL } from '@weai/runtime';
import type { DataSource } from 'typeorm';
import { LivenessMonitor } from '../application/liveness';
import { commandMetadata, NodeCommands } from '../application/node.commands';
import { NodeViewEntity } from '../application/nodes.read-model';

const QuarantineRequest = z.object({ nodeId: Id, reason: z.string().min(1).max(512), operatorId: Id }).strict();
const ListRequest = z.object({ ownerId: Id.optional() }).strict();

/** Operator commands and queries. Who may send them is enforced by NATS permissions (security service). */
@Controller()
export class OperatorMessageController {
  constructor(
    private readonly commands: NodeCommands,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(READ_MODEL) private readonly readModel: DataSource,
    private readonly monitor: LivenessMonitor,
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

  /** What this replica's liveness monitor handled, and what it costs (for operators and the scale bench). */
  @OnRequest(NODE_RPC.stats, { queue: 'nodes' })
  stats() {
    const cpu = process.cpuUsage();
    return {
      ...this.monitor.counters,
      online: this.monitor.onlineCount(),
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      rssBytes: process.memoryUsage().rss,
      uptimeSeconds: process.uptime(),
    };
  }

  /** Every node, or one owner's (`{ ownerId }`: the gateway's owner view). */
  @OnRequest(NODE_RPC.list, { queue: 'nodes' })
  list(@Payload() body: unknown) {
    const { ownerId } = ListRequest.parse(body ?? {});
    return this.readModel.getRepository(NodeViewEntity).find({ where: ownerId ? { ownerId } : {}, order: { nodeId: 'ASC' } });
  }
}
