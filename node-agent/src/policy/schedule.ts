/**
 * The owner's weekly schedule, in the owner's local time. The caller turns its clock into a
 * {@link LocalTime} (weekday and minute of the day), so this code knows nothing of time zones and
 * daylight saving: on the night the clocks change, a window simply follows the wall clock.
 */

/** A moment in the owner's local time. */
export interface LocalTime {
  /** 0 = Sunday … 6 = Saturday, as `Date.prototype.getDay()` numbers them. */
  readonly weekday: number;
  /** Minutes since local midnight, 0–1439. */
  readonly minuteOfDay: number;
}

/**
 * A weekly window in which the agent may work. A window whose `to` is not after its `from` crosses
 * midnight: `{ days: [5], from: "22:00", to: "07:00" }` is Friday 22:00 to Saturday 07:00, and
 * belongs to Friday.
 */
export interface ScheduleWindow {
  /** Days the window starts on, 0 = Sunday … 6 = Saturday. */
  readonly days: readonly number[];
  /** Start, "HH:MM" (00:00–23:59), inclusive. */
  readonly from: string;
  /** End, "HH:MM" (00:00–24:00), exclusive; "24:00" is the midnight that ends the day. */
  readonly to: string;
}

const MINUTES_PER_DAY = 24 * 60;
/** Short weekday names, by `LocalTime.weekday`. */
export const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'] as const;

/** "HH:MM" → minutes since midnight; `null` when malformed. "24:00" is 1440 only if `allowEndOfDay`. */
export function parseClock(text: string, allowEndOfDay = false): number | null {
  if (allowEndOfDay && text === '24:00') return MINUTES_PER_DAY;
  const m = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(text);
  return m ? Number(m[1]) * 60 + Number(m[2]) : null;
}

/** Whether `at` falls inside any window. Windows are assumed valid (see `validateSettings`). */
export function isWithinSchedule(schedule: readonly ScheduleWindow[], at: LocalTime): boolean {
  const yesterday = (at.weekday + 6) % 7;
  return schedule.some((w) => {
    const from = parseClock(w.from);
    const to = parseClock(w.to, true);
    if (from === null || to === null) return false;
    if (from < to) return w.days.includes(at.weekday) && at.minuteOfDay >= from && at.minuteOfDay < to;
    // Crosses midnight: the evening part on its own day, the morning part on the next.
    return (w.days.includes(at.weekday) && at.minuteOfDay >= from) || (w.days.includes(yesterday) && at.minuteOfDay < to);
  });
}

/** "Sat 14:05". */
export function formatLocalTime(at: LocalTime): string {
  const hh = String(Math.floor(at.minuteOfDay / 60)).padStart(2, '0');
  const mm = String(at.minuteOfDay % 60).padStart(2, '0');
  return `${WEEKDAYS[at.weekday] ?? `day ${at.weekday}`} ${hh}:${mm}`;
}
