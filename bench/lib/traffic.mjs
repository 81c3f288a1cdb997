// The side-by-side benchmark's traffic: many exporters, each sending from its own loopback address
// (127.0.0.2, .3, …) so every receiver sees them as distinct exporters (nfcapd keys exporters by source
// address), with mixed templates and IPv4 and IPv6 flows. Built from the generators only, never from the
// gateway's code, so the same datagrams drive every receiver.
//
// A traffic is { protocol, addresses, items, warmup, describe }: `items` is the send order (one entry per
// datagram: the index of its exporter's address, the bytes, the records it carries), `warmup` what a
// receiver gets before measuring (v9: each exporter's Templates, no data).

import { v5Datagrams, v9Datagrams, v9TemplateDatagram, v9RecordsPerDatagram, recordsIn } from './netflow-gen.mjs';
import { sflowDatagrams, samplesIn, sampleKinds } from './sflow-gen.mjs';

/** Template mixes NetFlow v9 exporters are given in turn: IPv4 only, IPv4 + IPv6, other layouts. */
const V9_MIXES = [
  [256, 257],
  [258, 259],
  [256, 258, 259],
  [258],
  [257, 258],
];

export const addressOf = (i) => `127.0.0.${2 + i}`;

/** Interleaves per-exporter datagram lists round by round, as they would arrive at a collector. */
function interleave(perExporter) {
  const items = [];
  const longest = Math.max(...perExporter.map((l) => l.length));
  for (let d = 0; d < longest; d++) {
    for (let e = 0; e < perExporter.length; e++) {
      const dg = perExporter[e][d];
      if (dg) items.push({ exporter: e, datagram: dg, records: recordsIn(dg) });
    }
  }
  return items;
}

/** NetFlow v5: `exporters` exporters (own engine id, own seed), 30 records per datagram. */
export function v5Traffic({ exporters = 16, datagrams = 4000 } = {}) {
  const per = Math.ceil(datagrams / exporters);
  const lists = [];
  for (let e = 0; e < exporters; e++) lists.push(v5Datagrams(per, { seed: 100 + e, engineId: e & 0xff }));
  const items = interleave(lists);
  return { protocol: 'v5', addresses: lists.map((_, e) => addressOf(e)), items, warmup: [], describe: summary(items, exporters) };
}

/**
 * NetFlow v9: `exporters` exporters, each with its own source id and one of the template mixes above
 * (IPv4 and IPv6 flows, four layouts), as many records as fit 1,464 octets, the Templates refreshed every
 * `templateEvery` datagrams of an exporter.
 */
export function v9Traffic({ exporters = 16, datagrams = 4000, templateEvery = 100 } = {}) {
  const per = Math.ceil(datagrams / exporters);
  const lists = [];
  const warmup = [];
  for (let e = 0; e < exporters; e++) {
    const templates = V9_MIXES[e % V9_MIXES.length];
    const sourceId = 1 + (e % 3); // some exporters share an id: the address still tells them apart
    lists.push(v9Datagrams(per, { seed: 200 + e, sourceId, templates, templateEvery, recordsPer: v9RecordsPerDatagram(templates) }));
    warmup.push({ exporter: e, datagram: v9TemplateDatagram({ templates, sourceId }), records: 0 });
  }
  const items = interleave(lists);
  return { protocol: 'v9', addresses: lists.map((_, e) => addressOf(e)), items, warmup, describe: { ...summary(items, exporters), templateMixes: V9_MIXES.length } };
}

/** The agent address of an sFlow datagram as text (its key to a sending address). */
function agentOf(d) {
  return d.readUInt32BE(4) === 2 ? d.toString('hex', 8, 24) : d.toString('hex', 8, 12);
}

/**
 * sFlow v5: the generator's fleet (64 agents, IPv4 and IPv6 agent addresses, sub-agents, flow samples of
 * IPv4 and IPv6 frames, counter samples), each agent always sent from the same one of `senders` loopback
 * addresses.
 */
export function sflowTraffic({ senders = 16, datagrams = 8000, agents = 64 } = {}) {
  const pool = sflowDatagrams(datagrams, { agents });
  const agentIndex = new Map();
  const items = pool.map((d) => {
    const a = agentOf(d);
    if (!agentIndex.has(a)) agentIndex.set(a, agentIndex.size);
    return { exporter: agentIndex.get(a) % senders, datagram: d, records: samplesIn(d) };
  });
  let flow = 0;
  for (const { datagram } of items) flow += sampleKinds(datagram).flow;
  const total = items.reduce((n, i) => n + i.records, 0);
  return {
    protocol: 'sflow',
    addresses: Array.from({ length: senders }, (_, e) => addressOf(e)),
    items,
    warmup: [],
    describe: { ...summary(items, senders), agents: agentIndex.size, flowSamples: flow, counterSamples: total - flow },
  };
}

function summary(items, exporters) {
  const records = items.reduce((n, i) => n + i.records, 0);
  const octets = items.reduce((n, i) => n + i.datagram.length, 0);
  return { sourceAddresses: exporters, datagrams: items.length, recordsPerDatagram: +(records / items.length).toFixed(2), octetsPerDatagram: Math.round(octets / items.length) };
}

export function traffic(protocol, opts = {}) {
  if (protocol === 'v5') return v5Traffic(opts);
  if (protocol === 'v9') return v9Traffic(opts);
  if (protocol === 'sflow') return sflowTraffic(opts);
  throw new Error(`unknown protocol ${protocol}`);
}
