// Deterministic NetFlow v5 / v9 datagram generator for benchmarks. Independent of the gateway's code so
// the same traffic can drive peers (nfcapd, nfacctd) too.

const V5_HEADER = 24;
const V5_RECORD = 48;

/** A small seeded PRNG (mulberry32): the same seed gives the same traffic. */
export function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * `count` v5 datagrams of `recordsPer` records each (max 30). Header times are fixed relative to
 * `unixSecs`; sequence numbers count flows as RFC-less v5 does.
 */
export function v5Datagrams(count, { recordsPer = 30, seed = 1, unixSecs = 1_700_000_000, engineId = 0 } = {}) {
  const rnd = prng(seed);
  const out = [];
  let sequence = 0;
  for (let d = 0; d < count; d++) {
    const b = Buffer.alloc(V5_HEADER + V5_RECORD * recordsPer);
    const uptime = 3_600_000 + d * 10;
    b.writeUInt16BE(5, 0);
    b.writeUInt16BE(recordsPer, 2);
    b.writeUInt32BE(uptime, 4);
    b.writeUInt32BE(unixSecs + Math.floor(d / 1000), 8);
    b.writeUInt32BE((d % 1000) * 1_000_000, 12);
    b.writeUInt32BE(sequence, 16);
    b[20] = 0;
    b[21] = engineId;
    b.writeUInt16BE(0, 22);
    for (let r = 0; r < recordsPer; r++) {
      const o = V5_HEADER + r * V5_RECORD;
      b.writeUInt32BE((0x0a000000 | Math.floor(rnd() * 0xffff)) >>> 0, o); // srcaddr 10.0.x.x
      b.writeUInt32BE((0xc0a80000 | Math.floor(rnd() * 0xffff)) >>> 0, o + 4); // dstaddr 192.168.x.x
      b.writeUInt32BE(0x0a0000fe, o + 8); // nexthop
      b.writeUInt16BE(1 + (r % 4), o + 12); // input
      b.writeUInt16BE(5 + (r % 3), o + 14); // output
      b.writeUInt32BE(1 + Math.floor(rnd() * 1000), o + 16); // dPkts
      b.writeUInt32BE(64 + Math.floor(rnd() * 1_000_000), o + 20); // dOctets
      b.writeUInt32BE(uptime - 5000, o + 24); // First
      b.writeUInt32BE(uptime - 100, o + 28); // Last
      b.writeUInt16BE(1024 + Math.floor(rnd() * 60000), o + 32); // srcport
      b.writeUInt16BE([80, 443, 53, 123][r % 4], o + 34); // dstport
      b[o + 37] = 0x1b; // tcp_flags
      b[o + 38] = r % 3 === 0 ? 17 : 6; // prot
      b[o + 39] = 0; // tos
      b.writeUInt16BE(64512, o + 40);
      b.writeUInt16BE(65000 + (r % 10), o + 42);
      b[o + 44] = 16;
      b[o + 45] = 24;
    }
    sequence += recordsPer;
    out.push(b);
  }
  return out;
}

// v9 templates (field type, length; RFC 3954 §8). 256: an IPv4 flow; 257: an IPv6 flow; 258: an IPv4 flow
// as a switch-router exports it (8-octet counters, 2-octet interfaces, next hop, masks, MACs, VLAN,
// direction); 259: an IPv6 flow with flow label, masks and IPv6 next hop.
const V9_TEMPLATES = {
  256: [[8, 4], [12, 4], [7, 2], [11, 2], [4, 1], [6, 1], [5, 1], [10, 4], [14, 4], [2, 4], [1, 4], [22, 4], [21, 4], [16, 4], [17, 4]],
  257: [[27, 16], [28, 16], [7, 2], [11, 2], [4, 1], [6, 1], [5, 1], [10, 4], [14, 4], [2, 4], [1, 8], [22, 4], [21, 4]],
  258: [[8, 4], [12, 4], [15, 4], [7, 2], [11, 2], [4, 1], [6, 1], [5, 1], [9, 1], [13, 1], [10, 2], [14, 2], [2, 8], [1, 8], [22, 4], [21, 4], [56, 6], [80, 6], [58, 2], [61, 1]],
  259: [[27, 16], [28, 16], [62, 16], [7, 2], [11, 2], [4, 1], [6, 1], [5, 1], [31, 3], [29, 1], [30, 1], [10, 4], [14, 4], [2, 4], [1, 4], [22, 4], [21, 4]],
};

export function v9RecordLength(tid) {
  return V9_TEMPLATES[tid].reduce((n, [, l]) => n + l, 0);
}

/** The template FlowSet (id 0) defining `templates`, header included. */
function v9TemplateFlowSet(templates) {
  const recs = [];
  for (const tid of templates) {
    const f = V9_TEMPLATES[tid];
    const r = Buffer.alloc(4 + f.length * 4);
    r.writeUInt16BE(tid, 0);
    r.writeUInt16BE(f.length, 2);
    f.forEach(([t, l], i) => {
      r.writeUInt16BE(t, 4 + i * 4);
      r.writeUInt16BE(l, 6 + i * 4);
    });
    recs.push(r);
  }
  const body = Buffer.concat(recs);
  const h = Buffer.alloc(4);
  h.writeUInt16BE(0, 0);
  h.writeUInt16BE(4 + body.length, 2);
  return Buffer.concat([h, body]);
}

