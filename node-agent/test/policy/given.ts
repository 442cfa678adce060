/** Builders for policy specs: a quiet RTX 3080 evening, changed one fact at a time. */
import type { GpuProcess, GpuSample } from '../../src/gpu/types';
import { DEFAULT_POLICY, INITIAL_POLICY_STATE, type OwnerSettings, type PolicyInput, type PolicyState, type ShardEconomics } from '../../src/policy';

/** Tuesday 2024-06-11 21:00:00 UTC; the owner's local time is given separately. */
export const NOW = Date.UTC(2024, 5, 11, 21, 0, 0);
export const SECOND = 1000;
export const AGENT_PID = 7001;

export const xorg: GpuProcess = { pid: 1357, usedMemoryMb: 412, name: 'Xorg', kind: 'graphics' };
export const agentWorker: GpuProcess = { pid: AGENT_PID, usedMemoryMb: 2048, name: 'node', kind: 'compute' };
export const game: GpuProcess = { pid: 4242, usedMemoryMb: 6144, name: 'game.exe', kind: 'compute+graphics' };

export const idleGpu: GpuSample = {
  index: 0,
  name: 'NVIDIA GeForce RTX 3080',
  uuid: 'GPU-5f1c2a8e-77d4-3c1e-9b0a-2d6f4e8c1a93',
  vramTotalMb: 10240,
  vramFreeMb: 9500,
  utilizationPct: 2,
  temperatureC: 52,
  powerDrawW: 31.5,
  powerLimitW: 320,
  computeCapability: '8.6',
  processes: [xorg],
};

/** 10 minutes at 256 W (the default cap: 80% of 320 W) at 30 cents/kWh costs 1.28 cents. */
export const profitableShard: ShardEconomics = { expectedEarnings: 5, currency: 'EUR', expectedSeconds: 600, expectedVramMb: 2048 };

export const baseInput: PolicyInput = {
  now: NOW,
  localTime: { weekday: 2, minuteOfDay: 23 * 60 },
  gpu: idleGpu,
  agentPids: new Set([AGENT_PID]),
  settings: DEFAULT_POLICY,
  fullScreenApp: false,
  secondsSinceInput: 900,
  state: INITIAL_POLICY_STATE,
  nextShard: profitableShard,
};

/** Changes to the base input, with GPU and settings changed field by field. */
export interface Given {
  readonly gpu?: Partial<GpuSample>;
  readonly settings?: Partial<OwnerSettings>;
  readonly state?: PolicyState;
  readonly nextShard?: Partial<ShardEconomics> | null;
  readonly fullScreenApp?: boolean | null;
  readonly secondsSinceInput?: number | null;
  readonly localTime?: PolicyInput['localTime'];
  readonly now?: number;
  readonly agentPids?: ReadonlySet<number>;
}

export function given(changes: Given = {}): PolicyInput {
  const { gpu, settings, nextShard, ...rest } = changes;
  return {
    ...baseInput,
    ...rest,
    gpu: { ...baseInput.gpu, ...gpu },
    settings: { ...baseInput.settings, ...settings },
    nextShard: nextShard === null ? null : { ...profitableShard, ...nextShard },
  };
}

export const working = (since = NOW - 300 * SECOND): PolicyState => ({ status: 'working', since, lastOtherGpuUser: null });
