import { DEFAULT_POLICY, PolicyConfigError, type SettingsValidation, parseSettings, validateSettings } from '../../src/policy';

const errorsOf = (result: SettingsValidation): readonly string[] => (result.ok ? [] : result.errors);

describe('DEFAULT_POLICY', () => {
  it('is valid, and safe for a gaming PC', () => {
    expect(validateSettings(DEFAULT_POLICY)).toEqual({ ok: true, settings: DEFAULT_POLICY });
    expect(DEFAULT_POLICY).toMatchObject({ temperatureCapC: 78, powerCapShareOfLimit: 0.8, maxVramShare: 0.7, quietPeriodSeconds: 120, pauseWhenUnprofitable: true, paused: false });
  });
});

describe('validateSettings', () => {
  it('fills what is missing from the defaults', () => {
    expect(validateSettings({ temperatureCapC: 72, tariffPerKwh: 17, currency: 'USD' })).toEqual({ ok: true, settings: { ...DEFAULT_POLICY, temperatureCapC: 72, tariffPerKwh: 17, currency: 'USD' } });
  });

  it.each([
    ['a negative temperature cap', { temperatureCapC: -5 }, 'temperatureCapC must be a number >= 30 and <= 95 (got -5)'],
    ['a temperature cap as text', { temperatureCapC: '78' }, 'temperatureCapC must be a number >= 30 and <= 95 (got "78")'],
    ['a negative power cap', { powerCapW: -100 }, 'powerCapW must be a number > 0 and <= 2000, or null (got -100)'],
    ['a power share over 1', { powerCapShareOfLimit: 1.2 }, 'powerCapShareOfLimit must be a number > 0 and <= 1 (got 1.2)'],
    ['a VRAM share over 1', { maxVramShare: 1.5 }, 'maxVramShare must be a number > 0 and <= 1 (got 1.5)'],
    ['a VRAM share of 0', { maxVramShare: 0 }, 'maxVramShare must be a number > 0 and <= 1 (got 0)'],
    ['a negative quiet period', { quietPeriodSeconds: -1 }, 'quietPeriodSeconds must be a number >= 0 and <= 86400 (got -1)'],
    ['a negative idle-input requirement', { requireIdleInputSeconds: -10 }, 'requireIdleInputSeconds must be a number >= 0 and <= 86400, or null (got -10)'],
    ['a tariff in euros rather than cents', { tariffPerKwh: 0.3 }, "tariffPerKwh must be a whole number >= 0 of the currency's smallest unit per kWh, e.g. 30 for 0.30 EUR (got 0.3)"],
    ['an unknown currency', { currency: 'euro' }, 'currency must be an ISO 4217 code such as "EUR" (got "euro")'],
    ['paused as text', { paused: 'yes' }, 'paused must be true or false (got "yes")'],
    ['a misspelt setting', { temperatureCap: 70 }, 'unknown setting "temperatureCap"'],
    ['an empty schedule', { schedule: [] }, /^schedule must list at least one window/],
    ['a bad "HH:MM"', { schedule: [{ days: [1], from: '25:00', to: '07:00' }] }, 'schedule[0].from must be "HH:MM" between 00:00 and 23:59 (got "25:00")'],
    ['an hour without its leading zero', { schedule: [{ days: [1], from: '22:00', to: '7:00' }] }, 'schedule[0].to must be "HH:MM" between 00:00 and 24:00 (got "7:00")'],
    ['"24:00" as a start', { schedule: [{ days: [1], from: '24:00', to: '07:00' }] }, /schedule\[0\]\.from must be "HH:MM"/],
    ['an empty window', { schedule: [{ days: [1], from: '08:00', to: '08:00' }] }, 'schedule[0]: from and to are both "08:00"; a whole day is "00:00" to "24:00"'],
    ['a weekday 7', { schedule: [{ days: [7], from: '08:00', to: '09:00' }] }, 'schedule[0].days must be a non-empty list of weekdays 0 (Sunday) to 6 (Saturday) (got [7])'],
    ['ignored processes as text', { ignoredProcessNames: 'dwm.exe' }, 'ignoredProcessNames must be a list of process names (got "dwm.exe")'],
    ['not an object', 'temperatureCapC=70', 'settings must be an object'],
  ])('refuses %s', (_what, raw, message) => {
    const result = validateSettings(raw);
    expect(result.ok).toBe(false);
    const errors = errorsOf(result);
    if (typeof message === 'string') expect(errors).toContain(message);
    else expect(errors).toContainEqual(expect.stringMatching(message));
  });

  it('reports every problem at once', () => {
    const result = validateSettings({ temperatureCapC: -1, maxVramShare: 2, schedule: [{ days: [1], from: 'noon', to: '25:61' }] });
    expect(result.ok).toBe(false);
    expect(errorsOf(result)).toHaveLength(4);
  });
});

describe('parseSettings', () => {
  it('throws a PolicyConfigError listing each error', () => {
    expect(() => parseSettings({ maxVramShare: 1.5, currency: 'XX' })).toThrow(PolicyConfigError);
    expect(() => parseSettings({ maxVramShare: 1.5, currency: 'XX' })).toThrow(/invalid owner settings:\n- maxVramShare must be .*\n- currency must be/);
  });

  it('returns the settings when valid', () => {
    expect(parseSettings({})).toEqual(DEFAULT_POLICY);
  });
});
