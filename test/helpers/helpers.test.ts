// The interop helpers are judges' adapters: if they misread a judge, every interop test lies.
// So they are checked here against corpus captures whose content is known (corpus README and the
// values printed by the tools themselves).

import { afterAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { udpPayloads } from '../../src/util/pcap.js';
import { corpusDir, pcapsDir, requireOrSkip, tempDir } from './tools.js';
import { absTimeToMs, canonical, compareRecords, describeMismatches, PRIVATE, v9ScopeToIpfix } from './compare.js';
import { writePcapOfTcpStream, writePcapOfUdp } from './pcap-writer.js';
import { tsharkJson, tsharkMalformed } from './tshark.js';
import { ipfixDump, sequenceBreaks, walkIpfixMessages } from './ipfixdump.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const cisco100 = resolve(corpusDir, 'ipfix/pmacct__100-IPFIX-CISCO.pcap'); // 6 dgrams, 12 records, udp/9991

/** The IPFIX messages of a corpus capture concatenated into an IPFIX file. */
function ipfixFileOf(capture: string, name: string): string {
  const path = join(tmp.dir, name);
  writeFileSync(path, Buffer.concat(udpPayloads(capture).map((p) => p.payload)));
  return path;
}

describe.skipIf(!requireOrSkip('tshark'))('tsharkJson', () => {
  it('gives one object per NetFlow v5 record with header context', async () => {
    // 12 datagrams, 30 records (corpus README); the first record is an SSH flow 10.0.2.2 -> 10.0.2.15.
    const recs = await tsharkJson(resolve(corpusDir, 'nf5/logstash-dat__generic.pcap'));
    expect(recs).toHaveLength(30);
    const r = recs[0]!;
    expect(r.version).toBe(5);
    expect(r.exportTime).toBe(1430591888);
    expect(r.exportNanos).toBe(280328000);
    expect(r.sysUptimeMs).toBe(3381);
    expect(r.fields['cflow.srcaddr']).toBe('10.0.2.2');
    expect(r.fields['cflow.dstaddr']).toBe('10.0.2.15');
    expect(r.fields['cflow.octets']).toBe('230');
    expect(r.fields['cflow.packets']).toBe('5');
    expect(r.fields['cflow.dstport']).toBe('22');
    // the timedelta subtree is flattened; this first record's start is 1 ms before the uptime wrap
    expect(r.fields['cflow.timestart']).toBe('4294967.295000000');
  });

  it('decodes IPFIX on a port it does not know when told to', async () => {
    const plain = await tsharkJson(cisco100);
    expect(plain).toHaveLength(0); // udp/9991 is not a cflow port by default
    const recs = await tsharkJson(cisco100, { udpPorts: [9991] });
    expect(recs).toHaveLength(12);
    expect(new Set(recs.map((r) => r.domain))).toEqual(new Set([851968, 917504]));
    expect(new Set(recs.map((r) => r.setId))).toEqual(new Set([260, 263]));
    const first = recs[0]!;
    expect(first.version).toBe(10);
    expect(first.exportTime).toBe(1677577621);
    expect(first.fields['cflow.srcaddr']).toBe('10.231.65.56');
    expect(first.fields['cflow.dstaddr']).toBe('10.192.12.213');
    expect(first.fields['cflow.octets']).toBe('220');
    expect(first.options).toBe(false);
  });

  it('marks options data records and keeps RFC 5103 reverse fields as arrays', async () => {
    const opts = await tsharkJson(resolve(corpusDir, 'nf9/akvorado__v9-opts-sampling.pcap'));
    // 8 records: options template 257 (sampling) and data template 260
    expect(opts).toHaveLength(8);
    expect(opts.filter((r) => r.setId === 257).every((r) => r.options)).toBe(true);
    expect(opts.filter((r) => r.setId === 260).every((r) => !r.options)).toBe(true);

    const bi = await tsharkJson(resolve(corpusDir, 'ipfix/akvorado__ipfixprobe-biflow.pcap'));
    expect(bi).toHaveLength(4);
    // octetDeltaCount 62 then reverseOctetDeltaCount 128 (as ipfixDump prints them, test below)
    expect(bi[0]!.fields['cflow.octets']).toEqual(['62', '128']);
  });
});

describe.skipIf(!requireOrSkip('tshark'))('tsharkMalformed', () => {
  it('counts the malformed and warning frames of the malformed corpus', async () => {
    // frames 3,5,6,7 (sequence), 8 (absurd options template), 9 (set length 2), 11 (trailing bytes)
    const rep = await tsharkMalformed(resolve(corpusDir, 'synthetic/malformed/ipfix_malformed_all.pcap'));
    expect(rep.count).toBe(7);
    expect(rep.frames.some((f) => f.startsWith('9: Flowset Length (2) too short'))).toBe(true);
  });

  it('finds nothing wrong with a clean capture', async () => {
    const rep = await tsharkMalformed(cisco100, { udpPorts: [9991] });
    expect(rep).toEqual({ count: 0, frames: [] });
  });
});

describe.skipIf(!requireOrSkip('tshark'))('pcap writer', () => {
  it('wraps IPFIX messages into UDP datagrams tshark decodes exactly like the original capture', async () => {
    const original = await tsharkJson(cisco100, { udpPorts: [9991] });
    const path = join(tmp.dir, 'rewrapped-udp.pcap');
    writePcapOfUdp(udpPayloads(cisco100).map((p) => p.payload), path, 4739);
    const rewrapped = await tsharkJson(path);
    expect(rewrapped.map((r) => r.fields)).toEqual(original.map((r) => r.fields));
    expect(rewrapped.every((r) => r.src === '127.0.0.2')).toBe(true);
    expect(await tsharkMalformed(path)).toEqual({ count: 0, frames: [] });
  });

  it('wraps an IPFIX byte stream into a TCP connection tshark reassembles', async () => {
    const original = await tsharkJson(cisco100, { udpPorts: [9991] });
    const path = join(tmp.dir, 'rewrapped-tcp.pcap');
    // 100-octet segments: every message spans several segments
    writePcapOfTcpStream(Buffer.concat(udpPayloads(cisco100).map((p) => p.payload)), path, 4739, { segment: 100 });
    const rewrapped = await tsharkJson(path);
    expect(rewrapped.map((r) => r.fields)).toEqual(original.map((r) => r.fields));
    expect(await tsharkMalformed(path)).toEqual({ count: 0, frames: [] });
  });
});

describe.skipIf(!requireOrSkip('ipfixDump'))('ipfixDump', () => {
  it('reads every message and record of a valid file', async () => {
    const file = ipfixFileOf(cisco100, 'cisco100.ipfix');
    const d = await ipfixDump(file);
    expect(d.errors).toEqual([]);
    expect(d.ok).toBe(true);
    expect(d.stats).toEqual({ messages: 6, dataRecords: 12, templateRecords: 2 });
    expect(d.messages).toHaveLength(6);
    expect(d.messages[0]).toMatchObject({ observationDomainId: 851968, sequenceNumber: 4210974, length: 156, templateRecords: 1 });
    expect(d.records).toHaveLength(12);
    const f = Object.fromEntries(d.records[0]!.fields.map((x) => [x.name, x.value]));
    expect(f['sourceIPv4Address']).toBe('10.231.65.56');
    expect(f['octetDeltaCount']).toBe('220');
    expect(f['flowStartMilliseconds']).toBe('2023-02-28 09:46:01.088');
    expect(sequenceBreaks(d.messages)).toEqual([]);
  });

  it('names enterprise (reverse) elements with their PEN', async () => {
    const d = await ipfixDump(ipfixFileOf(resolve(corpusDir, 'ipfix/akvorado__ipfixprobe-biflow.pcap'), 'biflow.ipfix'));
    expect(d.ok).toBe(true);
    const rev = d.records[0]!.fields.find((x) => x.pen === 29305 && x.id === 1);
    expect(rev).toMatchObject({ name: 'reverseOctetDeltaCount', value: '128' });
  });

  it('fails a file it stops reading early, and a file cut inside a message', async () => {
    const good = readFileSync(ipfixFileOf(cisco100, 'cisco100b.ipfix'));
    const cut = join(tmp.dir, 'cut.ipfix');
    writeFileSync(cut, good.subarray(0, good.length - 10));
    const d = await ipfixDump(cut);
    expect(d.ok).toBe(false);
    expect(d.errors.join('\n')).toMatch(/octets after the last whole IPFIX message/);

    // set id 1 is reserved: ipfixDump warns on stderr and reads on
    const bad = await ipfixDump(ipfixFileOf(resolve(corpusDir, 'synthetic/malformed/case_06_set_id_1_reserved.pcap'), 'setid1.ipfix'));
    expect(bad.ok).toBe(false);
    expect(bad.errors.join('\n')).toMatch(/Illegal IPFIX Set ID/);

    // a set longer than its message: ipfixDump silently stops after the first message
    const long = await ipfixDump(ipfixFileOf(resolve(corpusDir, 'synthetic/malformed/case_01_set_len_gt_msg.pcap'), 'setlen.ipfix'));
    expect(long.ok).toBe(false);
    expect(long.errors.join('\n')).toMatch(/read 1 of the file's 2 messages/);
  });

  it('finds a sequence-number break (ipfixDump warns; the per-message record counts agree)', async () => {
    const msgs = udpPayloads(cisco100).map((p) => p.payload);
    expect(walkIpfixMessages(Buffer.concat(msgs)).count).toBe(6);
    const swapped = join(tmp.dir, 'swapped.ipfix');
    // messages 2 and 4 are data for ODID 851968 (sequence 4210974, then 4210978): swap them
    writeFileSync(swapped, Buffer.concat([msgs[0]!, msgs[1]!, msgs[4]!, msgs[3]!, msgs[2]!, msgs[5]!]));
    const d = await ipfixDump(swapped);
    expect(d.ok).toBe(false);
    expect(d.errors.filter((e) => /out of sequence/.test(e))).toHaveLength(2);
    expect(sequenceBreaks(d.messages)).toEqual([
      'message 2 (ODID 851968): sequence 4210978, expected 4210974',
      'message 4 (ODID 851968): sequence 4210974, expected 4210982',
    ]);
  });
});

describe.skipIf(!requireOrSkip('tshark'))('record comparison rules', () => {
  it('parses tshark absolute times and turns uptime-relative times into absolute ones across the wrap', async () => {
    expect(absTimeToMs('Feb 28, 2023 09:46:01.088000000 UTC')).toBe(Date.UTC(2023, 1, 28, 9, 46, 1, 88));
    // logstash v5: unix_secs 1430591888, unix_nsecs 280328000 (export at ...888.280), sysUptime 3381 ms,
    // First 4294967295 ms = 1 ms before the wrap, i.e. 3382 ms before the export; Last 2577 ms = 804 ms before it
    const [r] = await tsharkJson(resolve(corpusDir, 'nf5/logstash-dat__generic.pcap'));
    const c = canonical(r!);
    expect(c.get('@flowStart')).toBe(String(1430591888280 - 3382));
    expect(c.get('@flowEnd')).toBe(String(1430591888280 - 804));
    expect(c.get('cflow.tcpflags')).toBe('16'); // "0x10"
    expect(c.has('cflow.padding')).toBe(false);
  });

  it('finds pmacctd nfprobe v9 and IPFIX exports of the same traffic equal record by record', async () => {
    const v9 = (await tsharkJson(resolve(pcapsDir, 'pmacctd-nfprobe-v9.pcap'))).filter((r) => !r.options);
    const ipfix = (await tsharkJson(resolve(pcapsDir, 'pmacctd-nfprobe-ipfix.pcap'))).filter((r) => !r.options);
    expect(v9).toHaveLength(328);
    expect(ipfix).toHaveLength(328);
    const cmp = compareRecords(v9.map((r) => canonical(r)), ipfix.map((r) => canonical(r)), v9.map((r) => r.frame));
    expect(describeMismatches(cmp)).toBe('');
    expect(cmp).toEqual({ matched: 328, unmatched: [], surplus: 0 });
  });

  it('shows why v9 times are only as good as the header second: softflowd v9 vs IPFIX -A milli', async () => {
    // Same flows; v9 times are sysUptime-relative and the v9 header carries whole seconds, so the
    // absolute times derived from v9 (DESIGN.md's rule) run 0..999 ms early against IPFIX's own ms.
    const v9 = (await tsharkJson(resolve(pcapsDir, 'softflowd-v9.pcap'))).filter((r) => !r.options);
    const milli = (await tsharkJson(resolve(pcapsDir, 'softflowd-ipfix-milli.pcap'))).filter((r) => !r.options);
    const a = v9.map((r) => canonical(r));
    const b = milli.map((r) => canonical(r));
    // the flow that starts at sysUptime 0, which tshark shows as 1970-01-01 (quirk handled in canonical())
    const zero = a.find((c) => c.get('cflow.srcport') === '41002')!;
    expect(zero.get('@flowStart')).toBe(String(1704067439000 - 238298));
    const cmp = compareRecords(a, b, v9.map((r) => r.frame), ['@flowStart', '@flowEnd']);
    expect(cmp).toEqual({ matched: 328, unmatched: [], surplus: 0 });
    const key = (c: Map<string, string>) => [...c].filter(([k]) => !k.startsWith('@')).map((e) => e.join('=')).sort().join(',');
    const byKey = new Map(b.map((c) => [key(c), c]));
    const early = a.map((c) => Number(byKey.get(key(c))!.get('@flowStart')) - Number(c.get('@flowStart')));
    expect(Math.min(...early)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...early)).toBeLessThan(1000);
  });

  it('reports the disagreeing field of a record that has no equal', async () => {
    const v9 = (await tsharkJson(resolve(pcapsDir, 'softflowd-v9.pcap'))).filter((r) => !r.options);
    const out = v9.map((r) => canonical(r));
    const changed = new Map(out[5]!);
    changed.set('cflow.octets', String(Number(changed.get('cflow.octets')) + 1));
    out[5] = changed;
    const cmp = compareRecords(v9.map((r) => canonical(r)), out, v9.map((r) => r.frame));
    expect(cmp.matched).toBe(327);
    expect(cmp.unmatched).toHaveLength(1);
    expect(Object.keys(cmp.unmatched[0]!.closest)).toEqual(['cflow.octets']);
  });
});

describe.skipIf(!requireOrSkip('tshark'))('v9 option scopes → IPFIX scope elements', () => {
  it('converts tshark v9 scope values to the values tshark prints for the IPFIX elements', () => {
    expect(v9ScopeToIpfix('cflow.scope_system', 'c1:c4:be:43')).toEqual(['cflow.exporter_addr', '193.196.190.67']);
    expect(v9ScopeToIpfix('cflow.scope_system', '20:01:0d:b8:00:00:00:00:00:00:00:00:00:00:00:01')).toEqual(['cflow.exporter_addr_v6', '2001:db8::1']);
    expect(v9ScopeToIpfix('cflow.scope_system', '00:00:00:00:00:00:00:07')).toEqual(['cflow.flow_exporter', '7']);
    expect(v9ScopeToIpfix('cflow.scope_system', '')).toBeNull();
    expect(v9ScopeToIpfix('cflow.scope_cache', '00:00:01:00')).toEqual(['cflow.mp_id', '256']);
    expect(v9ScopeToIpfix('cflow.scope_template', '01:2c')).toEqual(['cflow.template_id', '300']);
    expect(v9ScopeToIpfix('cflow.scope_interface', '5')).toEqual(['cflow.inputint', '5']);
  });

  it('uses the names tshark gives those IPFIX elements', async () => {
    // One IPFIX message: template 256 = lineCardId(141)/4, exportingProcessId(144)/4,
    // meteringProcessId(143)/4, templateId(145)/2, exporterIPv4Address(130)/4,
    // exporterIPv6Address(131)/16, ingressInterface(10)/4; then one data record.
    const fields: [number, number][] = [[141, 4], [144, 4], [143, 4], [145, 2], [130, 4], [131, 16], [10, 4]];
    const tmpl = Buffer.alloc(4 + 4 * fields.length);
    tmpl.writeUInt16BE(256, 0);
    tmpl.writeUInt16BE(fields.length, 2);
    fields.forEach(([id, len], i) => {
      tmpl.writeUInt16BE(id, 4 + 4 * i);
      tmpl.writeUInt16BE(len, 6 + 4 * i);
    });
    const data = Buffer.concat([
      Buffer.from([0, 0, 0, 7, 0, 0, 0, 8, 0, 0, 0, 9, 0x01, 0x2c, 193, 196, 190, 67]),
      Buffer.from('20010db8000000000000000000000001', 'hex'),
      Buffer.from([0, 0, 0, 5]),
    ]);
    const set = (id: number, body: Buffer) => {
      const h = Buffer.alloc(4);
      h.writeUInt16BE(id, 0);
      h.writeUInt16BE(4 + body.length, 2);
      return Buffer.concat([h, body]);
    };
    const body = Buffer.concat([set(2, tmpl), set(256, data)]);
    const header = Buffer.alloc(16);
    header.writeUInt16BE(10, 0);
    header.writeUInt16BE(16 + body.length, 2);
    header.writeUInt32BE(1704067200, 4);
    const path = join(tmp.dir, 'scope-elements.pcap');
    writePcapOfUdp([Buffer.concat([header, body])], path, 4739);
    const [rec] = await tsharkJson(path);
    expect(rec!.fields).toEqual({
      'cflow.scope_linecard': '7',
      'cflow.flow_exporter': '8',
      'cflow.mp_id': '9',
      'cflow.template_id': '300',
      'cflow.exporter_addr': '193.196.190.67',
      'cflow.exporter_addr_v6': '2001:db8::1',
      'cflow.inputint': '5',
    });
  });
});

describe('private-enterprise fields', () => {
  it('match an input field the output only carries as an anonymous enterprise entry, by value', () => {
    // Cisco NSEL NF_F_FW_EXT_EVENT (33002) = 2025 is kept under the gateway's PEN: tshark names it in
    // the v9 input (cflow.fw_ext_event) and shows raw bytes 07:e9 in the output.
    const input = new Map([['cflow.srcaddr', '192.168.14.1'], ['cflow.fw_ext_event', '2025']]);
    const good = new Map([['cflow.srcaddr', '192.168.14.1'], [PRIVATE, '2025|1234']]);
    const bad = new Map([['cflow.srcaddr', '192.168.14.1'], [PRIVATE, '2026']]);
    expect(compareRecords([input], [bad]).matched).toBe(0);
    expect(compareRecords([input], [bad, good])).toMatchObject({ matched: 1, surplus: 1 });
  });
});
