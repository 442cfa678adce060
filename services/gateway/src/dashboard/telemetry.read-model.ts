import { DeliverPolicy, type ConsumerMessages } from '@nats-io/jetstream';
import { Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { HeartbeatSchema, TELEMETRY_STREAM } from '@weai/contracts';
import type { Bus } from '@weai/messaging';

/** One heartbeat as the dashboard charts it: the node's policy state and each GPU's gauges. */
export interface TelemetrySample {
  readonly nodeId: string;
  /** When the gateway received it (ISO-8601): the agent's own clock is informational only. */
  readonly at: string;
  readonly allowsWork: boolean;
  readonly reason: string | null;
  readonly activeShards: number;
  readonly slots: number;
  readonly gpus: ReadonlyArray<{ uuid: string; utilizationPct: number; vramFreeMb: number; temperatureC: number; powerDrawW: number | null }>;
}

/** Samples kept per node: at one heartbeat every 5 s, an hour. */
export const SAMPLES_PER_NODE = 720;
/** Nodes tracked at most; the least recently heard from is dropped first. */
const MAX_NODES = 50_000;

/**
 * A small time series of node telemetry, fed by the heartbeats in WEAI_TELEMETRY. Heartbeats are
 * not events: they never enter an event store and the stream keeps only each node's last one, so
 * there is no log to rebuild a history from. Each gateway replica therefore keeps the samples it
 * has seen in a bounded ring per node, starting with every node's last heartbeat at boot; it is a
 * cache for charts, never a source of truth (liveness is the nodes service's).
 */
export class TelemetryReadModel implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Telemetry');
  private readonly series = new Map<string, TelemetrySample[]>();
  private readonly listeners = new Set<(sample: TelemetrySample) => void>();
  private messages: ConsumerMessages | undefined;
  private running = true;
  private pump: Promise<void> | undefined;

  constructor(private readonly bus: Bus) {}

  onApplicationBootstrap(): void {
    this.pump = this.follow();
  }

  async onApplicationShutdown(): Promise<void> {
    this.running = false;
    await this.messages?.close();
    await this.pump;
  }

  /** The samples of these nodes, oldest first. */
  samplesOf(nodeIds: readonly string[]): Record<string, TelemetrySample[]> {
    return Object.fromEntries(nodeIds.map((id) => [id, [...(this.series.get(id) ?? [])]]));
  }

  /** Calls `listener` with every sample from now on; returns the unsubscribe. */
  onSample(listener: (sample: TelemetrySample) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Takes one heartbeat message; anything that is not a valid heartbeat of its subject's node is ignored. */
  accept(subject: string, data: Uint8Array, receivedAtMs: number): void {
    let parsed;
    try {
      parsed = HeartbeatSchema.safeParse(JSON.parse(new TextDecoder().decode(data)));
    } catch {
      return;
    }
    if (!parsed.success || subject !== `weai.hb.${parsed.data.nodeId}`) return;
    const hb = parsed.data;
    const sample: TelemetrySample = {
      nodeId: hb.nodeId,
      at: new Date(receivedAtMs).toISOString(),
      allowsWork: hb.allowsWork,
      reason: hb.reason ?? null,
      activeShards: hb.activeShards,
      slots: hb.slots,
      gpus: hb.gpus.map((g) => ({ uuid: g.uuid, utilizationPct: g.utilizationPct, vramFreeMb: g.vramFreeMb, temperatureC: g.temperatureC, powerDrawW: g.powerDrawW ?? null })),
    };
    let ring = this.series.get(hb.nodeId);
    if (ring) this.series.delete(hb.nodeId);
    else {
      if (this.series.size >= MAX_NODES) this.series.delete(this.series.keys().next().value!);
      ring = [];
    }
    // Re-inserted so that the map's order is least recently heard from first.
    this.series.set(hb.nodeId, ring);
    ring.push(sample);
    if (ring.length > SAMPLES_PER_NODE) ring.splice(0, ring.length - SAMPLES_PER_NODE);
    for (const listener of this.listeners) listener(sample);
  }

  /** Follows the stream with an ordered consumer; waits for the stream if the nodes' side has not created it yet. */
  private async follow(): Promise<void> {
    for (let attempt = 0; this.running; attempt++) {
      try {
        const consumer = await this.bus.js.consumers.get(TELEMETRY_STREAM, { deliver_policy: DeliverPolicy.LastPerSubject });
        this.messages = await consumer.consume({ max_messages: 1024 });
        if (!this.running) await this.messages.close();
        for await (const m of this.messages) this.accept(m.subject, m.data, Math.floor(m.info.timestampNanos / 1e6));
        return;
      } catch (error) {
        if (!this.running) return;
        if (attempt === 0) this.logger.warn(`telemetry not readable yet (${(error as Error).message}); retrying`);
        await new Promise((r) => setTimeout(r, Math.min(5_000, 250 * (attempt + 1))));
      }
    }
  }
}
