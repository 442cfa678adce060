/**
 * One policy step for the whole agent. The agent runs shards in lanes: one per usable GPU (CUDA
 * work on that card) and one for the CPU. Each GPU is decided on its own ({@link decideGpuAction});
 * the CPU lane by the owner rules over the whole machine ({@link decideMachineAction}). Pure: the
 * driver (`policy-loop.ts`) samples, calls {@link stepPolicy}, and applies {@link laneCommand}.
 */
import type { GpuDetection, GpuSample } from '../gpu/types';
import { INITIAL_POLICY_STATE, type PolicyAction, type PolicyDecision, type PolicyInput, type PolicyRule, type PolicyState, decideGpuAction } from './decide';
import { decideMachineAction } from './machine';

/** A lane as the policy sees it. */
export interface LaneSpec {
  /** "cpu", "gpu0", … */
  readonly id: string;
  /** The GPU a GPU lane runs on (its UUID); `null` for the CPU lane. */
  readonly gpuUuid: string | null;
}

/** Every rule of the policy, plus the agent's own: a GPU it cannot see any more. */
export type LaneRule = PolicyRule | 'gpu-unavailable';

/** What one lane must do now, and why. */
export interface LaneDecision {
  readonly laneId: string;
  readonly action: PolicyAction;
  readonly rule: LaneRule;
  readonly reason: string;
}

/** The decision for one GPU of the latest sample. */
export interface GpuDecision {
  readonly gpu: GpuSample;
  readonly decision: PolicyDecision;
}

/** What the policy remembers between steps: the machine's state and each GPU's, by UUID. */
export interface AgentPolicyState {
  readonly machine: PolicyState;
  readonly gpus: ReadonlyMap<string, PolicyState>;
}

export const INITIAL_AGENT_POLICY_STATE: AgentPolicyState = { machine: INITIAL_POLICY_STATE, gpus: new Map() };

/** Everything one step depends on. */
export interface StepInput extends Pick<PolicyInput, 'now' | 'localTime' | 'agentPids' | 'settings' | 'fullScreenApp' | 'secondsSinceInput'> {
  /** The latest telemetry sample. */
  readonly detection: GpuDetection;
  /**
   * Whether the agent found GPUs when it started. A CPU-only sample then means the telemetry
   * broke (driver reset, nvidia-smi hung), and the agent can no longer see a game start.
   */
  readonly gpusExpected: boolean;
}

/** The outcome of one step. */
export interface PolicyStep {
  readonly state: AgentPolicyState;
  /** The machine-wide decision (the CPU lane's, before a broken telemetry is taken into account). */
  readonly machine: PolicyDecision;
  /** One per GPU in the sample. */
  readonly gpus: readonly GpuDecision[];
  /** One per lane, in the order given. */
  readonly lanes: readonly LaneDecision[];
  /** Whether some lane may take work (the machine decision when there are no lanes): what the heartbeat says. */
  readonly allowsWork: boolean;
  /** Why: the reason of the CPU lane, else of the first lane. */
  readonly reason: string;
}

/** Decides every GPU, the machine, and from them every lane. */
export function stepPolicy(input: StepInput, state: AgentPolicyState, lanes: readonly LaneSpec[]): PolicyStep {
  const { detection } = input;
  const samples = detection.mode === 'gpu' ? detection.gpus : [];
  const gpus = samples.map((gpu): GpuDecision => ({ gpu, decision: decideGpuAction({ ...input, gpu, state: state.gpus.get(gpu.uuid) ?? INITIAL_POLICY_STATE, nextShard: null }) }));
  const machine = decideMachineAction({ ...input, gpus: samples, state: state.machine });
  const blind = input.gpusExpected && detection.mode === 'cpu-only' ? detection.reason : null;

  const laneDecisions = lanes.map((lane): LaneDecision => {
    if (lane.gpuUuid === null) {
      if (blind !== null && machine.action === 'work') {
        return { laneId: lane.id, action: 'stay-idle', rule: 'gpu-unavailable', reason: `cannot see whether the owner uses the GPU: ${blind}` };
      }
      return { laneId: lane.id, action: machine.action, rule: machine.rule, reason: machine.reason };
    }
    const mine = gpus.find((g) => g.gpu.uuid === lane.gpuUuid);
    if (!mine) {
      const why = blind ?? `${lane.gpuUuid} is missing from the latest sample`;
      return { laneId: lane.id, action: 'yield-now', rule: 'gpu-unavailable', reason: `GPU not visible: ${why}` };
    }
    return { laneId: lane.id, action: mine.decision.action, rule: mine.decision.rule, reason: mine.decision.reason };
  });

  const nextGpus = new Map(state.gpus);
  for (const g of gpus) nextGpus.set(g.gpu.uuid, g.decision.nextState);
  // A node without lanes (it takes no work) still tells the network what its owner allows.
  const allowsWork = laneDecisions.length ? laneDecisions.some((l) => l.action === 'work') : machine.action === 'work';
  const shown = laneDecisions.find((l) => lanes.find((s) => s.id === l.laneId)?.gpuUuid === null) ?? laneDecisions[0];
  return {
    state: { machine: machine.nextState, gpus: nextGpus },
    machine,
    gpus,
    lanes: laneDecisions,
    allowsWork,
    reason: shown?.reason ?? machine.reason,
  };
}

/** What the driver tells a lane's worker. */
export type LaneCommand = 'release' | 'hold' | 'resume';

/**
 * The worker call that carries out `action`, given what was applied last (`undefined` before the
 * first step) and the shards running now; `null` when nothing needs doing.
 * - `yield-now` → `release`: hand back every lease at once, take nothing new. Repeated while a
 *   shard runs (one that started in a race with the decision is released at the next step).
 * - `stay-idle` → `hold`: the running shards finish, nothing new is taken.
 * - `work` → `resume`.
 */
export function laneCommand(previous: PolicyAction | undefined, action: PolicyAction, activeShards: number): LaneCommand | null {
  switch (action) {
    case 'yield-now':
      return previous !== 'yield-now' || activeShards > 0 ? 'release' : null;
    case 'stay-idle':
      return previous === 'stay-idle' ? null : 'hold';
    case 'work':
      return previous === 'work' ? null : 'resume';
    default: {
      const never: never = action;
      throw new Error(`unexpected action ${String(never)}`);
    }
  }
}
