/**
 * Many simulated node agents in one process, multiplexed over a few NATS connections: they
 * register and report capabilities as `node-agent` does (signed requests), then heartbeat each at
 * its own phase of the period, and can be silenced and resumed one by one.
 */
import { performance } from 'node:perf_hooks';
import type { NatsConnection } from '@nats-io/transport-node';
import { NODE_RPC, heartbeatSubject } from '@weai/contracts';
import { RpcError, requestJson } from '@weai/messaging';
import { signRequest } from '@weai/node-agent/src/identity';
import { type FastIdentity, fastIdentity } from './fast-identity';

/** A CPU-only node's capabilities, as the agent reports them (the classes are a placeholder the service replaces). */
const CAPABILITIES = { os: 'linux', cpuFlags: ['avx2'], gpus: [], executionProviders: ['cpu'], benchmarkScore: 5, capabilityClasses: ['cpu.generic'] } as const;

/** Owners with ten nodes each: the payout address of node `i`. */
const payoutOf = (i: number) => `0x${Math.floor(i / 10).toString(16).padStart(40, '0')}`;

/** How a batch of requests went: requests per second over the whole batch, and retries after timeouts. */
export interface BatchResult {
  readonly perSecond: number;
  readonly seconds: number;
  readonly retries: number;
}

const RPC_TIMEOUT_MS = 30_000;
const RPC_ATTEMPTS = 4;

export class SimulatedFleet {
  /** Node ids, by index; known once registered. */
  readonly nodeIds: string[];
  private readonly indexOfId = new Map<string, number>();
  /** `performance.now()` of each node's last heartbeat. */
  private readonly lastSent: Float64Array;
  /** 1 while a node is silenced. */
  private readonly silent: Uint8Array;
  private identities: Array<FastIdentity | undefined>;
  private timer: NodeJS.Timeout | undefined;
  private started = 0;
  private scheduled = 0;
  private readonly encoder = new TextEncoder();
  /** Heartbeats published since the first. */
  heartbeatsSent = 0;

  constructor(
    private readonly connections: readonly NatsConnection[],
    readonly size: number,
    readonly periodMs: number,
  ) {
    if (connections.length === 0) throw new Error('a fleet needs at least one NATS connection');
    this.nodeIds = new Array<string>(size);
    this.lastSent = new Float64Array(size);
    this.silent = new Uint8Array(size);
    this.identities = new Array<FastIdentity | undefined>(size);
  }

  private connectionOf(i: number): NatsConnection {
    return this.connections[i % this.connections.length]!;
  }

  /** Index of a node id of this fleet, or undefined. */
  indexOf(nodeId: string): number | undefined {
    return this.indexOfId.get(nodeId);
  }

  /** Registers every node (fresh Ed25519 keys), `concurrency` requests in flight. */
  async registerAll(concurrency: number, onProgress: (done: number) => void): Promise<BatchResult> {
    return this.batch(concurrency, onProgress, async (i) => {
      const identity = fastIdentity();
      this.identities[i] = identity;
      const body = () => signRequest(identity, { kind: 'register', payoutAddress: payoutOf(i), issuedAt: new Date().toISOString() });
      const { nodeId } = await this.request<{ nodeId: string }>(i, NODE_RPC.register, body);
      this.nodeIds[i] = nodeId;
      this.indexOfId.set(nodeId, i);
    });
  }

  /** Reports every registered node's capabilities, `concurrency` requests in flight; the keys are dropped after. */
  async reportAllCapabilities(concurrency: number, onProgress: (done: number) => void): Promise<BatchResult> {
    const result = await this.batch(concurrency, onProgress, async (i) => {
      const identity = this.identities[i];
      const nodeId = this.nodeIds[i];
      if (!identity || !nodeId) throw new Error(`node ${i} is not registered`);
      const body = () => signRequest(identity, { kind: 'capabilities', nodeId, capabilities: CAPABILITIES, issuedAt: new Date().toISOString() });
      const { capabilityClasses } = await this.request<{ capabilityClasses: string[] }>(i, NODE_RPC.capabilities, body);
      if (!capabilityClasses.includes('cpu.generic')) throw new Error(`node ${nodeId} was given classes ${capabilityClasses.join(', ')}`);
    });
    this.identities = [];
    return result;
  }

  /**
   * Starts heartbeating: node `i` sends at `i/size` of every period, so the load is spread evenly.
   * A timer every 10 ms sends whatever fell due since the last tick.
   */
  startHeartbeats(): void {
    if (this.timer) return;
    this.started = performance.now();
    this.scheduled = 0;
    this.timer = setInterval(() => this.tick(), 10);
  }

  stopHeartbeats(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Stops node `i`'s heartbeats; returns when it sent its last one. */
  silence(i: number): number {
    this.silent[i] = 1;
    return this.lastSent[i]!;
  }

  /** Resumes node `i`'s heartbeats with one sent now (as a restarted agent does); returns when it was sent. */
  resume(i: number): number {
    this.silent[i] = 0;
    this.beat(i, performance.now(), new Date().toISOString());
    return this.lastSent[i]!;
  }

  private tick(): void {
    const now = performance.now();
    const due = Math.floor(((now - this.started) / this.periodMs) * this.size);
    if (due <= this.scheduled) return;
    const sentAt = new Date().toISOString();
    for (; this.scheduled < due; this.scheduled++) {
      const i = this.scheduled % this.size;
      if (this.silent[i] === 0) this.beat(i, now, sentAt);
    }
  }

  private beat(i: number, now: number, sentAt: string): void {
    const nodeId = this.nodeIds[i]!;
    const hb = `{"nodeId":"${nodeId}","sentAt":"${sentAt}","allowsWork":true,"activeShards":0,"slots":1,"gpus":[]}`;
    this.connectionOf(i).publish(heartbeatSubject(nodeId), this.encoder.encode(hb));
    this.lastSent[i] = now;
    this.heartbeatsSent++;
  }

  /** Runs `work` for every node index, `concurrency` at a time. */
  private async batch(concurrency: number, onProgress: (done: number) => void, work: (i: number) => Promise<void>): Promise<BatchResult> {
    const before = this.retries;
    let next = 0;
    let done = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: Math.min(concurrency, this.size) }, async () => {
        while (next < this.size) {
          await work(next++);
          onProgress(++done);
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    return { perSecond: this.size / seconds, seconds, retries: this.retries - before };
  }

  private retries = 0;

  /** A signed request, signed afresh and sent again after a timeout (both requests are idempotent). */
  private async request<T>(i: number, subject: string, body: () => object): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await requestJson<T>(this.connectionOf(i), subject, body(), RPC_TIMEOUT_MS);
      } catch (error) {
        if (!(error instanceof RpcError) || !['timeout', 'unavailable'].includes(error.code) || attempt === RPC_ATTEMPTS) throw error;
        this.retries++;
      }
    }
  }
}
