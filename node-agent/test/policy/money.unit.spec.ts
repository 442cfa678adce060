import { earnsMoreThanCost, estimateCost, formatMoney } from '../../src/policy';

describe('estimateCost (smallest currency unit, rounded up)', () => {
  it.each([
    ['1 kWh at 30 c', 1000, 3600, 30, 30],
    ['a hair over 1 kWh rounds up', 1000, 3601, 30, 31],
    ['320 W for 10 min at 30 c: 1.6 c', 320, 600, 30, 2],
    ['256 W for 10 min at 30 c: 1.28 c', 256, 600, 30, 2],
    ['250.5 W for 2 h at 28 c: 14.028 c', 250.5, 7200, 28, 15],
    ['a fraction of a cent is a cent', 5, 1, 30, 1],
    ['nothing drawn costs nothing', 0, 600, 30, 0],
    ['a free tariff costs nothing', 320, 600, 0, 0],
    ['450 W for a day at 3500 yen/100 kWh-ish (35 JPY/kWh)', 450, 86_400, 35, 378],
  ])('%s', (_what, powerW, seconds, tariff, cost) => {
    expect(estimateCost(powerW, seconds, tariff)).toBe(cost);
  });

  it.each([
    [-1, 600, 30, /powerW must be a finite number >= 0/],
    [Number.NaN, 600, 30, /powerW/],
    [320, -5, 30, /seconds must be a finite number >= 0/],
    [320, 600, 0.3, /tariffPerKwh must be a whole number/],
    [320, 600, -30, /tariffPerKwh must be a whole number/],
  ])('refuses power %p, seconds %p, tariff %p', (powerW, seconds, tariff, message) => {
    expect(() => estimateCost(powerW, seconds, tariff)).toThrow(message);
  });
});

describe('earnsMoreThanCost (exact, before rounding)', () => {
  it.each([
    [2, 256, 600, 30, true], // 2 > 1.28
    [1, 256, 600, 30, false], // 1 < 1.28
    [30, 1000, 3600, 30, false], // a tie is not a profit
    [31, 1000, 3600, 30, true],
    [0, 0, 600, 30, false],
  ])('earning %p against %p W × %p s at %p', (earnings, powerW, seconds, tariff, profitable) => {
    expect(earnsMoreThanCost(earnings, powerW, seconds, tariff)).toBe(profitable);
  });
});

describe('formatMoney', () => {
  it.each([
    [153, 'EUR', '1.53 EUR'],
    [5, 'EUR', '0.05 EUR'],
    [0, 'USD', '0.00 USD'],
    [153, 'JPY', '153 JPY'],
    [1234, 'KWD', '1.234 KWD'],
    [-250, 'EUR', '-2.50 EUR'],
  ])('%p %s → %s', (amount, currency, text) => {
    expect(formatMoney(amount, currency)).toBe(text);
  });
});
