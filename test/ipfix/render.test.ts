import { describe, expect, it } from 'vitest';
import { makeTemplate } from '../../src/ipfix/template.js';
import { VARLEN } from '../../src/ipfix/constants.js';
import { renderRecord, recordEnd } from '../../src/ipfix/render.js';
import { loadRegistry, DEFAULT_MAPPINGS_DIR } from '../../src/model/registry.js';
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const reg = loadRegistry();
const f = (id: number, length: number, enterprise = 0) => ({ id, length, enterprise });

describe('renderRecord', () => {
  it('renders each abstract data type from real bytes', () => {
    const t = makeTemplate(256, [
      f(8, 4), // sourceIPv4Address
      f(27, 16), // sourceIPv6Address
      f(56, 6), // sourceMacAddress
      f(1, 8), // octetDeltaCount, full width
      f(10, 2), // ingressInterface (unsigned32) reduced to 2 octets
      f(152, 8), // flowStartMilliseconds
      f(150, 4), // flowStartSeconds
      f(154, 8), // flowStartMicroseconds (NTP format)
      f(82, VARLEN), // interfaceName
      f(2, 8), // packetDeltaCount above 2^53
      f(7, 2, 29305), // reverseSourceTransportPort
      f(99, 3, 12345), // unknown enterprise IE
    ]);
    const b = Buffer.concat([
      Buffer.from([192, 0, 2, 1]),
      Buffer.from('20010db8000000000000000000000001', 'hex'),
      Buffer.from('0011223344ff', 'hex'),
      Buffer.from('00000000000004d2', 'hex'), // 1234
      Buffer.from('0102', 'hex'), // 258
      Buffer.from('0000018bcfe56800', 'hex'), // 1700000000000 ms
      Buffer.from('6553f100', 'hex'), // 1700000000 s
      Buffer.from([0xe8, 0xfe, 0x6f, 0x80, 0x80, 0, 0, 0]), // NTP 3908988800 s (= 1700000000 unix) + 0.5
      Buffer.from([4, ...Buffer.from('eth0')]),
      Buffer.from('0020000000000001', 'hex'), // 2^53 + 1
      Buffer.from('01bb', 'hex'),
      Buffer.from('0a0b0c', 'hex'),
    ]);
    expect(recordEnd(t, b, 0, b.length)).toBe(b.length);
    expect(renderRecord(t, b, 0, b.length, reg)).toEqual({
      sourceIPv4Address: '192.0.2.1',
      sourceIPv6Address: '2001:db8::1',
      sourceMacAddress: '00:11:22:33:44:ff',
      octetDeltaCount: 1234,
      ingressInterface: 258,
      flowStartMilliseconds: '2023-11-14T22:13:20.000Z',
      flowStartSeconds: '2023-11-14T22:13:20.000Z',
      flowStartMicroseconds: '2023-11-14T22:13:20.500000Z',
      interfaceName: 'eth0',
      packetDeltaCount: '9007199254740993',
      reverseSourceTransportPort: 443,
      e12345id99: 658188,
    });
  });

  it('turns a repeated IE into an array and finds 3-octet varlen lengths', () => {
    const t = makeTemplate(300, [f(202, 4), f(202, 4), f(202, 4), f(315, VARLEN)]); // mplsLabelStackDepth ×3, dataLinkFrameSection
    const frame = Buffer.alloc(300, 0xab);
    const b = Buffer.concat([Buffer.from('000000010000000200000003', 'hex'), Buffer.from([255, 0x01, 0x2c]), frame]);
    expect(recordEnd(t, b, 0, b.length)).toBe(b.length);
    expect(recordEnd(t, b, 0, b.length - 1)).toBe(-1);
    const r = renderRecord(t, b, 0, b.length, reg);
    expect(Object.values(r)[0]).toEqual([1, 2, 3]);
    expect((r.dataLinkFrameSection as string).length).toBe(600);
  });
});

