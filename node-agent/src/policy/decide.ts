/**
 * Owner-first policy: for one GPU, what the worker should do now. Pure: the clock, the telemetry
 * and the owner's activity all arrive in the input, and the state to remember comes back in the
 * decision. Rules are checked in order and the first that applies decides; the ones that give the
 * GPU back at once come first.
 */
import type { GpuProcess, GpuSample } from '../gpu/types';
import { earnsMoreThanCost, estimateCost, formatMoney } from './money';
import { type LocalTime, formatLocalTime, isWithinSchedule } from './schedule';
import type { OwnerSettings } from './settings';

/** Far over the temperature cap the running shard is stopped too, not only the next one. */
export const TEMPERATURE_YIELD_MARGIN_C = 5;

/** When another GPU user (or a full-screen app) was last seen, and who it was. */
export interface OtherGpuUserSeen {
  /** Milliseconds since the epoch, from a past {@link PolicyInput.now}. */
  readonly at: number;
  /** Who, for reasons: "game.exe (pid 4242)" or "a full-screen app". */
  readonly who: string;
}

/**
 * What the policy remembers between decisions, per GPU. Feed each decision's `nextState` into the
 * next call; start from {@link INITIAL_POLICY_STATE}.
 */
export type PolicyState =
  | {
      /** Not working, for a reason other than the owner being on the GPU. */
      readonly status: 'idle';
      /** For the quiet period. */
      readonly lastOtherGpuUser: OtherGpuUserSeen | null;
    }
  | {
      /** Allowed to work. */
      readonly status: 'working';
      /** Since when (ms since the epoch). */
      readonly since: number;
      /** For the quiet period. */
      readonly lastOtherGpuUser: OtherGpuUserSeen | null;
    }
  | {
      /** Gave the GPU back to the owner (or to the owner's off switch). */
      readonly status: 'yielding';
      /** Since when (ms since the epoch). */
      readonly since: number;
      /** For the quiet period. */
      readonly lastOtherGpuUser: OtherGpuUserSeen | null;
    };

/** The state of a GPU the policy has not decided on yet. */
export const INITIAL_POLICY_STATE: PolicyState = { status: 'idle', lastOtherGpuUser: null };

/** What the next shard is expected to bring and take. */
export interface ShardEconomics {
  /** Expected earnings, whole smallest units of `currency` (already converted from WEBI). */
  readonly expectedEarnings: number;
  /** ISO 4217 code of `expectedEarnings`; must equal the owner's tariff currency. */
  readonly currency: string;
  /** Expected run time, seconds. */
  readonly expectedSeconds: number;
  /** Expected board power while it runs, W; default: the power cap in force (the most it may draw). */
  readonly expectedPowerW?: number | null;
  /** GPU memory it needs, MiB; default 0 (only what the agent already holds is counted). */
  readonly expectedVramMb?: number | null;
}

/** Everything one decision depends on. */
export interface PolicyInput {
  /** Now, milliseconds since the epoch. */
  readonly now: number;
  /** Now, in the owner's local time, for the schedule. */
  readonly localTime: LocalTime;
  /** A fresh sample of this GPU. */
  readonly gpu: GpuSample;
  /** PIDs of the agent and its workers: their GPU use is never mistaken for the owner's. */
  readonly agentPids: ReadonlySet<number>;
  /** The owner's settings, validated. */
  readonly settings: OwnerSettings;
  /** Whether a full-screen app is in the foreground; `null` where the OS cannot tell. */
  readonly fullScreenApp: boolean | null;
  /** Seconds since the last keyboard or mouse input; `null` where the OS cannot tell. */
  readonly secondsSinceInput: number | null;
  /** The previous decision's `nextState`. */
  readonly state: PolicyState;
  /** The next shard on offer, or `null` when none is known (profitability is then not judged). */
  readonly nextShard: ShardEconomics | null;
}

/**
 * - `work`: the worker may run shards on this GPU, and start new ones.
 * - `stay-idle`: start no new shard; a shard already running may finish.
 * - `yield-now`: stop at once: the caller must release its lease on this GPU within 1 s.
 */
