/**
 * The owner's settings, their safe defaults for a gaming PC, and the validator that turns a
 * config file into settings or into errors that name each bad field.
 */
import { isKnownCurrency } from './money';
import { type ScheduleWindow, parseClock } from './schedule';

/** What the owner allows. Every limit applies per GPU. */
export interface OwnerSettings {
  /** The owner's off switch: while true, the agent yields every GPU at once. */
  readonly paused: boolean;
  /** No new shard above this core temperature (°C); yield at once above it + 5 °C. */
  readonly temperatureCapC: number;
  /** An absolute board-power cap in W, or `null` for none (the share of the limit still applies). */
  readonly powerCapW: number | null;
  /** Cap as a share of the power limit the driver enforces (0–1]; the lower of the two caps wins. */
  readonly powerCapShareOfLimit: number;
  /** Most of a GPU's memory the agent's processes may hold, as a share (0–1]. */
  readonly maxVramShare: number;
  /** Work only after this long without keyboard or mouse input; `null` to not require it. */
  readonly requireIdleInputSeconds: number | null;
  /** After another GPU user (or a full-screen app) was last seen, wait this long before working. */
  readonly quietPeriodSeconds: number;
  /** When work is allowed, in the owner's local time. At least one window. */
  readonly schedule: readonly ScheduleWindow[];
  /** Electricity price: whole smallest currency units (e.g. cents) per kWh. */
  readonly tariffPerKwh: number;
  /** ISO 4217 code of the tariff, e.g. "EUR". */
  readonly currency: string;
  /** Stay idle when a shard would earn less than its electricity costs. */
  readonly pauseWhenUnprofitable: boolean;
  /**
   * Processes that hold a GPU context without meaning the owner is using the GPU (the desktop
   * compositor and shell). Compared case-insensitively with the executable name.
   */
  readonly ignoredProcessNames: readonly string[];
}

/**
 * Desktop compositors and shells: they keep a GPU context for as long as a session is open, on
 * the card that drives the display, whether or not anyone is at the machine.
 */
export const DESKTOP_PROCESS_NAMES: readonly string[] = [
  // Linux
  'Xorg',
  'Xwayland',
  'gnome-shell',
  'kwin_x11',
  'kwin_wayland',
  'plasmashell',
  'mutter',
  'cinnamon',
  'xfwm4',
  'picom',
  'sway',
  'Hyprland',
  // Windows
  'dwm.exe',
  'explorer.exe',
  'ShellExperienceHost.exe',
  'StartMenuExperienceHost.exe',
  'SearchHost.exe',
  'SearchApp.exe',
  'TextInputHost.exe',
  'LockApp.exe',
  'ApplicationFrameHost.exe',
  'NVIDIA Overlay.exe',
  'nvcontainer.exe',
];

/** Defaults that keep a gaming PC its owner's: cool, quiet, and out of the way of any game. */
export const DEFAULT_POLICY: OwnerSettings = {
  paused: false,
  temperatureCapC: 78,
  powerCapW: null,
  powerCapShareOfLimit: 0.8,
  maxVramShare: 0.7,
  requireIdleInputSeconds: null,
  quietPeriodSeconds: 120,
  schedule: [{ days: [0, 1, 2, 3, 4, 5, 6], from: '00:00', to: '24:00' }],
  tariffPerKwh: 30,
  currency: 'EUR',
  pauseWhenUnprofitable: true,
  ignoredProcessNames: DESKTOP_PROCESS_NAMES,
};

/** The outcome of {@link validateSettings}. */
export type SettingsValidation = { readonly ok: true; readonly settings: OwnerSettings } | { readonly ok: false; readonly errors: readonly string[] };

/** A configuration that {@link parseSettings} refused, with every problem found. */
export class PolicyConfigError extends Error {
  constructor(
    /** One message per bad field, e.g. "maxVramShare must be > 0 and <= 1 (got 1.5)". */
    readonly errors: readonly string[],
  ) {
    super(`invalid owner settings:\n- ${errors.join('\n- ')}`);
    this.name = 'PolicyConfigError';
  }
}

const KEYS = Object.keys(DEFAULT_POLICY) as (keyof OwnerSettings)[];

/**
 * Checks settings as read from a config file. Missing fields take {@link DEFAULT_POLICY}'s value;
 * unknown fields are errors (a typo must not silently fall back to a default). Collects every
 * problem rather than stopping at the first.
 */
