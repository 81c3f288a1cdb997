// Preloaded into the gateway by bench/soak.mjs (node --import): every BENCH_HEAP_INTERVAL_MS it appends
// this thread's V8 heap figures to BENCH_HEAP_FILE as a JSON line. Worker threads inherit --import, so
// each isolate reports under its own threadId and the soak sums the latest line of each.

import { appendFileSync } from 'node:fs';
import { threadId } from 'node:worker_threads';

const file = process.env.BENCH_HEAP_FILE;
const ms = Number(process.env.BENCH_HEAP_INTERVAL_MS || 1000);
if (file) {
  setInterval(() => {
    const m = process.memoryUsage();
    appendFileSync(file, `${JSON.stringify({ t: Date.now(), threadId, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers })}\n`);
  }, ms).unref();
}
