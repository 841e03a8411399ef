// One way to write a measured amount (kWh, CO2e, joules, watts) as text, so that values of
// the same size always look the same: three significant digits, written out from 0.001 up to
// a million ("0.00112", "12.3", "4096"), and in exponent notation outside it ("8.64e-7",
// "1.12e-6", "2.50e7"), never "0.00000112" beside "8.64e-7". Shared by the shells; JSON keeps
// the numbers themselves.

/** Below PLAIN_FROM, and from EXPONENT_FROM up, amounts are written with an exponent. */
const PLAIN_FROM = 1e-3;
const EXPONENT_FROM = 1e6;

/** `x` with `digits` significant digits (whole numbers of more digits as they are). */
export function formatAmount(x: number, digits = 3): string {
  if (!Number.isFinite(x)) return 'n/a';
  if (x === 0) return '0';
  // Rounded first: 999.96 is "1000", not "1.00e+3".
  const a = Math.abs(Number(x.toPrecision(digits)));
  if (a < PLAIN_FROM || a >= EXPONENT_FROM) return x.toExponential(digits - 1).replace('e+', 'e');
  return a >= 10 ** digits ? x.toFixed(0) : x.toPrecision(digits);
}
