// Version detection: the first octets of a datagram and the input's `protocol` setting decide its decoder.

import { describe, expect, it } from 'vitest';
import { dispatch } from '../../src/collect/dispatch.js';

const bytes = (...b: number[]) => Buffer.from(b);
const reason = (d: ReturnType<typeof dispatch>) => (typeof d === 'string' ? d : d.reason);
/** A datagram that is the whole of its buffer. */
const whole = (d: Buffer) => [d, 0, d.length] as const;

describe('dispatch', () => {
  it.each([
    ['NetFlow v5 header', bytes(0, 5, 0, 30), 'netflow5'],
    ['NetFlow v9 header', bytes(0, 9, 0, 2), 'netflow9'],
    ['IPFIX header', bytes(0, 10, 0, 16), 'ipfix'],
    ['sFlow v5: 32-bit version 5', bytes(0, 0, 0, 5, 0, 0, 0, 1), 'sflow'],
    ['32-bit version 4 (sFlow v4)', bytes(0, 0, 0, 4), 'unknown_version'],
    ['NetFlow v7', bytes(0, 7, 0, 1), 'unknown_version'],
    ['version 0x0a00', bytes(10, 0, 0, 0), 'unknown_version'],
    ['three octets', bytes(0, 10, 0), 'truncated'],
    ['empty', bytes(), 'truncated'],
  ])('auto: %s → %s', (_what, d, expected) => {
    expect(reason(dispatch(...whole(d), 'auto'))).toBe(expected);
  });

  it('a forced protocol takes only its own version', () => {
    expect(reason(dispatch(...whole(bytes(0, 9, 0, 2)), 'netflow9'))).toBe('netflow9');
    expect(reason(dispatch(...whole(bytes(0, 5, 0, 30)), 'netflow9'))).toBe('protocol_mismatch');
    expect(reason(dispatch(...whole(bytes(0, 10, 0, 16)), 'netflow5'))).toBe('protocol_mismatch');
    expect(reason(dispatch(...whole(bytes(0, 0, 0, 5)), 'ipfix'))).toBe('protocol_mismatch');
    expect(reason(dispatch(...whole(bytes(0, 7, 0, 1)), 'ipfix'))).toBe('unknown_version');
    expect(reason(dispatch(...whole(bytes(0, 0, 0, 5)), 'sflow'))).toBe('sflow');
    expect(reason(dispatch(...whole(bytes(0, 9, 0, 2)), 'sflow'))).toBe('protocol_mismatch');
    expect(reason(dispatch(...whole(bytes(0, 10)), 'ipfix'))).toBe('truncated');
  });

  it('reads the version where the datagram starts in a larger buffer (a receive batch)', () => {
    // 0 9 before the datagram would read as NetFlow v9 at offset 0; the datagram is sFlow v5, then IPFIX.
    const batch = bytes(0, 9, 0, 0, 0, 5, 0, 0, 0, 1, 0, 10, 0, 16);
    expect(reason(dispatch(batch, 2, 10, 'auto'))).toBe('sflow');
    expect(reason(dispatch(batch, 10, 14, 'auto'))).toBe('ipfix');
    expect(reason(dispatch(batch, 10, 13, 'auto'))).toBe('truncated');
  });
});
