// `npm run bench`: every benchmark in turn, results as JSON lines on stdout (progress on stderr).
// Never part of the tests. Each benchmark is its own process so one's heap does not skew another.

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

const dir = import.meta.dirname;
const runs = [
  ['inprocess.mjs'],
  ['e2e.mjs', 'v5'],
  ['e2e.mjs', 'v9'],
];
let failed = 0;
for (const [file, ...args] of runs) {
  const path = resolve(dir, file);
  if (!existsSync(path)) {
    console.error(`skip ${file}: not present`);
    continue;
  }
  console.error(`== ${file} ${args.join(' ')}`);
  const r = spawnSync(process.execPath, ['--expose-gc', path, ...args], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exitCode = failed ? 1 : 0;
