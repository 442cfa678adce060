/**
 * The agent's policy loop: it samples the GPUs, takes one pure policy step ({@link stepPolicy})
 * and tells each lane's worker what to do ({@link laneCommand}).
 *
 * While shards run it ticks every `intervalMs` (250 ms), so a game that starts is seen and the
 * leases handed back well within 1 s. With nothing running it ticks every `idleIntervalMs` (1 s):
 * there is nothing to hand back, and the nvidia-smi fallback costs real CPU per sample. A shard
 * that starts after a slow tick triggers one at once ({@link PolicyLoop.nudge}), so a lease taken
 * while the owner is already gaming is handed back within one sample.
 *
 * Samples never overlap; one that takes longer than `sampleTimeoutMs` counts as a broken
 * telemetry (the agent cannot see a game start, so GPU lanes yield), while the slow sample is
 * still awaited by the next tick.
 */
import type { GpuDetection } from './gpu/types';
import type { PolicyAction } from './policy/decide';
import { type AgentPolicyState, INITIAL_AGENT_POLICY_STATE, type LaneDecision, type LaneSpec, type PolicyStep, laneCommand, stepPolicy } from './policy/lanes';
import type { LocalTime } from './policy/schedule';
import type { OwnerSettings } from './policy/settings';

/** Where GPU samples come from: {@link GpuTelemetry}, or a stand-in. */
export interface TelemetrySource {
  /** The sample taken at start-up. */
  readonly detection: GpuDetection;
  sample(): Promise<GpuDetection>;
  close(): void;
}

/** What the loop may tell a lane's worker (ShardWorker has these). */
export interface LaneControl {
  release(reason: string): number;
  hold(reason: string): void;
  resume(): void;
  activeShards(): number;
}

/** Shards handed back because the policy said yield-now. */
export interface ReleaseReport {
  readonly laneId: string;
  readonly reason: string;
  readonly released: number;
  /** `performance.now()` when the sample that saw it was asked for, and when it answered. */
  readonly sampleStartedAt: number;
  readonly seenAt: number;
  /** `performance.now()` after the leases were handed back (naks queued on the connection). */
  readonly releasedAt: number;
}

export interface PolicyLoopOptions {
  readonly telemetry: TelemetrySource;
  readonly lanes: readonly { readonly spec: LaneSpec; readonly control: LaneControl }[];
  /** The owner's settings now (the pause switch included). */
  readonly settings: () => OwnerSettings;
  /** The agent's process and its runner processes. */
  readonly agentPids: () => ReadonlySet<number>;
  /** Period while shards run. Default 250 ms. */
  readonly intervalMs?: number;
  /** Period while none runs. Default 1000 ms. */
  readonly idleIntervalMs?: number;
  /** Whether shards run now (picks the period). Default: always (every tick at `intervalMs`). */
  readonly busy?: () => boolean;
  /** Default 750 ms. */
  readonly sampleTimeoutMs?: number;
  /** The clock (ms since the epoch) and the owner's local time; default: this machine's. */
  readonly now?: () => number;
  readonly localTime?: (now: number) => LocalTime;
  /** After every step. */
  readonly onStep?: (step: PolicyStep, detection: GpuDetection) => void;
  /** When a lane's action or deciding rule changed. */
  readonly onChange?: (lane: LaneDecision, previous: LaneDecision | undefined) => void;
  /** When a lane handed back leases. */
  readonly onRelease?: (report: ReleaseReport) => void;
}

/** This machine's local time. */
export function localTimeOf(now: number): LocalTime {
  const d = new Date(now);
  return { weekday: d.getDay(), minuteOfDay: d.getHours() * 60 + d.getMinutes() };
}

export class PolicyLoop {
  private state: AgentPolicyState = INITIAL_AGENT_POLICY_STATE;
  private readonly applied = new Map<string, PolicyAction>();
  private readonly decided = new Map<string, LaneDecision>();
  private latest: { step: PolicyStep; detection: GpuDetection } | undefined;
  private pendingSample: Promise<GpuDetection> | undefined;
  private ticking: Promise<PolicyStep> | undefined;
  private followUp: Promise<PolicyStep> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private lastTickAt = -Infinity;
  private nextTickAt = Infinity;
  private readonly gpusExpected: boolean;

  constructor(private readonly options: PolicyLoopOptions) {
    this.gpusExpected = options.telemetry.detection.mode === 'gpu';
  }

