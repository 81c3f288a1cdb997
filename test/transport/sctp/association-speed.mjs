// Association throughput, not a test: two SctpEndpoints over UDP encapsulation on 127.0.0.1 in one
// process, 1,400-octet messages as fast as backpressure allows.
//   npx tsc -p tsconfig.json --outDir /tmp/sctp-dist && node test/transport/sctp/association-speed.mjs /tmp/sctp-dist [messages] [streams]

import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const dist = resolve(process.argv[2] ?? resolve(import.meta.dirname, '../../../dist'));
const N = Number(process.argv[3] ?? 100000);
const STREAMS = Number(process.argv[4] ?? 1);
const S = await import(pathToFileURL(resolve(dist, 'transport/sctp/index.js')).href);

const lowerS = await S.openUdpEncapsulation({ port: 0, address: '127.0.0.1', receiveBufferSize: 8 << 20, sendBufferSize: 8 << 20 });
const lowerC = await S.openUdpEncapsulation({ port: 0, address: '127.0.0.1', receiveBufferSize: 8 << 20, sendBufferSize: 8 << 20 });
const opts = { mtu: Number(process.env.MTU ?? 1452), rtoMin: 200, rtoInitial: 500 };
const server = new S.SctpEndpoint({ lower: lowerS, ...opts });
const client = new S.SctpEndpoint({ lower: lowerC, ...opts });
const accepted = new Promise((r) => server.listen(5000, r));
const c = await client.connect({ remote: { address: '127.0.0.1', udpPort: lowerS.local.udpPort }, remotePort: 5000, outboundStreams: STREAMS });
const s = await accepted;

const msg = new Uint8Array(1400).map((_, i) => i & 0xff);
let got = 0;
let bytes = 0;
const done = new Promise((r) =>
  s.on('message', (d) => {
    got++;
    bytes += d.length;
    if (got === N) r();
  }),
);
let sent = 0;
const fill = () => {
  while (sent < N) {
    const ok = c.send(msg, { stream: sent % STREAMS });
    sent++;
    if (!ok) return;
  }
};
c.on('drain', fill);
const cpu0 = process.cpuUsage();
const t0 = performance.now();
fill();
await done;
const ms = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
const cs = c.stats();
console.log(
  `${N} × 1,400 octets: ${((N / ms) * 1000).toFixed(0)} messages/s, ${((bytes * 8) / ms / 1000).toFixed(0)} Mbit/s, CPU ${(((cpu.user + cpu.system) / N)).toFixed(1)} µs/message (both ends, one process)`,
);
console.log(`client: cwnd ${cs.cwnd} ssthresh ${cs.ssthresh} rto ${cs.rto.toFixed(0)} srtt ${cs.srtt.toFixed(2)} packets ${cs.packetsSent} retransmissions ${cs.retransmissions} fast ${cs.fastRetransmits} T3 ${cs.t3Expiries}`);
console.log(`server: packets ${s.stats().packetsSent} sacks ${s.stats().sacksSent}; udp in ${lowerS.stats.packetsIn}; drops ${JSON.stringify(server.drops)}`);
client.close();
server.close();
