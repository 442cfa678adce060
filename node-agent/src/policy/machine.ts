/**
 * The owner-first policy for work that runs on the CPU (every node's `cpu.*` lane, and all the
 * work of a node without a usable GPU). Only the rules about the owner apply: the off switch, a
 * process on any GPU (a game uses the CPU too), a full-screen app, recent input, the quiet period
 * and the schedule. GPU temperature, power, memory and profit are matters of a GPU lane.
 */
import type { GpuSample } from '../gpu/types';
import { type OtherGpuUserSeen, type PolicyDecision, type PolicyInput, type PolicyRule, RULE_ACTIONS, describeProcesses, nextState, otherGpuUsers } from './decide';
import { formatLocalTime, isWithinSchedule } from './schedule';

/** Everything the machine-wide decision depends on: {@link PolicyInput} with every GPU instead of one. */
export interface MachinePolicyInput extends Pick<PolicyInput, 'now' | 'localTime' | 'agentPids' | 'settings' | 'fullScreenApp' | 'secondsSinceInput' | 'state'> {
  /** The latest sample of every GPU; empty on a machine without one. */
  readonly gpus: readonly GpuSample[];
}

type Verdict = { readonly rule: PolicyRule; readonly reason: string } | null;

/** Decides whether the agent may run CPU work now. */
export function decideMachineAction(input: MachinePolicyInput): PolicyDecision {
  const { now, settings, localTime, secondsSinceInput, fullScreenApp } = input;
  const others = input.gpus.flatMap((g) => otherGpuUsers(g.processes, input.agentPids, settings));
  let last: OtherGpuUserSeen | null = input.state.lastOtherGpuUser;
  if (others.length > 0) last = { at: now, who: describeProcesses(others) };
  else if (fullScreenApp === true) last = { at: now, who: 'a full-screen app' };

  const quiet = (): Verdict => {
    if (!last) return null;
    const quietMs = settings.quietPeriodSeconds * 1000;
    const elapsedMs = now - last.at;
    if (elapsedMs >= quietMs) return null;
    const ago = Math.floor(elapsedMs / 1000);
    const left = Math.ceil((quietMs - elapsedMs) / 1000);
    return { rule: 'quiet-period', reason: `waiting for ${settings.quietPeriodSeconds} s without other GPU users: ${last.who} seen ${ago} s ago (${left} s to go)` };
  };
  const gpuWord = input.gpus.length === 1 ? 'the GPU' : 'a GPU';
  const rules: readonly (() => Verdict)[] = [
    () => (settings.paused ? { rule: 'paused', reason: 'paused by the owner' } : null),
    () => (others.length > 0 ? { rule: 'other-gpu-user', reason: `${describeProcesses(others)} ${others.length === 1 ? 'is' : 'are'} using ${gpuWord}` } : null),
    () => (fullScreenApp === true ? { rule: 'full-screen-app', reason: 'a full-screen app is in the foreground' } : null),
    () =>
      settings.requireIdleInputSeconds !== null && secondsSinceInput !== null && secondsSinceInput < settings.requireIdleInputSeconds
        ? { rule: 'owner-input', reason: `the owner used the keyboard or mouse ${Math.floor(secondsSinceInput)} s ago (work needs ${settings.requireIdleInputSeconds} s without input)` }
        : null,
    quiet,
    () => (isWithinSchedule(settings.schedule, localTime) ? null : { rule: 'outside-schedule', reason: `outside the owner's schedule (now ${formatLocalTime(localTime)})` }),
    () =>
      settings.requireIdleInputSeconds !== null && secondsSinceInput === null
        ? { rule: 'input-idle-unknown', reason: `the owner requires ${settings.requireIdleInputSeconds} s without input, but this system does not report input idle time` }
        : null,
  ];
  const verdict = rules.reduce<Verdict>((found, rule) => found ?? rule(), null) ?? {
    rule: 'allowed',
    reason: input.gpus.length ? `allowed: no one else on ${input.gpus.length === 1 ? 'the GPU' : 'the GPUs'}` : "allowed: within the owner's schedule",
  };
  const action = RULE_ACTIONS[verdict.rule];
  return { action, rule: verdict.rule, reason: verdict.reason, nextState: nextState(action, input, last) };
}
