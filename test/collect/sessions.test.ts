// The exporter session table on its own: keys, lifetimes and the order of the in-band events it sends,
// with a clock the test moves.

import { describe, expect, it } from 'vitest';
import { SessionTable } from '../../src/collect/sessions.js';
import type { ExporterSession } from '../../src/collect/session.js';
import type { InputConfig } from '../../src/config/types.js';
import type { RecordSink } from '../../src/mediate/sink.js';

function table() {
  const events: string[] = [];
  const name = (s: ExporterSession) => `${s.protocol}/${s.address}:${s.port}/${s.observationDomainId}#${s.uid}`;
  const sink: RecordSink = {
    sessionStarted: (s) => void events.push(`start ${name(s)}`),
    templateDefined: () => {},
    templateWithdrawn: () => {},
    records: () => {},
    sessionEnded: (s, reason) => void events.push(`end ${name(s)} ${reason}`),
  };
  let now = 1_000_000;
  const config = { name: 'in', sessionTimeout: 30, templateTimeout: 1800, pendingLimit: 8, pendingTimeout: 5 } as InputConfig;
  const t = new SessionTable(config, sink, () => now);
  return { t, events, advance: (ms: number) => (now += ms) };
}

describe('SessionTable', () => {
  it('finds the same session for a key however the lookups of one address interleave', () => {
    const { t, events } = table();
    const a0 = t.get('sflow', '192.0.2.1', 0, 0).session;
    const a1 = t.get('sflow', '192.0.2.1', 0, 1).session;
    const b0 = t.get('sflow', '192.0.2.2', 0, 0).session;
    // IPFIX from the same address and ODID is another session (protocol and port are part of the key).
    const i0 = t.get('ipfix', '192.0.2.1', 4739, 0).session;
    for (let k = 0; k < 3; k++) {
      expect(t.get('sflow', '192.0.2.1', 0, 0).session).toBe(a0);
      expect(t.get('sflow', '192.0.2.1', 0, 1).session).toBe(a1);
      expect(t.get('sflow', '192.0.2.1', 0, 1).session).toBe(a1);
      expect(t.get('ipfix', '192.0.2.1', 4739, 0).session).toBe(i0);
      expect(t.get('sflow', '192.0.2.2', 0, 0).session).toBe(b0);
    }
    expect(new Set([a0.uid, a1.uid, b0.uid, i0.uid]).size).toBe(4);
    expect(t.size).toBe(4);
    expect(events.filter((e) => e.startsWith('start')).length).toBe(4);
    // ODIDs are unsigned 32-bit: the top one is a key of its own.
    const top = t.get('ipfix', '192.0.2.1', 4739, 0xffffffff).session;
    expect(top.observationDomainId).toBe(0xffffffff);
    expect(t.get('ipfix', '192.0.2.1', 4739, 0).session).toBe(i0);
    expect(t.get('ipfix', '192.0.2.1', 4739, 0xffffffff).session).toBe(top);
  });

  it('after a session times out, the next datagram of its key starts a new one (the last one found is not kept)', () => {
    const { t, events, advance } = table();
    const first = t.get('sflow', '198.51.100.7', 0, 0).session;
    advance(10_000);
    expect(t.get('sflow', '198.51.100.7', 0, 0).session).toBe(first); // refreshed
    advance(31_000);
    t.sweep();
    expect(events.at(-1)).toBe(`end sflow/198.51.100.7:0/0#${first.uid} timeout`);
    expect(t.size).toBe(0);
    const second = t.get('sflow', '198.51.100.7', 0, 0).session;
    expect(second.uid).not.toBe(first.uid);
    expect(events.at(-1)).toBe(`start sflow/198.51.100.7:0/0#${second.uid}`);
    expect(t.get('sflow', '198.51.100.7', 0, 0).session).toBe(second);
  });

  it('ends the sessions of one transport peer only, and finds the others of the address after it', () => {
    const { t, events } = table();
    const p1 = t.get('ipfix', '203.0.113.5', 40001, 7, true).session;
    const p2 = t.get('ipfix', '203.0.113.5', 40002, 7, true).session;
    t.endPeer('203.0.113.5', 40002, 'closed');
    expect(events.at(-1)).toBe(`end ipfix/203.0.113.5:40002/7#${p2.uid} closed`);
    expect(t.get('ipfix', '203.0.113.5', 40001, 7).session).toBe(p1);
    const again = t.get('ipfix', '203.0.113.5', 40002, 7).session;
    expect(again.uid).not.toBe(p2.uid);
    expect(t.size).toBe(2);
  });

  it('a restart ends the session and the same key then finds the fresh one', () => {
    const { t, events } = table();
    const s = t.get('netflow9', '192.0.2.9', 2055, 1);
    const old = s.session;
    const fresh = s.restart!('test evidence').session;
    expect(fresh.uid).not.toBe(old.uid);
    expect(events.slice(-2)).toEqual([`end netflow9/192.0.2.9:2055/1#${old.uid} restart`, `start netflow9/192.0.2.9:2055/1#${fresh.uid}`]);
    expect(t.get('netflow9', '192.0.2.9', 2055, 1).session).toBe(fresh);
  });
});
