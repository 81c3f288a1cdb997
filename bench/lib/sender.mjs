// Sends a traffic's datagrams to one receiver from every exporter's own loopback address, at a given
// rate in records per second, paced in 1 ms slices (the loop yields to the event loop between slices).

import dgram from 'node:dgram';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * One UDP socket per address, bound to it and connected to host:port (connected sends are cheaper).
 * With `sourcePort`, every socket binds that port with SO_REUSEADDR, so the C sender (blast.c) can send
 * from the very same (address, port) — the same exporter in the receiver's eyes.
 */
export async function openSenders(addresses, port, { host = '127.0.0.1', sourcePort = 0 } = {}) {
  const sockets = [];
  for (const a of addresses) {
    const s = dgram.createSocket({ type: 'udp4', sendBufferSize: 4 << 20, reuseAddr: sourcePort !== 0 });
    await new Promise((r, j) => {
      s.once('error', j);
      s.bind(sourcePort, a, r);
    });
    s.connect(port, host);
    await new Promise((r) => s.once('connect', r));
    sockets.push(s);
  }
  return {
    sockets,
    close: () => Promise.all(sockets.map((s) => new Promise((r) => s.close(r)))),
  };
}

/** Sends `list` (items of a traffic) once, `gapEvery` datagrams then a 1 ms pause (≤ 10 K datagrams/s): gentle, for warm-ups. */
export async function sendGently(sockets, list, gapEvery = 10) {
  let n = 0;
  for (const { exporter, datagram } of list) {
    sockets[exporter].send(datagram);
    if (++n % gapEvery === 0) await sleep(1);
  }
  await sleep(50);
}

/**
 * Sends `items` round and round at `rate` records/s for `seconds`. Returns datagrams and records sent and
 * the seconds it really took; when the sender cannot keep up, the records it sent say so.
 */
export async function offer(sockets, items, rate, seconds) {
  const perMs = rate / 1000;
  const start = process.hrtime.bigint();
  const endNs = BigInt(Math.round(seconds * 1e9));
  let sent = 0;
  let records = 0;
  let i = 0;
  for (let late = false; !late; ) {
    const elapsed = process.hrtime.bigint() - start;
    if (elapsed >= endNs) break;
    const due = Math.floor((Number(elapsed) / 1e6) * perMs);
    while (records < due) {
      const it = items[i];
      sockets[it.exporter].send(it.datagram);
      records += it.records;
      sent++;
      if (++i === items.length) i = 0;
      // A sender that fell behind catches up in a burst: never past the end of the interval.
      if ((sent & 63) === 0 && process.hrtime.bigint() - start >= endNs) {
        late = true;
        break;
      }
    }
    await new Promise((r) => setImmediate(r));
  }
  return { datagrams: sent, records, seconds: Number(process.hrtime.bigint() - start) / 1e9 };
}