  /** The latest step and the sample it was taken on (undefined before the first tick). */
  get last(): { step: PolicyStep; detection: GpuDetection } | undefined {
    return this.latest;
  }

  /** Ticks every `intervalMs` until stopped. */
  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /**
   * One step now: sample, decide, apply. While a tick is under way this is the one after it, so
   * a pause takes effect on a fresh step, not on one that read the settings before it.
   */
  tick(): Promise<PolicyStep> {
    if (!this.ticking) {
      this.ticking = this.run().finally(() => (this.ticking = undefined));
      return this.ticking;
    }
    this.followUp ??= this.ticking
      .catch(() => undefined)
      .then(() => {
        this.followUp = undefined;
        return this.tick();
      });
    return this.followUp;
  }

  /** Resolves once no tick and no sample is under way (a stalled nvidia-smi takes up to its own timeout). */
  async settled(): Promise<void> {
    await Promise.all([this.ticking?.catch(() => undefined), this.followUp?.catch(() => undefined), this.pendingSample]);
  }

  /**
   * A shard started: make sure the next tick comes within `intervalMs` of the last one (now, if
   * the last is older), even when the loop had slowed to `idleIntervalMs`.
   */
  nudge(): void {
    if (this.stopped || this.ticking) return; // the tick under way schedules the next one for a busy loop
    const due = this.lastTickAt + (this.options.intervalMs ?? 250);
    if (this.nextTickAt <= due) return;
    clearTimeout(this.timer);
    this.schedule(Math.max(0, due - performance.now()));
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.nextTickAt = performance.now() + delayMs;
    this.timer = setTimeout(() => {
      const started = performance.now();
      this.tick()
        .catch(() => undefined)
        .finally(() => {
          const period = (this.options.busy?.() ?? true) ? (this.options.intervalMs ?? 250) : (this.options.idleIntervalMs ?? 1000);
          this.schedule(Math.max(0, period - (performance.now() - started)));
        });
    }, delayMs);
  }

  private async run(): Promise<PolicyStep> {
    const sampleStartedAt = performance.now();
    this.lastTickAt = sampleStartedAt;
    const detection = await this.sample();
    const seenAt = performance.now();
    const now = (this.options.now ?? Date.now)();
    const specs = this.options.lanes.map((l) => l.spec);
    const step = stepPolicy(
      {
        now,
        localTime: (this.options.localTime ?? localTimeOf)(now),
        detection,
        gpusExpected: this.gpusExpected,
        agentPids: this.options.agentPids(),
        settings: this.options.settings(),
        // No OS adapter reports these yet (docs/agent-gpu-policy.md: known limits).
        fullScreenApp: null,
        secondsSinceInput: null,
      },
      this.state,
      specs,
    );
    this.state = step.state;
    this.latest = { step, detection };
    for (const { spec, control } of this.options.lanes) {
      const decision = step.lanes.find((d) => d.laneId === spec.id)!;
      const previous = this.decided.get(spec.id);
      const command = laneCommand(this.applied.get(spec.id), decision.action, control.activeShards());
      if (command === 'release') {
        const released = control.release(decision.reason);
        if (released > 0) this.options.onRelease?.({ laneId: spec.id, reason: decision.reason, released, sampleStartedAt, seenAt, releasedAt: performance.now() });
      } else if (command === 'hold') {
        control.hold(decision.reason);
      } else if (command === 'resume') {
        control.resume();
      }
      this.applied.set(spec.id, decision.action);
      this.decided.set(spec.id, decision);
      if (!previous || previous.action !== decision.action || previous.rule !== decision.rule) this.options.onChange?.(decision, previous);
    }
    this.options.onStep?.(step, detection);
    return step;
  }

  /** A sample, or CPU-only with the reason when the telemetry is slower than the timeout. */
  private async sample(): Promise<GpuDetection> {
    const pending = (this.pendingSample ??= this.options.telemetry
      .sample()
      .catch((e: unknown): GpuDetection => ({ mode: 'cpu-only', reason: `GPU telemetry failed: ${(e as Error).message}` }))
      .finally(() => (this.pendingSample = undefined)));
    const timeoutMs = this.options.sampleTimeoutMs ?? 750;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<GpuDetection>((resolve) => {
      timer = setTimeout(() => resolve({ mode: 'cpu-only', reason: `GPU telemetry did not answer within ${timeoutMs} ms` }), timeoutMs);
    });
    try {
      return await Promise.race([pending, late]);
    } finally {
      clearTimeout(timer);
    }
  }
}