function v9Header(count, uptime, unixSecs, sequence, sourceId) {
  const h = Buffer.alloc(20);
  h.writeUInt16BE(9, 0);
  h.writeUInt16BE(count, 2);
  h.writeUInt32BE(uptime, 4);
  h.writeUInt32BE(unixSecs, 8);
  h.writeUInt32BE(sequence, 12);
  h.writeUInt32BE(sourceId, 16);
  return h;
}

/** A v9 datagram carrying only the template FlowSet of `templates` (no data): what a warm-up sends first. */
export function v9TemplateDatagram({ templates = [256, 257], sourceId = 1, unixSecs = 1_700_000_000, uptime = 7_200_000 } = {}) {
  return Buffer.concat([v9Header(templates.length, uptime, unixSecs, 0, sourceId), v9TemplateFlowSet(templates)]);
}

/** Records of `templates` (shared out in turn) that fit one datagram of at most `maxDatagram` octets. */
export function v9RecordsPerDatagram(templates, maxDatagram = 1464) {
  const room = maxDatagram - 20 - templates.length * 8; // header, set headers and worst-case padding
  const perRound = templates.reduce((n, t) => n + v9RecordLength(t), 0);
  const rounds = Math.floor(room / perRound);
  let n = rounds * templates.length;
  for (let i = 0, left = room - rounds * perRound; i < templates.length && left >= v9RecordLength(templates[i]); i++) {
    left -= v9RecordLength(templates[i]);
    n++;
  }
  return n;
}

/**
 * `count` v9 datagrams, each with a template FlowSet (every `templateEvery` datagrams, first included) and
 * one data FlowSet per template in `templates` (default IPv4 256 and IPv6 257), `recordsPer` records per
 * datagram shared out among them (the first ones get one more when it does not divide).
 */
export function v9Datagrams(count, { recordsPer = 24, seed = 2, unixSecs = 1_700_000_000, sourceId = 1, templateEvery = 100, templates = [256, 257] } = {}) {
  const rnd = prng(seed);
  const out = [];
  let sequence = 0;
  for (let d = 0; d < count; d++) {
    const parts = [];
    let flowsets = 0;
    if (d % templateEvery === 0) {
      parts.push(v9TemplateFlowSet(templates));
      flowsets += templates.length;
    }
    const uptime = 7_200_000 + d * 10;
    for (let k = 0; k < templates.length; k++) {
      const tid = templates[k];
      const n = Math.floor(recordsPer / templates.length) + (k < recordsPer % templates.length ? 1 : 0);
      const len = v9RecordLength(tid);
      const padded = (4 + n * len + 3) & ~3;
      const s = Buffer.alloc(padded);
      s.writeUInt16BE(tid, 0);
      s.writeUInt16BE(padded, 2);
      let o = 4;
      for (let r = 0; r < n; r++) {
        for (const [t, l] of V9_TEMPLATES[tid]) {
          if (t === 22) s.writeUInt32BE(uptime - 4000, o);
          else if (t === 21) s.writeUInt32BE(uptime - 50, o);
          else if (t === 27 || t === 28 || t === 62) {
            s.writeUInt32BE(0x20010db8, o);
            s.writeUInt32BE(Math.floor(rnd() * 0xffffffff), o + 12);
          } else if (l === 6) {
            s.writeUInt32BE(0x001c7300 | Math.floor(rnd() * 256), o); // a MAC in one vendor's block
            s.writeUInt16BE(Math.floor(rnd() * 0xffff), o + 4);
          } else if (l === 3) s.writeUIntBE(Math.floor(rnd() * 0xfffff), o, 3); // IPv6 flow label (20 bits)
          else if (l === 8) s.writeBigUInt64BE(BigInt(Math.floor(rnd() * 1e9)), o);
          else if (l === 4) s.writeUInt32BE(Math.floor(rnd() * 0xffffffff), o);
          else if (l === 2) s.writeUInt16BE(Math.floor(rnd() * 0xffff), o);
          else s[o] = t === 4 ? 6 : Math.floor(rnd() * 255);
          o += l;
        }
      }
      parts.push(s);
      flowsets += n;
    }
    const body = Buffer.concat(parts);
    const h = v9Header(flowsets, uptime, unixSecs + Math.floor(d / 1000), sequence++, sourceId);
    out.push(Buffer.concat([h, body]));
  }
  return out;
}

/** Data records in a v5 or v9 datagram as generated here (templates not counted). */
export function recordsIn(datagram) {
  const version = datagram.readUInt16BE(0);
  if (version === 5) return datagram.readUInt16BE(2);
  let n = 0;
  let o = 20;
  while (o + 4 <= datagram.length) {
    const id = datagram.readUInt16BE(o);
    const len = datagram.readUInt16BE(o + 2);
    if (id >= 256) n += Math.floor((len - 4) / v9RecordLength(id));
    o += len;
  }
  return n;
}
