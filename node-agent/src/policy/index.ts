/** Owner-first policy: pure decisions on whether the agent may use each GPU now. */
export {
  INITIAL_POLICY_STATE,
  RULE_ACTIONS,
  TEMPERATURE_YIELD_MARGIN_C,
  decideGpuAction,
  describeProcesses,
  otherGpuUsers,
  type OtherGpuUserSeen,
  type PolicyAction,
  type PolicyDecision,
  type PolicyInput,
  type PolicyRule,
  type PolicyState,
  type ShardEconomics,
} from './decide';
export { currencyDigits, earnsMoreThanCost, estimateCost, estimateEnergyCost, formatMoney, isKnownCurrency } from './money';
export { type MachinePolicyInput, decideMachineAction } from './machine';
export {
  INITIAL_AGENT_POLICY_STATE,
  type AgentPolicyState,
  type GpuDecision,
  type LaneCommand,
  type LaneDecision,
  type LaneRule,
  type LaneSpec,
  type PolicyStep,
  type StepInput,
  laneCommand,
  stepPolicy,
} from './lanes';
export { type LocalTime, type ScheduleWindow, formatLocalTime, isWithinSchedule, parseClock } from './schedule';
export { DEFAULT_POLICY, DESKTOP_PROCESS_NAMES, type OwnerSettings, PolicyConfigError, type SettingsValidation, parseSettings, validateSettings } from './settings';
