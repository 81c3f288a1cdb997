// In-process benchmark: NetFlow v5 → IPFIX, NetFlow v9 → IPFIX and sFlow v5 → IPFIX decoding on one core,
// no sockets. The decoders from dist/ (run `npx tsc` first; `npm run bench` does) turn pre-built datagrams
// (bench/lib/netflow-gen.mjs, bench/lib/sflow-gen.mjs) into IPFIX records handed to a sink that only
// counts them. For NetFlow both plan styles are measured: 'generated' (straight-line code per layout, what
// the gateway uses) and 'interpreted' (the op-list loop). sFlow: one record per sample (flow samples and
// counter samples alike), from a fleet of 64 agents (72 exporter sessions). Reports records/s, ns/record
// and heap bytes allocated per record. Datagrams reach the decoder as the gateway's recvmmsg receive path
// hands them on (collect/listener.ts receiveFrom): `--batch` (32) at a time, packed end to end into
// batches that lie in the receive areas of the thread's plan memory, read by a DatagramReader with one
// arrival time per batch, each datagram a range of its batch (the sFlow decoder reads it in place, the
// others get a view). `--pool own`: each datagram a Buffer of its own, decoded in groups of `--batch` with
// one arrival time (the sFlow decoder copies it in first: the benchmark before session 11); `--batch 0`:
// own Buffers and the clock read for every datagram.
//
//   node --expose-gc bench/inprocess.mjs [--seconds 3] [--batch 32] [--pool receive|own] [--case v5-generated|v9-generated|v5-interpreted|v9-interpreted|sflow]
//
// One JSON line per measurement on stdout, progress on stderr.

import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { PerformanceObserver, performance } from 'node:perf_hooks';
import { Session } from 'node:inspector/promises';
import { v5Datagrams, v9Datagrams, recordsIn } from './lib/netflow-gen.mjs';
import { sflowDatagrams, samplesIn, describe } from './lib/sflow-gen.mjs';

const root = resolve(import.meta.dirname, '..');
const dist = (p) => import(resolve(root, 'dist', p));
const { loadRegistry } = await dist('model/registry.js');
const { buildNetflow5Decoder } = await dist('collect/netflow5/decode.js');
const { buildNetflow9Decoder } = await dist('collect/netflow9/decode.js');
const { buildSflowDecoder } = await dist('collect/sflow/decode.js');
const { makeExporterSession } = await dist('collect/session.js');
const { DEFAULT_SFLOW_MAPPING } = await dist('config/load.js');
const { startBatch, endBatch } = await dist('collect/arrival.js');
const { DatagramBatch, DatagramReader } = await dist('pipeline/datagram-batch.js');
const { RECEIVE_AREA_OCTETS, takeReceiveArea } = await dist('collect/sflow/plan-memory.js');

const args = process.argv.slice(2);
const seconds = Number(args[args.indexOf('--seconds') + 1] || 3) || 3;
const batch = args.includes('--batch') ? Number(args[args.indexOf('--batch') + 1]) : 32;
const pool = args.includes('--pool') ? args[args.indexOf('--pool') + 1] : 'receive';
const gc = globalThis.gc;
if (!gc) console.error('warning: run with --expose-gc for the allocation figures');

const options = {
  registry: loadRegistry(),
  mapping: { dir: resolve(root, 'mappings'), netflow9Enterprise: 4294967294, netflow9HighEnterprise: 4294967295, sflow: { enterprise: 4294967293, keepOuterFlow: false, scaleCounts: false, headerSection: false } },
};

/**
 * A DecodeContext as small as the contract allows: sessions in nested Maps (address, then observation
 * domain: no key string is built per datagram) with the last one cached (NetFlow traffic comes from one
 * exporter, sFlow from many agents), a Map template store, and a sink that counts records without
 * touching the bytes.
 */
function benchContext() {
  let records = 0;
  let calls = 0;
  let last = null;
  const byAddress = new Map();
  const ctx = {
    input: 'bench',
    sink: {
      sessionStarted() {},
      templateDefined() {},
      templateWithdrawn() {},
      records(_s, _t, _buf, _start, _end, count) {
        records += count;
        calls++;
      },
      sessionEnded() {},
    },
    session(protocol, address, port, odid) {
      if (last && last.odid === odid && last.port === port && last.address === address) return last.state;
      let domains = byAddress.get(address);
      if (!domains) byAddress.set(address, (domains = new Map()));
      const known = domains.get(odid);
      if (known) {
        last = known;
        return known.state;
      }
      const templates = new Map();
      const state = {
        session: makeExporterSession('bench', protocol, address, port, odid),
        templates: {
          get: (id) => templates.get(id),
          define(id, entry) {
            const old = templates.get(id);
            if (old && old.template.fields.length === entry.template.fields.length) return old;
            templates.set(id, entry);
            return entry;
          },
          withdraw: (id) => templates.delete(id),
          withdrawAll: () => templates.clear(),
          get size() {
            return templates.size;
          },
        },
        hold() {
          throw new Error('bench traffic never sends data before its template');
        },
        protocolState: undefined,
      };
      last = { odid, port, address, state };
      domains.set(odid, last);
      return state;
    },
    drop(reason, detail) {
      throw new Error(`bench traffic was dropped: ${reason} ${detail.message}`);
    },
    counted() {},
  };
  return { ctx, count: () => records, calls: () => calls };
}

