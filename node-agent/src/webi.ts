/** WEBI amounts as the rewards service gives them: base units (10^-18 WEBI) as decimal strings. */

const DECIMALS = 18n;

/** "12345000000000000000" → "12.345 WEBI"; at most `digits` decimals, cut (never rounded up). */
export function formatWebi(baseUnits: string, digits = 6): string {
  if (!/^\d+$/.test(baseUnits)) throw new RangeError(`a WEBI amount must be a whole number of base units (got ${JSON.stringify(baseUnits)})`);
  const value = BigInt(baseUnits);
  const unit = 10n ** DECIMALS;
  const whole = value / unit;
  const fraction = (value % unit).toString().padStart(Number(DECIMALS), '0').slice(0, digits).replace(/0+$/, '');
  return `${whole}${fraction ? `.${fraction}` : ''} WEBI`;
}