export type PolicyAction = 'work' | 'yield-now' | 'stay-idle';

/** Which rule decided, for logs, the UI and the heartbeat. Each rule always gives the same action. */
export type PolicyRule =
  | 'paused'
  | 'other-gpu-user'
  | 'full-screen-app'
  | 'owner-input'
  | 'temperature-critical'
  | 'quiet-period'
  | 'outside-schedule'
  | 'input-idle-unknown'
  | 'temperature-unknown'
  | 'temperature-over-cap'
  | 'power-over-cap'
  | 'vram-free'
  | 'vram-share'
  | 'cost-unknown'
  | 'unprofitable'
  | 'allowed';

/** The action each rule leads to. */
export const RULE_ACTIONS: Readonly<Record<PolicyRule, PolicyAction>> = {
  paused: 'yield-now',
  'other-gpu-user': 'yield-now',
  'full-screen-app': 'yield-now',
  'owner-input': 'yield-now',
  'temperature-critical': 'yield-now',
  'quiet-period': 'stay-idle',
  'outside-schedule': 'stay-idle',
  'input-idle-unknown': 'stay-idle',
  'temperature-unknown': 'stay-idle',
  'temperature-over-cap': 'stay-idle',
  'power-over-cap': 'stay-idle',
  'vram-free': 'stay-idle',
  'vram-share': 'stay-idle',
  'cost-unknown': 'stay-idle',
  unprofitable: 'stay-idle',
  allowed: 'work',
};

/** A decision for one GPU. */
export interface PolicyDecision {
  /** What to do now. */
  readonly action: PolicyAction;
  /** The rule that decided. */
  readonly rule: PolicyRule;
  /** Why, for the owner: "game.exe (pid 4242) is using the GPU". */
  readonly reason: string;
  /** Pass it back as the next input's `state`. */
  readonly nextState: PolicyState;
}

type Verdict = { readonly rule: PolicyRule; readonly reason: string } | null;

interface Facts {
  readonly input: PolicyInput;
  /** Non-agent, non-ignored processes on this GPU. */
  readonly others: readonly GpuProcess[];
  /** Who was last seen using the GPU, now included. */
  readonly lastOtherGpuUser: OtherGpuUserSeen | null;
  /** The power cap in force, W; `null` when neither an absolute cap nor the driver's limit is known. */
  readonly powerCapW: number | null;
}

/** Decides what the worker should do on one GPU now. */
export function decideGpuAction(input: PolicyInput): PolicyDecision {
  const facts = gatherFacts(input);
  for (const rule of RULES) {
    const verdict = rule(facts);
    if (verdict) return decision(verdict, input, facts.lastOtherGpuUser);
  }
  return decision({ rule: 'allowed', reason: allowedReason(facts) }, input, facts.lastOtherGpuUser);
}

/** The processes that mean someone else uses a GPU: neither the agent's (by PID) nor ignored by name. */
export function otherGpuUsers(processes: readonly GpuProcess[], agentPids: ReadonlySet<number>, settings: OwnerSettings): GpuProcess[] {
  const ignored = new Set(settings.ignoredProcessNames.map((n) => n.toLowerCase()));
  return processes.filter((p) => !agentPids.has(p.pid) && !(p.name !== null && ignored.has(p.name.toLowerCase())));
}

function gatherFacts(input: PolicyInput): Facts {
  const { gpu, settings, agentPids, now, state } = input;
  const others = otherGpuUsers(gpu.processes, agentPids, settings);
  let lastOtherGpuUser = state.lastOtherGpuUser;
  if (others.length > 0) lastOtherGpuUser = { at: now, who: describeProcesses(others) };
  else if (input.fullScreenApp === true) lastOtherGpuUser = { at: now, who: 'a full-screen app' };
  const caps = [settings.powerCapW, gpu.powerLimitW === null ? null : gpu.powerLimitW * settings.powerCapShareOfLimit].filter((c): c is number => c !== null);
  return { input, others, lastOtherGpuUser, powerCapW: caps.length ? Math.min(...caps) : null };
}