export function validateSettings(raw: unknown): SettingsValidation {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { ok: false, errors: ['settings must be an object'] };
  const input = raw as Record<string, unknown>;
  const errors: string[] = [];
  for (const key of Object.keys(input)) if (!(KEYS as string[]).includes(key)) errors.push(`unknown setting "${key}"`);
  const get = <K extends keyof OwnerSettings>(key: K): unknown => (key in input ? input[key] : DEFAULT_POLICY[key]);
  const shown = (v: unknown): string => JSON.stringify(v) ?? String(v);

  const bool = (key: 'paused' | 'pauseWhenUnprofitable'): void => {
    if (typeof get(key) !== 'boolean') errors.push(`${key} must be true or false (got ${shown(get(key))})`);
  };
  const range = (key: keyof OwnerSettings, min: number, max: number, minExclusive = false, nullable = false): void => {
    const v = get(key);
    if (nullable && v === null) return;
    const ok = typeof v === 'number' && Number.isFinite(v) && (minExclusive ? v > min : v >= min) && v <= max;
    if (!ok) errors.push(`${key} must be a number ${minExclusive ? '>' : '>='} ${min} and <= ${max}${nullable ? ', or null' : ''} (got ${shown(v)})`);
  };

  bool('paused');
  bool('pauseWhenUnprofitable');
  range('temperatureCapC', 30, 95);
  range('powerCapW', 0, 2000, true, true);
  range('powerCapShareOfLimit', 0, 1, true);
  range('maxVramShare', 0, 1, true);
  range('requireIdleInputSeconds', 0, 86_400, false, true);
  range('quietPeriodSeconds', 0, 86_400);

  const tariff = get('tariffPerKwh');
  if (!Number.isSafeInteger(tariff) || (tariff as number) < 0) {
    errors.push(`tariffPerKwh must be a whole number >= 0 of the currency's smallest unit per kWh, e.g. 30 for 0.30 EUR (got ${shown(tariff)})`);
  }
  const currency = get('currency');
  if (typeof currency !== 'string' || !isKnownCurrency(currency)) errors.push(`currency must be an ISO 4217 code such as "EUR" (got ${shown(currency)})`);

  const ignored = get('ignoredProcessNames');
  if (!Array.isArray(ignored) || !ignored.every((n) => typeof n === 'string' && n.length > 0)) {
    errors.push(`ignoredProcessNames must be a list of process names (got ${shown(ignored)})`);
  }

  const schedule = get('schedule');
  if (!Array.isArray(schedule) || schedule.length === 0) {
    errors.push('schedule must list at least one window, e.g. [{"days":[0,1,2,3,4,5,6],"from":"00:00","to":"24:00"}]; to stop working, set paused');
  } else {
    schedule.forEach((w: unknown, i) => errors.push(...windowErrors(w, `schedule[${i}]`)));
  }

  return errors.length ? { ok: false, errors } : { ok: true, settings: Object.fromEntries(KEYS.map((k) => [k, get(k)])) as unknown as OwnerSettings };
}

/** {@link validateSettings}, throwing {@link PolicyConfigError} on a bad config. */
export function parseSettings(raw: unknown): OwnerSettings {
  const result = validateSettings(raw);
  if (!result.ok) throw new PolicyConfigError(result.errors);
  return result.settings;
}

function windowErrors(raw: unknown, at: string): string[] {
  if (typeof raw !== 'object' || raw === null) return [`${at} must be an object {days, from, to}`];
  const w = raw as Record<string, unknown>;
  const errors: string[] = [];
  const extra = Object.keys(w).filter((k) => !['days', 'from', 'to'].includes(k));
  if (extra.length) errors.push(`${at} has unknown fields ${extra.join(', ')}`);
  const days = w.days;
  if (!Array.isArray(days) || days.length === 0 || !days.every((d) => Number.isInteger(d) && d >= 0 && d <= 6)) {
    errors.push(`${at}.days must be a non-empty list of weekdays 0 (Sunday) to 6 (Saturday) (got ${JSON.stringify(days)})`);
  }
  const from = typeof w.from === 'string' ? parseClock(w.from) : null;
  const to = typeof w.to === 'string' ? parseClock(w.to, true) : null;
  if (from === null) errors.push(`${at}.from must be "HH:MM" between 00:00 and 23:59 (got ${JSON.stringify(w.from)})`);
  if (to === null) errors.push(`${at}.to must be "HH:MM" between 00:00 and 24:00 (got ${JSON.stringify(w.to)})`);
  if (from !== null && to !== null && from === to) errors.push(`${at}: from and to are both ${JSON.stringify(w.from)}; a whole day is "00:00" to "24:00"`);
  return errors;
}
