import { formatWebi } from '../src/webi';

describe('formatWebi', () => {
  it.each([
    ['0', '0 WEBI'],
    ['1000000000000000000', '1 WEBI'],
    ['12345000000000000000', '12.345 WEBI'],
    ['1', '0 WEBI'], // 10^-18 WEBI: below what is shown, and never rounded up
    ['999999999999999999', '0.999999 WEBI'],
    ['123456789012345678901234567890', '123456789012.345678 WEBI'],
  ])('%s base units are %s', (base, shown) => {
    expect(formatWebi(base)).toBe(shown);
  });

  it('refuses what is not a whole number of base units', () => {
    expect(() => formatWebi('1.5')).toThrow('a WEBI amount must be a whole number of base units (got "1.5")');
  });
});
