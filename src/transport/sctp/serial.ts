// Serial number arithmetic (RFC 1982, as RFC 9260 §1.6 uses it) for 32-bit TSNs and 16-bit Stream
// Sequence Numbers: both wrap, so "a comes before b" means b lies less than half the number space
// ahead of a. Two numbers exactly half the space apart are unordered: every comparison is false.

const HALF32 = 0x80000000;
const HALF16 = 0x8000;

/** a < b in TSN serial order. */
export function tsnLt(a: number, b: number): boolean {
  const d = (b - a) >>> 0;
  return d !== 0 && d < HALF32;
}
/** a ≤ b in TSN serial order. */
export function tsnLte(a: number, b: number): boolean {
  return a >>> 0 === b >>> 0 || tsnLt(a, b);
}
/** a > b in TSN serial order. */
export function tsnGt(a: number, b: number): boolean {
  return tsnLt(b, a);
}
/** a ≥ b in TSN serial order. */
export function tsnGte(a: number, b: number): boolean {
  return tsnLte(b, a);
}
/** a + n, wrapped to 32 bits (n may be negative). */
export function tsnAdd(a: number, n: number): number {
  return (a + n) >>> 0;
}
/** b − a as a signed distance: positive when b is after a (−2^31 ≤ result < 2^31). */
export function tsnDiff(a: number, b: number): number {
  return (b - a) | 0;
}
/** The later of two TSNs. */
export function tsnMax(a: number, b: number): number {
  return tsnLt(a, b) ? b : a;
}

/** a < b in SSN serial order (16 bits). */
export function ssnLt(a: number, b: number): boolean {
  const d = (b - a) & 0xffff;
  return d !== 0 && d < HALF16;
}
/** a ≤ b in SSN serial order. */
export function ssnLte(a: number, b: number): boolean {
  return (a & 0xffff) === (b & 0xffff) || ssnLt(a, b);
}
/** a > b in SSN serial order. */
export function ssnGt(a: number, b: number): boolean {
  return ssnLt(b, a);
}
/** a + n, wrapped to 16 bits. */
export function ssnAdd(a: number, n: number): number {
  return (a + n) & 0xffff;
}
/** b − a as a signed distance (−2^15 ≤ result < 2^15). */
export function ssnDiff(a: number, b: number): number {
  return (((b - a) & 0xffff) << 16) >> 16;
}
