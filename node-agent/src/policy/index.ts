/** Owner-first policy: pure decisions on whether the agent may use each GPU now. */
export {
  INITIAL_POLICY_STATE,
  RULE_ACTIONS,
  TEMPERATURE_YIELD_MARGIN_C,
  decideGpuAction,
  type OtherGpuUserSeen,
  type PolicyAction,
  type PolicyDecision,
  type PolicyInput,
  type PolicyRule,
  type PolicyState,
  type ShardEconomics,
} from './decide';
export { currencyDigits, earnsMoreThanCost, estimateCost, formatMoney, isKnownCurrency } from './money';
export { type LocalTime, type ScheduleWindow, formatLocalTime, isWithinSchedule, parseClock } from './schedule';
export { DEFAULT_POLICY, DESKTOP_PROCESS_NAMES, type OwnerSettings, PolicyConfigError, type SettingsValidation, parseSettings, validateSettings } from './settings';