describe('renderValue by abstract data type (RFC 7011 §6)', () => {
  // A registry with the IANA file plus a vendor file, for types IANA has no element of (float32, signed64).
  const dir = mkdtempSync(join(tmpdir(), 'render-'));
  copyFileSync(join(DEFAULT_MAPPINGS_DIR, 'iana-elements.yaml'), join(dir, 'iana-elements.yaml'));
  writeFileSync(
    join(dir, 'test-elements.yaml'),
    'enterprise: 32473\nelements:\n  - { id: 1, name: testFloat, type: float32 }\n  - { id: 2, name: testSigned, type: signed64 }\n  - { id: 3, name: testSigned8, type: signed8 }\n',
  );
  const vreg = loadRegistry(dir);
  const one = (field: { id: number; length: number; enterprise?: number }, bytes: Buffer) => {
    const t = makeTemplate(256, [f(field.id, field.length, field.enterprise ?? 0)]);
    return Object.values(renderRecord(t, bytes, 0, bytes.length, vreg))[0];
  };
  const h = (s: string) => Buffer.from(s.replace(/\s/g, ''), 'hex');

  it('signed integers: full and reduced size, negative, and beyond 2^53 as decimal strings', () => {
    expect(one({ id: 434, length: 4 }, h('fffffffe'))).toBe(-2); // mibObjectValueInteger, signed32
    expect(one({ id: 434, length: 1 }, h('80'))).toBe(-128); // reduced to 1 octet, sign kept
    expect(one({ id: 2, length: 8, enterprise: 32473 }, h('ffffffffffffffff'))).toBe(-1);
    expect(one({ id: 2, length: 8, enterprise: 32473 }, h('8000000000000000'))).toBe('-9223372036854775808');
    expect(one({ id: 2, length: 8, enterprise: 32473 }, h('001fffffffffffff'))).toBe(9007199254740991);
    expect(one({ id: 3, length: 1, enterprise: 32473 }, h('7f'))).toBe(127);
  });

  it('unsigned integers: reduced size, 2^53 - 1 as a number, 2^53 and up as strings', () => {
    expect(one({ id: 1, length: 4 }, h('00000400'))).toBe(1024); // octetDeltaCount (unsigned64) in 4 octets
    expect(one({ id: 1, length: 8 }, h('001fffffffffffff'))).toBe(9007199254740991);
    expect(one({ id: 1, length: 8 }, h('0020000000000000'))).toBe('9007199254740992');
    expect(one({ id: 1, length: 8 }, h('ffffffffffffffff'))).toBe('18446744073709551615');
    expect(one({ id: 136, length: 1 }, h('03'))).toBe(3); // flowEndReason, unsigned8
  });

  it('floats: float32, float64 and float64 reduced to 4 octets', () => {
    expect(one({ id: 1, length: 4, enterprise: 32473 }, h('3fc00000'))).toBe(1.5);
    expect(one({ id: 311, length: 8 }, h('3fb999999999999a'))).toBe(0.1); // samplingProbability
    expect(one({ id: 311, length: 4 }, h('3e800000'))).toBe(0.25);
  });

  it('booleans: 1 is true, 2 is false, anything else shown as hex', () => {
    expect(one({ id: 276, length: 1 }, h('01'))).toBe(true); // dataRecordsReliability
    expect(one({ id: 276, length: 1 }, h('02'))).toBe(false);
    expect(one({ id: 276, length: 1 }, h('00'))).toBe('00');
  });

  it('dateTimeNanoseconds from NTP format, dateTimeMilliseconds before and after 2^32 ms', () => {
    // 3908988800 s after 1900 = 1700000000 s after 1970; fraction 0x00000001 → 0 ns, 0x40000000 → 0.25 s.
    expect(one({ id: 156, length: 8 }, h('e8fe6f80 40000000'))).toBe('2023-11-14T22:13:20.250000000Z');
    expect(one({ id: 156, length: 8 }, h('e8fe6f80 00000001'))).toBe('2023-11-14T22:13:20.000000000Z');
    expect(one({ id: 152, length: 8 }, h('0000000000000001'))).toBe('1970-01-01T00:00:00.001Z');
  });

  it('strings as UTF-8, octetArray and structured data as hex, unknown IANA ids as id<N>', () => {
    const name = Buffer.from('Gi0/0/0 — uplink ✓');
    expect(one({ id: 82, length: VARLEN }, Buffer.concat([Buffer.from([name.length]), name]))).toBe('Gi0/0/0 — uplink ✓');
    expect(one({ id: 82, length: VARLEN }, Buffer.from([0]))).toBe(''); // empty varlen string
    expect(one({ id: 90, length: 8 }, h('0001fde800000064'))).toBe('0001fde800000064'); // mplsVpnRouteDistinguisher
    // basicList (RFC 6313): semantic 0xff, field id 7 (sourceTransportPort), length 2, then 80 and 443.
    expect(one({ id: 291, length: VARLEN }, h('09 ff 0007 0002 0050 01bb'))).toBe('ff00070002005001bb');
    const t = makeTemplate(256, [f(32000, 2)]);
    expect(renderRecord(t, h('0102'), 0, 2, vreg)).toEqual({ id32000: 258 });
  });

  it('addresses: IPv6 per RFC 5952 (longest zero run, first of equal runs, no single-group ::), IPv4-mapped, MAC', () => {
    expect(one({ id: 27, length: 16 }, h('20010db8000000010000000000000001'))).toBe('2001:db8:0:1::1');
    expect(one({ id: 27, length: 16 }, h('20010db8000000000001000000000001'))).toBe('2001:db8::1:0:0:1');
    expect(one({ id: 27, length: 16 }, h('20010db8000100010001000100010001'))).toBe('2001:db8:1:1:1:1:1:1');
    expect(one({ id: 27, length: 16 }, h('20010db8000000010001000100010001'))).toBe('2001:db8:0:1:1:1:1:1');
    expect(one({ id: 27, length: 16 }, h('00000000000000000000000000000000'))).toBe('::');
    expect(one({ id: 27, length: 16 }, h('00000000000000000000ffffc0000201'))).toBe('::ffff:192.0.2.1');
    expect(one({ id: 80, length: 6 }, h('AABBCCDDEEFF'))).toBe('aa:bb:cc:dd:ee:ff'); // destinationMacAddress
    expect(one({ id: 8, length: 4 }, h('0a000001'))).toBe('10.0.0.1');
  });
});
