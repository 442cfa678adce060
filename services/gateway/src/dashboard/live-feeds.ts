import type { BeforeApplicationShutdown } from '@nestjs/common';
import { HeartbeatSchema, TELEMETRY_STREAM, eventSubject, streamOfFamily } from '@weai/contracts';
import type { Bus } from '@weai/messaging';
import type { NodeSummary } from '../application/operator.service';
import type { LiveMessage, LiveSource } from './live';
import { streamSource } from './live';
import type { TelemetryReadModel } from './telemetry.read-model';

/** How often an owner's feed re-reads which nodes are the owner's (a node registered meanwhile). */
const OWNER_NODES_REFRESH_MS = 30_000;
/** An operator's page hears of an unchanged node at most this often. */
const OPERATOR_HEARTBEAT_MS = 5_000;

/**
 * The live feeds of the dashboard pages. Each carries only what its role's routes already show:
 * an owner gets its own nodes' telemetry and node events and the *types* of its ledger events (the
 * page re-reads the earnings; reward events name the partner and the job, which owners never see);
 * an operator gets every node event.
 */
export class LiveFeeds implements BeforeApplicationShutdown {
  private readonly shutdown = new AbortController();

  constructor(
    private readonly bus: Bus,
    private readonly telemetry: TelemetryReadModel,
  ) {}

  /** Aborted when the gateway stops, so open feeds end instead of holding the HTTP server open. */
  get signal(): AbortSignal {
    return this.shutdown.signal;
  }

  beforeApplicationShutdown(): void {
    this.shutdown.abort();
  }

  owner(ownerId: string, listNodes: () => Promise<NodeSummary[]>): LiveSource[] {
    let mine = new Set<string>();
    const refresh = async () => {
      mine = new Set((await listNodes()).map((n) => n.nodeId));
    };
    const nodes: LiveSource = async (push) => {
      await refresh();
      const timer = setInterval(() => void refresh().catch(() => undefined), OWNER_NODES_REFRESH_MS);
      const stopTelemetry = this.telemetry.onSample((sample) => {
        if (mine.has(sample.nodeId)) push({ event: 'telemetry', data: sample });
      });
      const stopEvents = await streamSource(this.bus, streamOfFamily('nodes'), eventSubject('nodes', '*', '*'), (subject, _data, seq) => {
        const [, , , nodeId, type] = subject.split('.');
        return nodeId && mine.has(nodeId) ? { event: 'node', data: { seq, nodeId, type } } : null;
      })(push);
      return async () => {
        clearInterval(timer);
        stopTelemetry();
        await stopEvents();
      };
    };
    const ledger = streamSource(this.bus, streamOfFamily('rewards'), eventSubject('rewards', ownerId, '*'), (subject, _data, seq): LiveMessage => ({ event: 'ledger', data: { seq, type: subject.split('.').pop() } }));
    return [nodes, ledger];
  }

  operator(): LiveSource[] {
    const nodes = streamSource(this.bus, streamOfFamily('nodes'), eventSubject('nodes', '*', '*'), (subject, _data, seq) => {
      const [, , , nodeId, type] = subject.split('.');
      return { event: 'node', data: { seq, nodeId, type } };
    });
    // A node's heartbeat is passed on when its state changed, else at most every few seconds: a
    // page watching thousands of nodes gets a trickle, not every heartbeat of every node.
    const sent = new Map<string, { at: number; state: string }>();
    const telemetry = streamSource(this.bus, TELEMETRY_STREAM, 'weai.hb.>', (_subject, data) => {
      let hb;
      try {
        hb = HeartbeatSchema.parse(JSON.parse(new TextDecoder().decode(data)));
      } catch {
        return null;
      }
      const state = `${hb.allowsWork}/${hb.activeShards}/${hb.slots}`;
      const now = Date.now();
      const last = sent.get(hb.nodeId);
      if (last && last.state === state && now - last.at < OPERATOR_HEARTBEAT_MS) return null;
      if (sent.size > 100_000) sent.clear();
      sent.set(hb.nodeId, { at: now, state });
      return { event: 'heartbeat', data: { nodeId: hb.nodeId, allowsWork: hb.allowsWork, activeShards: hb.activeShards, slots: hb.slots } };
    });
    return [nodes, telemetry];
  }
}