const RULES: readonly ((facts: Facts) => Verdict)[] = [
  ({ input }) => (input.settings.paused ? { rule: 'paused', reason: 'paused by the owner' } : null),

  ({ others }) => (others.length > 0 ? { rule: 'other-gpu-user', reason: `${describeProcesses(others)} ${others.length === 1 ? 'is' : 'are'} using the GPU` } : null),

  ({ input }) => (input.fullScreenApp === true ? { rule: 'full-screen-app', reason: 'a full-screen app is in the foreground' } : null),

  ({ input: { settings, secondsSinceInput } }) =>
    settings.requireIdleInputSeconds !== null && secondsSinceInput !== null && secondsSinceInput < settings.requireIdleInputSeconds
      ? { rule: 'owner-input', reason: `the owner used the keyboard or mouse ${Math.floor(secondsSinceInput)} s ago (work needs ${settings.requireIdleInputSeconds} s without input)` }
      : null,

  ({ input: { gpu, settings } }) =>
    gpu.temperatureC !== null && gpu.temperatureC > settings.temperatureCapC + TEMPERATURE_YIELD_MARGIN_C
      ? { rule: 'temperature-critical', reason: `GPU at ${gpu.temperatureC} °C, more than ${TEMPERATURE_YIELD_MARGIN_C} °C over the ${settings.temperatureCapC} °C cap` }
      : null,

  ({ input: { now, settings }, lastOtherGpuUser: last }) => {
    if (!last) return null;
    const quietMs = settings.quietPeriodSeconds * 1000;
    const elapsedMs = now - last.at;
    if (elapsedMs >= quietMs) return null;
    const ago = Math.floor(elapsedMs / 1000);
    const left = Math.ceil((quietMs - elapsedMs) / 1000);
    return { rule: 'quiet-period', reason: `waiting for ${settings.quietPeriodSeconds} s without other GPU users: ${last.who} seen ${ago} s ago (${left} s to go)` };
  },

  ({ input: { settings, localTime } }) =>
    isWithinSchedule(settings.schedule, localTime) ? null : { rule: 'outside-schedule', reason: `outside the owner's schedule (now ${formatLocalTime(localTime)})` },

  ({ input: { settings, secondsSinceInput } }) =>
    settings.requireIdleInputSeconds !== null && secondsSinceInput === null
      ? { rule: 'input-idle-unknown', reason: `the owner requires ${settings.requireIdleInputSeconds} s without input, but this system does not report input idle time` }
      : null,

  ({ input: { gpu } }) => (gpu.temperatureC === null ? { rule: 'temperature-unknown', reason: 'the GPU reports no temperature; no new shard without one' } : null),

  ({ input: { gpu, settings } }) =>
    gpu.temperatureC !== null && gpu.temperatureC > settings.temperatureCapC
      ? { rule: 'temperature-over-cap', reason: `GPU at ${gpu.temperatureC} °C, over the ${settings.temperatureCapC} °C cap: no new shard` }
      : null,

  ({ input: { gpu }, powerCapW }) =>
    gpu.powerDrawW !== null && powerCapW !== null && gpu.powerDrawW > powerCapW
      ? { rule: 'power-over-cap', reason: `GPU drawing ${Math.round(gpu.powerDrawW)} W, over the ${Math.round(powerCapW)} W cap: no new shard` }
      : null,

  ({ input: { gpu, nextShard } }) => {
    const need = nextShard?.expectedVramMb ?? 0;
    return need > gpu.vramFreeMb ? { rule: 'vram-free', reason: `the next shard needs ${need} MiB of GPU memory but ${gpu.vramFreeMb} MiB is free` } : null;
  },

  ({ input: { gpu, settings, agentPids, nextShard } }) => {
    const mine = gpu.processes.filter((p) => agentPids.has(p.pid));
    // Windows (WDDM) does not account memory per process: count all memory in use as the agent's.
    const held = mine.every((p) => p.usedMemoryMb !== null) ? mine.reduce((sum, p) => sum + (p.usedMemoryMb ?? 0), 0) : gpu.vramTotalMb - gpu.vramFreeMb;
    const total = held + (nextShard?.expectedVramMb ?? 0);
    const allowed = Math.floor(gpu.vramTotalMb * settings.maxVramShare);
    if (total <= allowed) return null;
    const pct = Math.round((total / gpu.vramTotalMb) * 100);
    return { rule: 'vram-share', reason: `the agent would hold ${total} MiB of ${gpu.vramTotalMb} MiB (${pct}%), over the ${Math.round(settings.maxVramShare * 100)}% the owner allows` };
  },

  (facts) => profitability(facts),
];

