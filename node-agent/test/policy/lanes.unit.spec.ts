/**
 * The policy loop's decisions over telemetry sequences: what each lane does as the samples
 * change, on a CPU-only machine, a one-GPU machine whose ONNX Runtime has no CUDA (the CPU lane
 * alone), and a two-GPU machine with a lane per GPU.
 */
import type { GpuDetection, GpuSample } from '../../src/gpu/types';
import {
  DEFAULT_POLICY,
  INITIAL_AGENT_POLICY_STATE,
  type AgentPolicyState,
  type LaneSpec,
  type OwnerSettings,
  type PolicyStep,
  estimateEnergyCost,
  laneCommand,
  stepPolicy,
} from '../../src/policy';
import { AGENT_PID, NOW, SECOND, agentWorker, game, idleGpu, xorg } from './given';

const cpuLane: LaneSpec = { id: 'cpu', gpuUuid: null };
const gpu0: GpuSample = { ...idleGpu, index: 0, uuid: 'GPU-0' };
const gpu1: GpuSample = { ...idleGpu, index: 1, uuid: 'GPU-1', name: 'NVIDIA GeForce RTX 3060' };
const onGpus = (...gpus: GpuSample[]): GpuDetection => ({ mode: 'gpu', source: 'nvidia-smi', system: { driverVersion: '551.86', cudaVersion: '12.4' }, gpus, warnings: [] });
const noGpu: GpuDetection = { mode: 'cpu-only', reason: 'no NVIDIA driver: libnvidia-ml.so.1 not found and nvidia-smi not on PATH' };

interface Moment {
  readonly at: number;
  readonly detection: GpuDetection;
  readonly settings?: Partial<OwnerSettings>;
}

/** Feeds samples in order, as the loop does, and returns every step. */
function run(lanes: readonly LaneSpec[], moments: readonly Moment[], gpusExpected = true): PolicyStep[] {
  let state: AgentPolicyState = INITIAL_AGENT_POLICY_STATE;
  return moments.map((m) => {
    const step = stepPolicy(
      {
        now: NOW + m.at,
        localTime: { weekday: 2, minuteOfDay: 23 * 60 },
        detection: m.detection,
        gpusExpected,
        agentPids: new Set([AGENT_PID]),
        settings: { ...DEFAULT_POLICY, ...m.settings },
        fullScreenApp: null,
        secondsSinceInput: null,
      },
      state,
      lanes,
    );
    state = step.state;
    return step;
  });
}
const actions = (steps: PolicyStep[], lane: string) => steps.map((s) => s.lanes.find((l) => l.laneId === lane)!.action);

describe('a CPU-only machine: only the owner switch and the schedule apply', () => {
  it('works, yields when paused, idles outside the schedule', () => {
    const steps = run(
      [cpuLane],
      [
        { at: 0, detection: noGpu },
        { at: 250, detection: noGpu, settings: { paused: true } },
        { at: 500, detection: noGpu, settings: { schedule: [{ days: [1], from: '09:00', to: '17:00' }] } },
        { at: 750, detection: noGpu },
      ],
      false,
    );
    expect(actions(steps, 'cpu')).toEqual(['work', 'yield-now', 'stay-idle', 'work']);
    expect(steps.map((s) => s.reason)).toEqual(["allowed: within the owner's schedule", 'paused by the owner', "outside the owner's schedule (now Tue 23:00)", "allowed: within the owner's schedule"]);
    expect(steps.map((s) => s.allowsWork)).toEqual([true, false, false, true]);
  });
});

describe('one GPU, CPU execution (ONNX Runtime without CUDA): the CPU lane follows the owner on the GPU', () => {
  const steamless = { ...gpu0, processes: [xorg, game] };

  it('yields the moment a game appears, waits out the quiet period after it ends, then works again', () => {
    const steps = run(
      [cpuLane],
      [
        { at: 0, detection: onGpus(gpu0) },
        { at: 250, detection: onGpus({ ...gpu0, processes: [xorg, agentWorker] }) },
        { at: 500, detection: onGpus(steamless) },
        { at: 750, detection: onGpus(steamless) },
        { at: 60 * SECOND, detection: onGpus(gpu0) },
        { at: 120 * SECOND, detection: onGpus(gpu0) },
        { at: 120.75 * SECOND, detection: onGpus(gpu0) },
      ],
    );
    expect(actions(steps, 'cpu')).toEqual(['work', 'work', 'yield-now', 'yield-now', 'stay-idle', 'stay-idle', 'work']);
    expect(steps[2]!.reason).toBe('game.exe (pid 4242) is using the GPU');
    expect(steps[4]!.reason).toBe('waiting for 120 s without other GPU users: game.exe (pid 4242) seen 59 s ago (61 s to go)');
    expect(steps[5]!.lanes[0]!.rule).toBe('quiet-period');
    // The GPU itself is decided too (for the status page), with the same verdict.
    expect(steps[2]!.gpus.map((g) => g.decision.rule)).toEqual(['other-gpu-user']);
  });

  it('GPU-only limits do not stop CPU work', () => {
    const [hot] = run([cpuLane], [{ at: 0, detection: onGpus({ ...gpu0, temperatureC: 81, powerDrawW: 300 }) }]);
    expect(hot!.gpus[0]!.decision).toMatchObject({ action: 'stay-idle', rule: 'temperature-over-cap' });
    expect(hot!.lanes[0]).toMatchObject({ action: 'work', rule: 'allowed' });
  });

  it('when the telemetry breaks, it can no longer see a game start: no new CPU work', () => {
    const steps = run([cpuLane], [{ at: 0, detection: onGpus(gpu0) }, { at: 250, detection: { mode: 'cpu-only', reason: 'GPU telemetry did not answer within 750 ms' } }]);
    expect(steps[1]!.lanes[0]).toEqual({ laneId: 'cpu', action: 'stay-idle', rule: 'gpu-unavailable', reason: 'cannot see whether the owner uses the GPU: GPU telemetry did not answer within 750 ms' });
  });

  it('but an owner pause still wins over a broken telemetry', () => {
    const [step] = run([cpuLane], [{ at: 0, detection: noGpu, settings: { paused: true } }]);
    expect(step!.lanes[0]).toMatchObject({ action: 'yield-now', rule: 'paused' });
  });
});

