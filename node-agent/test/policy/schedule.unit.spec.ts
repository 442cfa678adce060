import { type ScheduleWindow, isWithinSchedule, parseClock } from '../../src/policy';

const at = (weekday: number, clock: string) => ({ weekday, minuteOfDay: parseClock(clock, true)! });
const SUN = 0, MON = 1, FRI = 5, SAT = 6;

describe('isWithinSchedule', () => {
  const fridayNight: ScheduleWindow = { days: [FRI], from: '22:00', to: '07:00' };
  const workdayEvenings: ScheduleWindow = { days: [MON, 2, 3, 4, FRI], from: '18:30', to: '24:00' };
  const sundayNight: ScheduleWindow = { days: [SUN], from: '23:00', to: '01:00' };

  it.each([
    ['Fri 22:00, a crossing window opens (inclusive)', [fridayNight], at(FRI, '22:00'), true],
    ['Fri 21:59, before it', [fridayNight], at(FRI, '21:59'), false],
    ['Fri 23:59', [fridayNight], at(FRI, '23:59'), true],
    ['Sat 00:00, past midnight: still Friday night', [fridayNight], at(SAT, '00:00'), true],
    ['Sat 06:59', [fridayNight], at(SAT, '06:59'), true],
    ['Sat 07:00, the end is exclusive', [fridayNight], at(SAT, '07:00'), false],
    ['Sat 22:30, Saturday is not listed', [fridayNight], at(SAT, '22:30'), false],
    ['Fri 03:00, the morning after Thursday, not Friday', [fridayNight], at(FRI, '03:00'), false],
    ['Sun 23:30 → Mon 00:30 wraps the week', [sundayNight], at(MON, '00:30'), true],
    ['Sat 00:30 is not the morning after Sunday', [sundayNight], at(SAT, '00:30'), false],
    ['Mon 23:59 in a window ending "24:00"', [workdayEvenings], at(MON, '23:59'), true],
    ['Tue 00:00 after a window ending "24:00" on Mon, not Tue morning', [{ ...workdayEvenings, days: [MON] }], at(2, '00:00'), false],
    ['the second of two windows', [fridayNight, workdayEvenings], at(MON, '19:00'), true],
    ['all day, every day', [{ days: [0, 1, 2, 3, 4, 5, 6], from: '00:00', to: '24:00' }], at(3, '12:00'), true],
    ['no windows', [], at(3, '12:00'), false],
  ] as const)('%s → %p', (_what, schedule, time, inside) => {
    expect(isWithinSchedule(schedule, time)).toBe(inside);
  });
});

describe('parseClock', () => {
  it.each([
    ['00:00', false, 0],
    ['07:05', false, 425],
    ['23:59', false, 1439],
    ['24:00', true, 1440],
    ['24:00', false, null],
    ['7:00', false, null],
    ['25:00', false, null],
    ['12:60', false, null],
    ['12:00 ', false, null],
  ] as const)('%p (end of day allowed: %p) → %p', (text, endOfDay, minutes) => {
    expect(parseClock(text, endOfDay)).toBe(minutes);
  });
});
