// `check-config FILE`: the same validation `run` does, without starting anything.

import { checkConfig } from '../config/load.js';
import { parseArgs, UsageError } from './args.js';

export async function checkConfigCommand(argv: string[]): Promise<number> {
  const a = parseArgs(argv, [], []);
  if (a.positionals.length !== 1) throw new UsageError('check-config takes exactly one FILE');
  const r = checkConfig(a.positionals[0]!);
  if (r.ok) {
    process.stdout.write('ok\n');
    return 0;
  }
  for (const e of r.errors) process.stderr.write(e + '\n');
  return 1;
}
