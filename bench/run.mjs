// `npm run bench`: every benchmark in turn, results as JSON lines on stdout (progress on stderr).
// Never part of the tests. Each benchmark is its own process so one's heap does not skew another.
//
//   npm run bench [-- --rmem 67108864] [--only peers.mjs,e2e.mjs] [--seconds 3]
//
// --only runs those files alone; --seconds goes to the end-to-end and side-by-side runs (per step).
// --rmem is handed to the end-to-end and side-by-side runs: they raise net.core.rmem_max to it for their
// run (root only) and restore it after (see bench/e2e.mjs). The side-by-side run (bench/peers.mjs: the
// gateway beside nfcapd and sfacctd) writes its table to docs/benchmarks.md. The soak is not part of it
// (10 minutes): `npm run soak`, see bench/soak.mjs.

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

const dir = import.meta.dirname;
const runs = [
  ['inprocess.mjs'],
  ['e2e.mjs', 'v5'],
  ['e2e.mjs', 'v9'],
  ['e2e.mjs', 'sflow', '--output', 'file'],
  ['e2e.mjs', 'sflow', '--output', 'udp'],
  ['sctp.mjs'],
  ['sctp.mjs', '--loss', '0.02'],
  ['sctp.mjs', '--lower', 'raw'],
  ['peers.mjs'],
];
const rmemAt = process.argv.indexOf('--rmem');
const rmem = rmemAt >= 0 ? ['--rmem', process.argv[rmemAt + 1]] : [];
const secondsAt = process.argv.indexOf('--seconds');
if (secondsAt >= 0) rmem.push('--seconds', process.argv[secondsAt + 1]);
const onlyAt = process.argv.indexOf('--only');
const only = onlyAt >= 0 ? process.argv[onlyAt + 1].split(',') : null;
let failed = 0;
for (const [file, ...args] of runs) {
  const path = resolve(dir, file);
  if (only && !only.includes(file)) continue;
  if (!existsSync(path)) {
    console.error(`skip ${file}: not present`);
    continue;
  }
  console.error(`== ${file} ${args.join(' ')}`);
  const r = spawnSync(process.execPath, ['--expose-gc', path, ...args, ...(file === 'e2e.mjs' || file === 'peers.mjs' ? rmem : [])], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exitCode = failed ? 1 : 0;