const ALLOC_PASSES = 10;
/** The sFlow decoder's count of datagrams it decoded where they lay (plan-memory.ts receive areas). */
let inPlace = null;
const noop = (_ctx, d) => d.length;

// GC entries arrive asynchronously: a synchronous window is judged afterwards by the entries' start times.
const gcStarts = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcStarts.push(e.startTime);
}).observe({ entryTypes: ['gc'] });
const gcsBetween = async (t0, t1) => {
  await new Promise((r) => setTimeout(r, 20));
  return gcStarts.filter((t) => t >= t0 && t <= t1).length;
};

/**
 * Bytes allocated per record by the sampling heap profiler, counting objects a GC already collected too
 * (what heapUsed growth misses when a scavenge runs), and the functions that allocated the most.
 */
async function sampledAllocation(run, records) {
  const session = new Session();
  session.connect();
  await session.post('HeapProfiler.startSampling', { samplingInterval: 128, includeObjectsCollectedByMinorGC: true, includeObjectsCollectedByMajorGC: true });
  run();
  const { profile } = await session.post('HeapProfiler.stopSampling');
  session.disconnect();
  const by = new Map();
  let total = 0;
  const walk = (n) => {
    if (n.selfSize > 0) {
      const f = n.callFrame;
      const k = `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/(dist|bench)\//, '$1/')}:${f.lineNumber + 1}`;
      by.set(k, (by.get(k) ?? 0) + n.selfSize);
      total += n.selfSize;
    }
    for (const c of n.children) walk(c);
  };
  walk(profile.head);
  const top = [...by].sort((a, b) => b[1] - a[1]).slice(0, 5).filter(([, v]) => v / records >= 0.5).map(([k, v]) => `${k}: ${(v / records).toFixed(1)} B/record`);
  return { perRecord: total / records, top };
}

/**
 * The datagrams as the gateway's receivers hand them on (collect/listener.ts receiveFrom): `batch` at a
 * time, packed end to end into batches (pipeline/datagram-batch.ts, the addon's layout) that lie in the
 * receive areas of the thread's plan memory (collect/sflow/plan-memory.ts), one after another.
 */
function receiveBatches(datagrams) {
  const out = [];
  let area = null;
  let used = 0;
  for (let i = 0; i < datagrams.length; i += batch) {
    const some = datagrams.slice(i, i + batch);
    const b = new DatagramBatch(new ArrayBuffer(some.reduce((n, d) => n + DatagramBatch.room('192.0.2.1', d.length), 0)));
    for (const d of some) b.add(d, '192.0.2.1', 2055);
    const sealed = new Uint8Array(b.seal());
    if (!area || used + sealed.length > area.length) {
      area = takeReceiveArea() ?? Buffer.alloc(RECEIVE_AREA_OCTETS);
      used = 0;
    }
    const at = area.subarray(used, used + sealed.length);
    at.set(sealed);
    out.push(at);
    used += sealed.length;
  }
  return out;
}