function profitability({ input: { settings, nextShard, gpu }, powerCapW }: Facts): Verdict {
  if (!settings.pauseWhenUnprofitable || !nextShard) return null;
  if (nextShard.currency !== settings.currency) {
    return { rule: 'cost-unknown', reason: `cannot compare earnings in ${nextShard.currency} with a tariff in ${settings.currency}` };
  }
  const powerW = nextShard.expectedPowerW ?? powerCapW ?? gpu.powerLimitW;
  if (powerW === null) {
    return { rule: 'cost-unknown', reason: 'cannot estimate the electricity cost: the GPU reports no power limit; set powerCapW' };
  }
  const { expectedEarnings, expectedSeconds } = nextShard;
  let cost: number;
  try {
    if (earnsMoreThanCost(expectedEarnings, powerW, expectedSeconds, settings.tariffPerKwh)) return null;
    cost = estimateCost(powerW, expectedSeconds, settings.tariffPerKwh);
  } catch (e) {
    return { rule: 'cost-unknown', reason: `cannot judge the next shard's profit: ${(e as Error).message}` };
  }
  return {
    rule: 'unprofitable',
    reason:
      `unprofitable: the next shard earns ${formatMoney(expectedEarnings, settings.currency)} but its electricity costs up to ` +
      `${formatMoney(cost, settings.currency)} (${Math.round(powerW)} W for ${Math.round(expectedSeconds)} s at ${formatMoney(settings.tariffPerKwh, settings.currency)}/kWh)`,
  };
}

function allowedReason({ input: { gpu } }: Facts): string {
  return `allowed: no one else on the GPU, ${gpu.temperatureC} °C`;
}

function decision(verdict: NonNullable<Verdict>, input: PolicyInput, lastOtherGpuUser: OtherGpuUserSeen | null): PolicyDecision {
  const action = RULE_ACTIONS[verdict.rule];
  return { action, rule: verdict.rule, reason: verdict.reason, nextState: nextState(action, input, lastOtherGpuUser) };
}

/** The state after an action: `since` is kept while the status does not change. */
export function nextState(action: PolicyAction, { state, now }: Pick<PolicyInput, 'state' | 'now'>, lastOtherGpuUser: OtherGpuUserSeen | null): PolicyState {
  switch (action) {
    case 'work':
      return { status: 'working', since: state.status === 'working' ? state.since : now, lastOtherGpuUser };
    case 'yield-now':
      return { status: 'yielding', since: state.status === 'yielding' ? state.since : now, lastOtherGpuUser };
    case 'stay-idle':
      return { status: 'idle', lastOtherGpuUser };
    default:
      return assertNever(action);
  }
}

/** "game.exe (pid 4242)", "a (pid 1) and b (pid 2)", "a (pid 1), b (pid 2), c (pid 3) and 2 more". */
export function describeProcesses(processes: readonly GpuProcess[]): string {
  const names = processes.slice(0, 3).map((p) => (p.name ? `${p.name} (pid ${p.pid})` : `pid ${p.pid}`));
  if (processes.length > 3) return `${names.join(', ')} and ${processes.length - 3} more`;
  if (names.length <= 1) return names.join('');
  return `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`;
}

function assertNever(value: never): never {
  throw new Error(`unexpected ${JSON.stringify(value)}`);
}
