import { describe, expect, it } from 'vitest';
import { makeTemplate } from '../../src/ipfix/template.js';
import { VARLEN } from '../../src/ipfix/constants.js';
import { renderRecord, recordEnd } from '../../src/ipfix/render.js';
import { loadRegistry } from '../../src/model/registry.js';

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