async function measure(name, decode, datagrams, recordsOf = recordsIn, extra = {}, warmMs = 500) {
  const perPass = datagrams.reduce((n, d) => n + recordsOf(d), 0);
  const { ctx, count, calls } = benchContext();
  const batches = batch > 0 && pool === 'receive' ? receiveBatches(datagrams) : [];
  const reader = new DatagramReader();
  // As the Collecting Process hands a datagram on (collect/collecting-process.ts decodeWith).
  const each = decode.range
    ? (bytes, start, end, address, port) => decode.range(ctx, bytes, start, end, address, port)
    : (bytes, start, end, address, port) => decode(ctx, bytes.subarray(start, end), address, port);
  const pass =
    batch > 0 && pool === 'receive'
      ? () => {
          for (let i = 0; i < batches.length; i++) reader.read(batches[i], each);
        }
      : batch > 0
      ? () => {
          for (let i = 0; i < datagrams.length; i += batch) {
            const end = Math.min(datagrams.length, i + batch);
            startBatch();
            for (let j = i; j < end; j++) decode(ctx, datagrams[j], '192.0.2.1', 2055);
            endBatch();
          }
        }
      : () => {
          for (let i = 0; i < datagrams.length; i++) decode(ctx, datagrams[i], '192.0.2.1', 2055);
        };
  // Warm up: templates defined, plans compiled and optimised.
  const warmEnd = Date.now() + warmMs;
  while (Date.now() < warmEnd) pass();

  // Allocation: heapUsed growth over several passes with the heap settled first, minus the same
  // measurement for a decoder that does nothing (the harness's own constant). Valid when no GC ran
  // in between, which is reported; the sampling heap profiler's figure below holds either way.
  const heapGrowth = (f) => {
    gc?.();
    const t0 = performance.now();
    const h0 = process.memoryUsage().heapUsed;
    for (let k = 0; k < ALLOC_PASSES; k++) for (let i = 0; i < datagrams.length; i++) f(ctx, datagrams[i], '192.0.2.1', 2055);
    return [process.memoryUsage().heapUsed - h0, t0, performance.now()];
  };
  const [base] = heapGrowth(noop);
  const [grown, g0, g1] = heapGrowth(decode);
  const allocGcs = await gcsBetween(g0, g1);
  const bytesPerRecord = Math.max(0, grown - base) / (ALLOC_PASSES * perPass);
  const sampled = await sampledAllocation(() => {
    for (let k = 0; k < ALLOC_PASSES; k++) pass();
  }, ALLOC_PASSES * perPass);

  // Throughput.
  // CPU time too: on a shared machine the wall clock also counts the time other processes had the core.
  const start = count();
  const calls0 = calls();
  const t0 = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  const until = Date.now() + seconds * 1000;
  const inPlace0 = inPlace?.();
  let passes = 0;
  while (Date.now() < until) {
    pass();
    passes++;
  }
  const ns = Number(process.hrtime.bigint() - t0);
  const cpu = process.cpuUsage(cpu0);
  const n = count() - start;
  const result = {
    bench: name,
    records: n,
    seconds: +(ns / 1e9).toFixed(3),
    recordsPerSecond: Math.round(n / (ns / 1e9)),
    nsPerRecord: +(ns / n).toFixed(1),
    cpuNsPerRecord: +(((cpu.user + cpu.system) * 1000) / n).toFixed(1),
    recordsPerSinkCall: +(n / (calls() - calls0)).toFixed(2),
    bytesAllocatedPerRecord: +bytesPerRecord.toFixed(2),
    gcDuringAllocationPass: allocGcs,
    sampledBytesAllocatedPerRecord: +sampled.perRecord.toFixed(2),
    ...(sampled.top.length ? { allocatedBy: sampled.top } : {}),
    recordsPerPass: perPass,
    datagramsPerReceiveBatch: batch,
    pool: batch > 0 ? pool : 'own',
    ...(inPlace ? { datagramsDecodedInPlace: +((inPlace() - inPlace0) / (passes * datagrams.length)).toFixed(3) } : {}),
    ...extra,
  };
  console.log(JSON.stringify(result));
  console.error(`${name}: ${(result.recordsPerSecond / 1e6).toFixed(2)} M records/s, ${result.nsPerRecord} ns/record (${result.cpuNsPerRecord} CPU ns), ${result.bytesAllocatedPerRecord} B/record (heapUsed), ${result.sampledBytesAllocatedPerRecord} B/record (sampled)`);
  return result;
}

// v5: 30 records per datagram (the maximum, as busy routers send); v9: the generator's IPv4 + IPv6
// templates, 24 records per datagram, templates resent every 100 datagrams.
// sFlow: 4000 datagrams (~24,000 samples, ~6 per 1400-octet datagram, 1 counter sample per ~20 flow
// samples) from 64 agents; the decoder's generated plans (the only style it has).
const CASES = ['v5-generated', 'v9-generated', 'v5-interpreted', 'v9-interpreted', 'sflow'];
const only = args.includes('--case') ? args[args.indexOf('--case') + 1] : null;
if (only === 'sflow') {
  const datagrams = sflowDatagrams(4000);
  const plans = { enabled: true, wasm: true, samples: 0, staged: 0, walked: 0, inPlace: 0 };
  inPlace = () => plans.inPlace;
  // 68 record shapes (templates) each with its own plan: a longer warm-up so all are optimised.
  await measure('inprocess-sflow', buildSflowDecoder(options, undefined, plans), datagrams, samplesIn, { traffic: describe(datagrams) }, 2000);
} else if (only) {
  const [protocol, style] = only.split('-');
  if (protocol === 'v5') await measure(`inprocess-${only}`, buildNetflow5Decoder(options, style), v5Datagrams(4000, { recordsPer: 30 }));
  else await measure(`inprocess-${only}`, buildNetflow9Decoder(options, style), v9Datagrams(4000, { recordsPer: 24 }));
} else {
  // Each case in a fresh process, so one case's JIT feedback and heap do not skew the next.
  for (const c of CASES) {
    const r = spawnSync(process.execPath, ['--expose-gc', import.meta.filename, '--case', c, '--seconds', String(seconds), '--batch', String(batch), '--pool', pool], { stdio: 'inherit' });
    if (r.status !== 0) process.exitCode = 1;
  }
}
