// Exporter restart detection (src/collect/restart.ts) through a Collecting Process: hand-built NetFlow v9
// and IPFIX datagrams whose headers tell a restart (or only look like one), and every NetFlow v9 and IPFIX
// capture of the shared corpus, none of which holds a restart (several are stitched: packets reordered by
// up to 2 minutes of uptime, sequence numbers going back), so none may end a session as 'restart'.

import { afterEach, describe, expect, it, vi } from 'vitest';
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CollectingProcess } from '../../src/collect/collecting-process.js';
import { DEFAULT_MAPPING } from '../../src/config/load.js';
import type { InputConfig } from '../../src/config/types.js';
import type { RecordSink } from '../../src/mediate/sink.js';
import { loadRegistry } from '../../src/model/registry.js';
import { readPcap } from '../../src/util/pcap.js';
import { netflow9Restarted, counterRestarted } from '../../src/collect/restart.js';

const corpus = resolve(import.meta.dirname, '../../../shared/corpus');
const options = { registry: loadRegistry(), mapping: DEFAULT_MAPPING };
let seq = 0;
const input = (): InputConfig => ({ name: `rs${++seq}`, listen: 'udp://127.0.0.1:0', protocol: 'auto', sessionTimeout: 300, templateTimeout: 1800, pendingTimeout: 10, pendingLimit: 256, receiveBuffer: 1 << 20 });

type Ev = (string | number)[];
function recorder(): { sink: RecordSink; events: Ev[] } {
  const events: Ev[] = [];
  return {
    events,
    sink: {
      sessionStarted: (s) => events.push(['started', s.uid]),
      templateDefined: (s, t) => events.push(['defined', s.uid, t.id]),
      templateWithdrawn: (s, t) => events.push(['withdrawn', s.uid, t.id]),
      records: (s, t, _b, _st, _e, count) => events.push(['records', s.uid, t.id, count]),
      sessionEnded: (s, reason) => events.push(['ended', s.uid, reason]),
    },
  };
}

/**
 * NetFlow v9 packet (RFC 3954 §5.1 header: version 9, count, sysUptime, unix_secs, sequence, source id)
 * with a Template FlowSet (id 0; template 256: IPV4_SRC_ADDR 8/4, L4_SRC_PORT 7/2) and/or a Data FlowSet
 * of two records (192.0.2.1:80, 192.0.2.2:443).
 */
function v9(uptime: number, unixSecs: number, sequence: number, withTemplate: boolean, withData = true): Buffer {
  const sets: Buffer[] = [];
  if (withTemplate) sets.push(Buffer.from([0, 0, 0, 16, 1, 0, 0, 2, 0, 8, 0, 4, 0, 7, 0, 2]));
  if (withData) sets.push(Buffer.from([1, 0, 0, 16, 192, 0, 2, 1, 0, 80, 192, 0, 2, 2, 1, 187]));
  const h = Buffer.alloc(20);
  h.writeUInt16BE(9, 0);
  h.writeUInt16BE(sets.length, 2);
  h.writeUInt32BE(uptime >>> 0, 4);
  h.writeUInt32BE(unixSecs, 8);
  h.writeUInt32BE(sequence >>> 0, 12);
  h.writeUInt32BE(7, 16);
  return Buffer.concat([h, ...sets]);
}

/** IPFIX message (RFC 7011 §3.1) with template 300 (sourceIPv4Address 8/4) and one or two records of it. */
function ipfix(exportTime: number, sequence: number, records: number): Buffer {
  const body = Buffer.concat([Buffer.from([0, 2, 0, 12, 1, 44, 0, 1, 0, 8, 0, 4]), Buffer.from([1, 44, 0, 4 + 4 * records]), Buffer.alloc(4 * records, 9)]);
  const h = Buffer.alloc(16);
  h.writeUInt16BE(10, 0);
  h.writeUInt16BE(16 + body.length, 2);
  h.writeUInt32BE(exportTime, 4);
  h.writeUInt32BE(sequence, 8);
  h.writeUInt32BE(1, 12);
  return Buffer.concat([h, body]);
}

const T0 = 1_700_000_000;

afterEach(() => vi.useRealTimers());

