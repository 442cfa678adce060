import { HeartbeatSchema, type Heartbeat } from '@weai/contracts';
import { DomainError } from '@weai/decider';
import { commandMetadata, type NodeCommands } from './node.commands';

/** What the monitor counted, for metrics and tests. */
export interface LivenessCounters {
  heartbeats: number;
  malformed: number;
  unknownNodes: number;
  transitions: number;
  failures: number;
}

interface Seen {
  lastSeen: number;
  online: boolean;
  allowsWork: boolean | undefined;
  reason: string | undefined;
  busy: Promise<void> | undefined;
}

/**
 * Turns the heartbeat stream into events on transitions only: heartbeats are telemetry and
 * never reach the event store. A heartbeat costs a map update; a node silent for
 * `offlineAfterMs` is marked offline by a sweep every `sweepMs`, so detection takes at most
 * `offlineAfterMs + sweepMs`. Malformed heartbeats and heartbeats of unknown nodes are counted
 * and dropped.
 */
export class LivenessMonitor {
  readonly counters: LivenessCounters = { heartbeats: 0, malformed: 0, unknownNodes: 0, transitions: 0, failures: 0 };
  private readonly nodes = new Map<string, Seen>();
  private readonly unknown = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  /** Server time of the newest heartbeat read, and whether nothing was waiting behind it. */
  private readUpTo = 0;
  private caughtUp = true;
  private readonly decoder = new TextDecoder();

  constructor(
    private readonly commands: NodeCommands,
    private readonly options: { offlineAfterMs: number; sweepMs: number; now: () => Date; onError?: (e: unknown) => void },
  ) {}

  /** Nodes the read model says are online: they get a full offline period to send a heartbeat. */
  adoptOnline(nodeIds: Iterable<string>): void {
    const at = this.options.now().getTime();
    for (const id of nodeIds) this.nodes.set(id, { lastSeen: at, online: true, allowsWork: undefined, reason: undefined, busy: undefined });
  }

  start(): void {
    this.timer ??= setInterval(() => void this.sweep(), this.options.sweepMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await Promise.all([...this.nodes.values()].map((n) => n.busy));
  }

  /**
   * Handles one heartbeat message (raw bytes from `weai.hb.<nodeId>`). Never throws.
   * `receivedAt` is when the server stored it and `caughtUp` whether no heartbeat waits behind it:
   * silence is then measured in server time, so a service that falls behind (a whole fleet
   * starting at once) never takes its own backlog for dead nodes.
   */
  onHeartbeat(subject: string, data: Uint8Array, receivedAt = this.options.now().getTime(), caughtUp = true): void {
    this.readUpTo = Math.max(this.readUpTo, receivedAt);
    this.caughtUp = caughtUp;
    let hb: Heartbeat;
    try {
      const parsed = HeartbeatSchema.safeParse(JSON.parse(this.decoder.decode(data)));
      if (!parsed.success || subject !== `weai.hb.${parsed.data.nodeId}`) throw new Error('malformed');
      hb = parsed.data;
    } catch {
      this.counters.malformed++;
      return;
    }
    const now = this.options.now().getTime();
    const seenAt = Math.min(receivedAt, now);
    const retryUnknownAt = this.unknown.get(hb.nodeId);
    if (retryUnknownAt !== undefined && now < retryUnknownAt) {
      this.counters.unknownNodes++;
      return;
    }
    this.counters.heartbeats++;
    let seen = this.nodes.get(hb.nodeId);
    if (!seen) {
      seen = { lastSeen: seenAt, online: false, allowsWork: undefined, reason: undefined, busy: undefined };
      this.nodes.set(hb.nodeId, seen);
    }
    seen.lastSeen = Math.max(seen.lastSeen, seenAt);
    if (seen.online && seen.allowsWork === hb.allowsWork) return;
    seen.online = true;
    seen.allowsWork = hb.allowsWork;
    seen.reason = hb.reason;
    this.transition(hb.nodeId, seen, { type: 'RecordHeartbeat', data: { allowsWork: hb.allowsWork, ...(hb.reason ? { reason: hb.reason } : {}) } });
  }

  /** Marks every node silent for longer than the offline period as offline. */
  async sweep(): Promise<void> {
    // Behind on heartbeats: judge silence only up to the newest one read.
    const now = this.caughtUp ? this.options.now().getTime() : this.readUpTo;
    for (const [nodeId, seen] of this.nodes) {
      if (!seen.online || now - seen.lastSeen <= this.options.offlineAfterMs) continue;
      seen.online = false;
      seen.allowsWork = undefined;
      this.transition(nodeId, seen, { type: 'MarkOffline', data: { lastSeenAt: new Date(seen.lastSeen).toISOString() } });
    }
  }

  /** Nodes seen online now. */
  onlineCount(): number {
    let n = 0;
    for (const s of this.nodes.values()) if (s.online) n++;
    return n;
  }

  private transition(nodeId: string, seen: Seen, command: { type: 'RecordHeartbeat'; data: { allowsWork: boolean; reason?: string } } | { type: 'MarkOffline'; data: { lastSeenAt: string } }): void {
    // One command at a time per node, in arrival order.
    const previous = seen.busy ?? Promise.resolve();
    const run = previous.then(async () => {
      try {
        await this.commands.execute(nodeId, { ...command, metadata: commandMetadata(this.options.now()) });
        this.counters.transitions++;
      } catch (error) {
        if (error instanceof DomainError && error.code === 'node.unregistered') {
          this.counters.unknownNodes++;
          this.nodes.delete(nodeId);
          this.unknown.set(nodeId, this.options.now().getTime() + 10_000);
          return;
        }
        this.counters.failures++;
        seen.online = command.type === 'MarkOffline'; // try the transition again on the next heartbeat or sweep
        this.options.onError?.(error);
      }
    });
    seen.busy = run;
    void run.finally(() => {
      if (seen.busy === run) seen.busy = undefined;
    });
  }
}
