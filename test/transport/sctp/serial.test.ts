import { describe, expect, it } from 'vitest';
import { ssnAdd, ssnDiff, ssnGt, ssnLt, ssnLte, tsnAdd, tsnDiff, tsnGt, tsnGte, tsnLt, tsnLte, tsnMax } from '../../../src/transport/sctp/serial.js';

describe('TSN serial arithmetic (32 bits)', () => {
  it('wraps from 2^32-1 to 0, and 0 comes after 2^32-1', () => {
    expect(tsnAdd(0xffffffff, 1)).toBe(0);
    expect(tsnAdd(0xfffffffe, 5)).toBe(3);
    expect(tsnAdd(2, -3)).toBe(0xffffffff);
    expect(tsnLt(0xffffffff, 0)).toBe(true);
    expect(tsnGt(0, 0xffffffff)).toBe(true);
    expect(tsnLt(0, 0xffffffff)).toBe(false);
    expect(tsnDiff(0xffffffff, 0)).toBe(1);
    expect(tsnDiff(0, 0xffffffff)).toBe(-1);
    expect(tsnDiff(0xfffffff0, 0x10)).toBe(32);
    expect(tsnMax(0xfffffff0, 0x10)).toBe(0x10);
  });
  it('orders within half the space and leaves the exact half unordered', () => {
    expect(tsnLt(1, 2)).toBe(true);
    expect(tsnLt(2, 1)).toBe(false);
    expect(tsnLte(7, 7)).toBe(true);
    expect(tsnGte(7, 7)).toBe(true);
    expect(tsnLt(7, 7)).toBe(false);
    expect(tsnLt(0, 0x7fffffff)).toBe(true);
    expect(tsnLt(0, 0x80000000)).toBe(false);
    expect(tsnGt(0, 0x80000000)).toBe(false);
    expect(tsnLt(0, 0x80000001)).toBe(false);
    expect(tsnGt(0, 0x80000001)).toBe(true);
  });
});

describe('SSN serial arithmetic (16 bits)', () => {
  it('wraps from 65535 to 0', () => {
    expect(ssnAdd(0xffff, 1)).toBe(0);
    expect(ssnLt(0xffff, 0)).toBe(true);
    expect(ssnGt(0, 0xffff)).toBe(true);
    expect(ssnLte(0xfff0, 3)).toBe(true);
    expect(ssnDiff(0xfffe, 1)).toBe(3);
    expect(ssnDiff(1, 0xfffe)).toBe(-3);
    expect(ssnLt(0, 0x8000)).toBe(false);
    expect(ssnGt(0, 0x8000)).toBe(false);
    expect(ssnLt(0, 0x7fff)).toBe(true);
  });
});