describe('NetFlow v9 exporter restart', () => {
  it('a reboot (uptime back to 1.5 s after 2 s of silence, sequence from 0) ends the session as restart and starts a new one', () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(T0 * 1000);
    const { sink, events } = recorder();
    const cp = new CollectingProcess(input(), sink, options);
    cp.feed(v9(3_600_000, T0, 500, true), '192.0.2.9', 2055);
    vi.setSystemTime(T0 * 1000 + 1000);
    cp.feed(v9(3_601_000, T0 + 1, 501, false), '192.0.2.9', 2055);
    vi.setSystemTime(T0 * 1000 + 3000);
    // rebooted: 1.5 s up, counting packets from 0, templates first again
    cp.feed(v9(1500, T0 + 3, 0, true), '192.0.2.9', 2055);
    const [first, second] = events.filter((e) => e[0] === 'started').map((e) => e[1]);
    expect(events).toEqual([
      ['started', first],
      ['defined', first, 256],
      ['records', first, 256, 2],
      ['records', first, 256, 2],
      ['ended', first, 'restart'],
      ['started', second],
      ['defined', second, 256],
      ['records', second, 256, 2],
    ]);
    expect(second).not.toBe(first);
  });

  it('a sequence reset while unix_secs goes on is a restart for an exporter whose sysUptime is always 0', () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(T0 * 1000);
    const { sink, events } = recorder();
    const cp = new CollectingProcess(input(), sink, options);
    cp.feed(v9(0, T0, 9000, true), '192.0.2.9', 2055);
    vi.setSystemTime(T0 * 1000 + 5000);
    cp.feed(v9(0, T0 + 5, 0, true), '192.0.2.9', 2055);
    expect(events.filter((e) => e[0] === 'ended')).toEqual([['ended', events[0]![1]!, 'restart']]);
  });

  it('reordering, a stitched capture, an uptime wrap and a clock step are not restarts', () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(T0 * 1000);
    const { sink, events } = recorder();
    const cp = new CollectingProcess(input(), sink, options);
    cp.feed(v9(3_600_000, T0, 500, true), '192.0.2.9', 2055);
    // a packet sent 30 s earlier arrives late: uptime and sequence back, unix_secs back
    cp.feed(v9(3_570_000, T0 - 30, 470, false), '192.0.2.9', 2055);
    // a later packet whose sequence is lower (threads stamping out of order) from an exporter up for an hour
    vi.setSystemTime(T0 * 1000 + 2000);
    cp.feed(v9(3_602_000, T0 + 2, 400, false), '192.0.2.9', 2055);
    // the exporter's clock steps forward an hour: uptime goes on
    cp.feed(v9(3_603_000, T0 + 3603, 502, false), '192.0.2.9', 2055);
    // 32-bit sysUptime wrap after 49.7 days
    cp.feed(v9(0xffff_f000, T0 + 3604, 503, false), '192.0.2.9', 2055);
    vi.setSystemTime(T0 * 1000 + 5000);
    cp.feed(v9(2000, T0 + 3606, 504, false), '192.0.2.9', 2055);
    expect(events.filter((e) => e[0] === 'ended' || e[0] === 'started')).toEqual([['started', events[0]![1]!]]);
    expect(events.filter((e) => e[0] === 'records').length).toBe(6);
  });

  it('the rules one by one', () => {
    // booted 1 s ago after 5 s of silence, uptime back from an hour
    expect(netflow9Restarted(3_600_000, T0, 10, 1000, T0 + 5, 0, 5000)).toMatch(/sysUptime went back/);
    // up for longer than the silence: cannot have booted since the last packet
    expect(netflow9Restarted(3_600_000, T0, 10, 100_000, T0 + 5, 0, 5000)).toBeUndefined();
    // uptime back by less than the reordering tolerance, sequence on
    expect(netflow9Restarted(20_000, T0, 10, 12_000, T0 + 1, 11, 5000)).toBeUndefined();
    // wrap window
    expect(netflow9Restarted(0xffff_ff00, T0, 10, 500, T0 + 1, 11, 1000)).toBeUndefined();
    // sequence serial arithmetic: 2^32 - 1 → 5 is forward, 0 after a non-zero expectation is a reset
    expect(counterRestarted({ exportTime: T0, nextSequence: 0xffff_ffff }, T0 + 1, 5)).toBe(false);
    expect(counterRestarted({ exportTime: T0, nextSequence: 3_000_000_000 }, T0 + 1, 0)).toBe(true);
    expect(counterRestarted({ exportTime: T0, nextSequence: 100 }, T0, 0)).toBe(false);
  });
});

describe('IPFIX exporter restart (UDP)', () => {
  it('a message with a later Export Time and a Sequence Number below the expected one is a restart; same-second reordering is not', () => {
    const { sink, events } = recorder();
    const cp = new CollectingProcess(input(), sink, options);
    cp.feed(ipfix(T0, 0, 2), '192.0.2.10', 4739); // expects 2 next
    cp.feed(ipfix(T0 + 1, 2, 2), '192.0.2.10', 4739); // expects 4
    cp.feed(ipfix(T0 + 1, 1, 1), '192.0.2.10', 4739); // late, same second: not a restart
    cp.feed(ipfix(T0 + 2, 4, 1), '192.0.2.10', 4739);
    expect(events.filter((e) => e[0] === 'ended')).toEqual([]);
    cp.feed(ipfix(T0 + 9, 0, 1), '192.0.2.10', 4739); // restarted: counting from 0 again
    const started = events.filter((e) => e[0] === 'started').map((e) => e[1]);
    expect(started.length).toBe(2);
    expect(events.filter((e) => e[0] === 'ended')).toEqual([['ended', started[0]!, 'restart']]);
    expect(events.slice(-3)).toEqual([
      ['started', started[1]!],
      ['defined', started[1]!, 300],
      ['records', started[1]!, 300, 1],
    ]);
  });
});

describe('the corpus holds no restart', () => {
  const files = ['nf9', 'ipfix'].flatMap((d) =>
    readdirSync(join(corpus, d))
      .filter((f) => /\.pcap(ng)?$/.test(f))
      .map((f) => join(d, f)),
  );
  it.each(files)('%s: no session ends as restart', (file) => {
    const { sink, events } = recorder();
    const cp = new CollectingProcess(input(), sink, options);
    let n = 0;
    for (const p of readPcap(join(corpus, file))) {
      if (p.transport !== 'udp') continue;
      cp.feed(p.payload, p.src, p.srcPort);
      n++;
    }
    expect(n).toBeGreaterThan(0);
    expect(events.filter((e) => e[0] === 'records').length).toBeGreaterThan(0);
    expect(events.filter((e) => e[0] === 'ended')).toEqual([]);
  });
});
