// The project's SCTP stack as built (dist/transport/sctp; `npm run build` first), for both processes of
// bench/sctp.mjs, and their command line.

import { resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');
export const sctp = await import(resolve(root, 'dist/transport/sctp/index.js'));
// the raw IP lower layer (an optional addon underneath) may not be in the index
export const openRawIp = sctp.openRawIp ?? (await import(resolve(root, 'dist/transport/sctp/raw-ip.js')).catch(() => ({}))).openRawIp;

export const args = process.argv.slice(2);
/** The value after `--name` on the command line, or `dflt`. */
export const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