describe('two GPUs, a lane each (CUDA), plus the CPU lane', () => {
  const lanes: LaneSpec[] = [
    { id: 'gpu0', gpuUuid: 'GPU-0' },
    { id: 'gpu1', gpuUuid: 'GPU-1' },
    cpuLane,
  ];

  it('a game on GPU 1 stops GPU 1 and the CPU, not GPU 0', () => {
    const [step] = run(lanes, [{ at: 0, detection: onGpus(gpu0, { ...gpu1, processes: [game] }) }]);
    expect(step!.lanes.map((l) => [l.laneId, l.action, l.rule])).toEqual([
      ['gpu0', 'work', 'allowed'],
      ['gpu1', 'yield-now', 'other-gpu-user'],
      ['cpu', 'yield-now', 'other-gpu-user'],
    ]);
    expect(step!.lanes[2]!.reason).toBe('game.exe (pid 4242) is using a GPU');
    expect(step).toMatchObject({ allowsWork: true, reason: 'game.exe (pid 4242) is using a GPU' });
  });

  it('each GPU keeps its own state: the quiet period runs only where the game was', () => {
    const steps = run(lanes, [
      { at: 0, detection: onGpus(gpu0, { ...gpu1, processes: [game] }) },
      { at: 10 * SECOND, detection: onGpus(gpu0, gpu1) },
    ]);
    expect(steps[1]!.lanes.map((l) => l.action)).toEqual(['work', 'stay-idle', 'stay-idle']);
    expect([...steps[1]!.state.gpus.entries()].map(([uuid, s]) => [uuid, s.status])).toEqual([
      ['GPU-0', 'working'],
      ['GPU-1', 'idle'],
    ]);
  });

  it('a GPU that vanishes from the samples is yielded at once', () => {
    const [step] = run(lanes, [{ at: 0, detection: onGpus(gpu0) }]);
    expect(step!.lanes[1]).toEqual({ laneId: 'gpu1', action: 'yield-now', rule: 'gpu-unavailable', reason: 'GPU not visible: GPU-1 is missing from the latest sample' });
    const [blind] = run(lanes, [{ at: 0, detection: { mode: 'cpu-only', reason: 'nvidia-smi sample failed: exit 9' } }]);
    expect(blind!.lanes.map((l) => [l.action, l.rule])).toEqual([
      ['yield-now', 'gpu-unavailable'],
      ['yield-now', 'gpu-unavailable'],
      ['stay-idle', 'gpu-unavailable'],
    ]);
    expect(blind!.allowsWork).toBe(false);
  });
});

describe('laneCommand: what the worker is told', () => {
  it.each([
    [undefined, 'work', 0, 'resume'],
    ['work', 'work', 1, null],
    ['work', 'yield-now', 1, 'release'],
    ['yield-now', 'yield-now', 0, null],
    ['yield-now', 'yield-now', 1, 'release'], // a shard that raced the decision is handed back at the next step
    ['work', 'stay-idle', 1, 'hold'],
    ['stay-idle', 'stay-idle', 1, null],
    ['yield-now', 'stay-idle', 0, 'hold'],
    ['stay-idle', 'work', 0, 'resume'],
    [undefined, 'stay-idle', 0, 'hold'],
    [undefined, 'yield-now', 0, 'release'],
  ] as const)('%s → %s with %d running: %s', (previous, action, running, command) => {
    expect(laneCommand(previous, action, running)).toBe(command);
  });
});

describe('a node that takes no work', () => {
  it('still says whether the owner allows work', () => {
    const steps = run([], [{ at: 0, detection: noGpu }, { at: 250, detection: noGpu, settings: { paused: true } }], false);
    expect(steps.map((s) => [s.allowsWork, s.reason])).toEqual([
      [true, "allowed: within the owner's schedule"],
      [false, 'paused by the owner'],
    ]);
  });
});

describe('estimateEnergyCost', () => {
  it('is the cost of joules, rounded up', () => {
    expect(estimateEnergyCost(3.6e6, 30)).toBe(30); // 1 kWh
    expect(estimateEnergyCost(65 * 600, 30)).toBe(1); // 65 W for 10 min: 0.325 c
    expect(estimateEnergyCost(0, 30)).toBe(0);
  });
});
