// The receiving process of bench/sctp.mjs (forked by it, talks over the IPC channel): an SCTP endpoint
// of our stack listening on SCTP port 4739 (IPFIX) over UDP encapsulation on 127.0.0.1 (or raw IP),
// checking every IPFIX message it is handed (bench/lib/sctp-ipfix.mjs: framing, and each ODID's
// sequence numbers exactly in order) and reporting progress every 200 ms and a final account on request.
//
//   argv: --loss R --seed N --mtu M --lower udp|raw --rcvbuf OCTETS --rto-min MS

import { DroppingLowerLayer } from './sctp-lossy.mjs';
import { MessageChecker } from './sctp-ipfix.mjs';
import { opt, openRawIp, sctp } from './sctp-stack.mjs';

const loss = Number(opt('--loss', '0'));
const seed = Number(opt('--seed', '1'));
const mtu = Number(opt('--mtu', '1452'));
const lowerKind = opt('--lower', 'udp');
const rcvbuf = Number(opt('--rcvbuf', String(4 << 20)));
const rtoMin = opt('--rto-min', '');
const IPFIX_PORT = 4739;

let inner;
let udpPort = 0;
if (lowerKind === 'raw') {
  inner = await openRawIp({ address: '127.0.0.1', receiveBufferSize: rcvbuf, sendBufferSize: rcvbuf });
} else {
  inner = await sctp.openUdpEncapsulation({ port: 0, address: '127.0.0.1', receiveBufferSize: rcvbuf, sendBufferSize: rcvbuf });
  udpPort = inner.local.udpPort;
}
const lower = loss > 0 ? new DroppingLowerLayer(inner, { dropRate: loss, seed: seed * 2 + 1 }) : inner;
const endpoint = new sctp.SctpEndpoint({ lower, mtu, ...(rtoMin ? { rtoMin: Number(rtoMin), rtoInitial: Math.max(Number(rtoMin), 1000) } : {}) });

const checker = new MessageChecker();
let association = null;
let firstAt = 0;
let lastAt = 0;
let cpuAtUp = null;
let down = null;

endpoint.listen(IPFIX_PORT, (a) => {
  association = a;
  cpuAtUp = process.cpuUsage();
  a.on('message', (data, info) => {
    checker.check(data, info.stream);
    lastAt = performance.now();
    if (firstAt === 0) firstAt = lastAt;
  });
  a.on('down', (reason, detail) => {
    down = { reason, detail };
  });
});

setInterval(() => {
  process.send({ progress: checker.dataMessages, errors: checker.errors });
}, 200).unref();

process.on('message', (m) => {
  if (m.finish) {
    const cpu = cpuAtUp ? process.cpuUsage(cpuAtUp) : { user: 0, system: 0 };
    process.send({
      final: {
        dataMessages: checker.dataMessages,
        templateMessages: checker.templateMessages,
        records: checker.records,
        errors: checker.errors,
        firstErrors: checker.firstErrors,
        seconds: (lastAt - firstAt) / 1000,
        cpuUser: cpu.user / 1e6,
        cpuSystem: cpu.system / 1e6,
        down,
        stats: association?.stats() ?? null,
        lower: inner.stats ?? null,
        dropped: lower === inner ? 0 : lower.stats.dropped,
        endpointDrops: endpoint.drops,
      },
    });
  }
  if (m.exit) {
    endpoint.close();
    process.exit(0);
  }
});

process.send({ ready: { udpPort, address: '127.0.0.1', sctpPort: IPFIX_PORT } });
