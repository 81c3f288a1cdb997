// The kernel's cap on socket receive buffers (net.core.rmem_max) caps what every receiver may ask for.
// Benchmarks raise it for their run only (root) and put the old value back however the run ends.

import { readFileSync, writeFileSync } from 'node:fs';

const RMEM = '/proc/sys/net/core/rmem_max';

/** The current cap, octets. */
export const rmemMax = () => Number(readFileSync(RMEM, 'utf8').trim());

/**
 * Raises net.core.rmem_max to `wanted` (when higher) until this process exits; returns what is in force.
 * Not root: a warning, the cap unchanged.
 */
let original; // the value before this process first raised it, put back on exit

export function raiseRmemForRun(wanted) {
  const before = rmemMax();
  if (!wanted || wanted <= before) return before;
  try {
    writeFileSync(RMEM, String(wanted));
  } catch (e) {
    console.error(`net.core.rmem_max stays ${before}: ${e.code ?? e.message} (run as root to raise it)`);
    return before;
  }
  if (original === undefined) {
    original = before;
    process.on('exit', () => writeFileSync(RMEM, String(original)));
    for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(1));
  }
  console.error(`net.core.rmem_max ${before} → ${wanted} for this run`);
  return wanted;
}

/**
 * Before each receiver starts: another benchmark run at the same time may have put its own "old" value
 * back meanwhile, which would cap the buffer of every socket made from then on. Raises it again if so.
 */
export function keepRmem(wanted) {
  return rmemMax() < wanted ? raiseRmemForRun(wanted) : rmemMax();
}
