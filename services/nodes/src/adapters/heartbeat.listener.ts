import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { DeliverPolicy, type ConsumerMessages } from '@nats-io/jetstream';
import { TELEMETRY_STREAM } from '@weai/contracts';
import { type Bus, type ProjectionRunner } from '@weai/messaging';
import { BUS, LEADERSHIP, type Leadership, READ_MODEL } from '@weai/runtime';
import type { DataSource } from 'typeorm';
import { LivenessMonitor } from '../application/liveness';
import { NodeViewEntity } from '../application/nodes.read-model';
import { PROJECTIONS } from './tokens';

/**
 * Feeds the liveness monitor from WEAI_TELEMETRY through an ordered consumer that starts with
 * each node's last heartbeat (so a restarted service knows at once who is alive) and follows new ones.
 * Liveness runs on the elected replica only (every replica when election is off): a new leader
 * starts it the way a restarted service does.
 */
@Injectable()
export class HeartbeatListener implements OnApplicationBootstrap, OnApplicationShutdown {
  private messages: ConsumerMessages | undefined;
  private pump: Promise<void> | undefined;
  private readonly logger = new Logger('Liveness');

  constructor(
    private readonly monitor: LivenessMonitor,
    @Inject(BUS) private readonly bus: Bus,
    @Inject(READ_MODEL) private readonly readModel: DataSource,
    @Inject(PROJECTIONS) private readonly projections: ProjectionRunner[],
    @Inject(LEADERSHIP) private readonly leadership: Leadership,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    for (const runner of this.projections) await runner.start();
    await this.leadership.whileLeader({ name: 'liveness', start: () => this.startLiveness(), stop: () => this.stopLiveness() });
  }

  private async startLiveness(): Promise<void> {
    const online = await this.readModel.getRepository(NodeViewEntity).find({ where: { online: true }, select: { nodeId: true } });
    this.monitor.adoptOnline(online.map((n) => n.nodeId));
    const consumer = await this.bus.js.consumers.get(TELEMETRY_STREAM, { deliver_policy: DeliverPolicy.LastPerSubject });
    this.messages = await consumer.consume({ max_messages: 1024 });
    const messages = this.messages;
    this.pump = (async () => {
      for await (const m of messages) this.monitor.onHeartbeat(m.subject, m.data, Math.floor(m.info.timestampNanos / 1e6), m.info.pending === 0);
    })().catch((e: unknown) => this.logger.error(`heartbeat consumer stopped: ${String(e)}`));
    this.monitor.start();
  }

  private async stopLiveness(): Promise<void> {
    await this.messages?.close();
    await this.pump;
    this.messages = undefined;
    await this.monitor.stop();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.stopLiveness();
    for (const runner of this.projections) await runner.stop();
  }
}
