/**
 * Electricity cost. Money is an integer count of the currency's smallest unit (cents for EUR and
 * USD, yen for JPY); no float ever holds money. Energy is quantised to whole milliwatts and
 * milliseconds (far below anything that changes a cent) and all arithmetic on it is BigInt.
 */

/** One kWh in milliwatt-milliseconds: 1000 W × 3600 s, each scaled by 1000. */
const MW_MS_PER_KWH = 3_600_000_000_000n;

function energyMwMs(powerW: number, seconds: number): bigint {
  if (!Number.isFinite(powerW) || powerW < 0) throw new RangeError(`powerW must be a finite number >= 0 (got ${powerW})`);
  if (!Number.isFinite(seconds) || seconds < 0) throw new RangeError(`seconds must be a finite number >= 0 (got ${seconds})`);
  return BigInt(Math.round(powerW * 1000)) * BigInt(Math.round(seconds * 1000));
}

function checkMinor(name: string, value: number): bigint {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${name} must be a whole number >= 0 of the currency's smallest unit (got ${value})`);
  return BigInt(value);
}

/**
 * The electricity cost of drawing `powerW` for `seconds` at `tariffPerKwh` (smallest currency unit
 * per kWh), in the smallest currency unit, **rounded up**: a cost is never under-stated, so a
 * shard is never judged profitable because of rounding. For example 320 W for 600 s at 30 cents
 * per kWh is 0.0533 kWh = 1.6 cents, reported as 2.
 *
 * Throws RangeError on a negative or non-finite power or duration, or a tariff that is not a
 * whole non-negative number.
 */
export function estimateCost(powerW: number, seconds: number, tariffPerKwh: number): number {
  const scaled = energyMwMs(powerW, seconds) * checkMinor('tariffPerKwh', tariffPerKwh);
  return Number((scaled + MW_MS_PER_KWH - 1n) / MW_MS_PER_KWH);
}

/**
 * The cost of `joules` of electricity (W × s) at `tariffPerKwh`, in the smallest currency unit,
 * rounded up like {@link estimateCost}: the agent's running total of what its work has cost.
 */
export function estimateEnergyCost(joules: number, tariffPerKwh: number): number {
  return estimateCost(joules, 1, tariffPerKwh);
}

/**
 * Whether `earnings` (smallest unit) is strictly more than the exact, unrounded cost. Comparing
 * before rounding matters: a shard costs fractions of a cent, and rounding both sides to whole
 * cents first would call a 1.6-cent cost and a 1-cent earning a tie.
 */
export function earnsMoreThanCost(earnings: number, powerW: number, seconds: number, tariffPerKwh: number): boolean {
  return checkMinor('earnings', earnings) * MW_MS_PER_KWH > energyMwMs(powerW, seconds) * checkMinor('tariffPerKwh', tariffPerKwh);
}

/** Digits after the decimal point of an ISO 4217 currency (EUR 2, JPY 0, KWD 3). */
export function currencyDigits(currency: string): number {
  return new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
}

/** Whether `code` is an ISO 4217 currency this runtime knows. */
export function isKnownCurrency(code: string): boolean {
  return /^[A-Z]{3}$/.test(code) && Intl.supportedValuesOf('currency').includes(code);
}

/** 153 EUR-cents → "1.53 EUR", 153 JPY → "153 JPY". Integer arithmetic only. */
export function formatMoney(amountMinor: number, currency: string): string {
  const digits = currencyDigits(currency);
  const sign = amountMinor < 0 ? '-' : '';
  const abs = Math.abs(amountMinor);
  if (digits === 0) return `${sign}${abs} ${currency}`;
  const unit = 10 ** digits;
  return `${sign}${Math.floor(abs / unit)}.${String(abs % unit).padStart(digits, '0')} ${currency}`;
}
