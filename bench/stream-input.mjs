// TCP and TLS input throughput in one process: a client writes IPFIX messages (40 records of 30 octets
// each, 64 messages per write) over loopback into a Collecting Process with a tcp:// or tls:// listener and
// a sink that only counts. Client and gateway share the one thread, so this is a floor, not a ceiling.
// Never part of the tests. TLS needs the openssl CLI (a throwaway PKI is made in a temp dir).
//
//   node bench/stream-input.mjs [tcp|tls] [--writes 2000]
// Prints one JSON line: { bench, transport, records, seconds, recordsPerSecond, messagesPerSecond, mbPerSecond }.

import net from 'node:net';
import tls from 'node:tls';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CollectingProcess } from '../dist/collect/collecting-process.js';
import { DEFAULT_MAPPING } from '../dist/config/load.js';
import { loadRegistry } from '../dist/model/registry.js';
import { log } from '../dist/observe/log.js';

const transport = process.argv[2] === 'tls' ? 'tls' : 'tcp';
const writesAt = process.argv.indexOf('--writes');
const WRITES = writesAt > 0 ? Number(process.argv[writesAt + 1]) : 2000;
const RECORDS = 40;
const MESSAGES_PER_WRITE = 64;
log.level = 'warn';

function pki(dir) {
  const ssl = (args) => {
    const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
  };
  ssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=bench-ca', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign']);
  writeFileSync(join(dir, 'ext'), 'subjectAltName=IP:127.0.0.1\n');
  for (const n of ['server', 'client']) {
    ssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${n}.key`, '-out', `${n}.csr`, '-subj', `/CN=${n}`]);
    ssl(['x509', '-req', '-in', `${n}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${n}.pem`, '-days', '1', '-extfile', 'ext']);
  }
}

function header(length, odid) {
  const h = Buffer.alloc(16);
  h.writeUInt16BE(10, 0);
  h.writeUInt16BE(length, 2);
  h.writeUInt32BE(1_700_000_000, 4);
  h.writeUInt32BE(odid, 12);
  return h;
}

// Template 256: src/dst IPv4 (8, 12), ports (7, 11), protocol (4), TCP flags (6), packets (2), octets (1): 30 octets.
const fields = [[8, 4], [12, 4], [7, 2], [11, 2], [4, 1], [6, 1], [2, 8], [1, 8]];
const templateSet = Buffer.alloc(8 + fields.length * 4);
templateSet.writeUInt16BE(2, 0);
templateSet.writeUInt16BE(templateSet.length, 2);
templateSet.writeUInt16BE(256, 4);
templateSet.writeUInt16BE(fields.length, 6);
fields.forEach(([id, len], i) => {
  templateSet.writeUInt16BE(id, 8 + i * 4);
  templateSet.writeUInt16BE(len, 10 + i * 4);
});
const templateMessage = Buffer.concat([header(16 + templateSet.length, 1), templateSet]);
const dataSet = Buffer.alloc(4 + RECORDS * 30);
dataSet.writeUInt16BE(256, 0);
dataSet.writeUInt16BE(dataSet.length, 2);
const dataMessage = Buffer.concat([header(16 + dataSet.length, 1), dataSet]);
const write = Buffer.concat(Array.from({ length: MESSAGES_PER_WRITE }, () => dataMessage));

const dir = mkdtempSync(join(tmpdir(), 'bench-stream-'));
try {
  if (transport === 'tls') pki(dir);
  let records = 0;
  const sink = { sessionStarted() {}, templateDefined() {}, templateWithdrawn() {}, records: (_s, _t, _b, _st, _e, n) => (records += n), sessionEnded() {} };
  const files = transport === 'tls' ? { ca: join(dir, 'ca.pem'), cert: join(dir, 'server.pem'), key: join(dir, 'server.key') } : {};
  const cp = new CollectingProcess(
    { name: 'bench', listen: `${transport}://127.0.0.1:0`, protocol: 'ipfix', sessionTimeout: 300, templateTimeout: 1800, pendingTimeout: 10, pendingLimit: 256, receiveBuffer: 1 << 20, ...files },
    sink,
    { registry: loadRegistry(), mapping: DEFAULT_MAPPING },
  );
  await cp.start();
  const sock =
    transport === 'tls'
      ? tls.connect({ host: '127.0.0.1', port: cp.port, ca: readFileSync(files.ca), cert: readFileSync(join(dir, 'client.pem')), key: readFileSync(join(dir, 'client.key')) })
      : net.connect({ host: '127.0.0.1', port: cp.port });
  await new Promise((r) => sock.once(transport === 'tls' ? 'secureConnect' : 'connect', r));
  sock.write(templateMessage);
  const t0 = process.hrtime.bigint();
  let written = 0;
  await new Promise((resolve) => {
    const pump = () => {
      while (written < WRITES) {
        written++;
        if (!sock.write(write)) return void sock.once('drain', pump);
      }
      resolve();
    };
    pump();
  });
  const want = WRITES * MESSAGES_PER_WRITE * RECORDS;
  while (records < want) await new Promise((r) => setImmediate(r));
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  sock.destroy();
  await cp.stop();
  console.log(
    JSON.stringify({
      bench: 'stream-input',
      transport,
      records,
      seconds: Number(seconds.toFixed(3)),
      recordsPerSecond: Math.round(records / seconds),
      messagesPerSecond: Math.round((WRITES * MESSAGES_PER_WRITE) / seconds),
      mbPerSecond: Number(((WRITES * write.length) / seconds / 1e6).toFixed(1)),
    }),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.exit(0);
