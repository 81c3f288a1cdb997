// The C sender (bench/lib/blast.c) from Node: built once per machine into the temp directory with the
// system's C compiler, fed a traffic's datagrams as a pool file. When no compiler is there, `available()`
// says so and the harness sends from Node (bench/lib/sender.mjs) instead.

import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const SOURCE = resolve(import.meta.dirname, 'blast.c');
let binary;

/** Path of the compiled sender (built on first use), or null with the reason on stderr. */
export function available() {
  if (binary !== undefined) return binary;
  const hash = createHash('sha256').update(readFileSync(SOURCE)).digest('hex').slice(0, 12);
  const out = join(tmpdir(), `ipfix-bench-blast-${hash}`);
  if (!existsSync(out)) {
    try {
      execFileSync('cc', ['-O2', '-o', `${out}.tmp`, SOURCE], { stdio: ['ignore', 'ignore', 'pipe'] });
      execFileSync('mv', [`${out}.tmp`, out]);
    } catch (e) {
      console.error(`C sender not built (${String(e.stderr ?? e.message).split('\n')[0]}): sending from Node`);
      return (binary = null);
    }
  }
  return (binary = out);
}

/** Writes a traffic's items as the sender's pool file (format in blast.c). */
export function writePool(path, addresses, items) {
  const parts = [Buffer.from('BPOOL1\n'), u32(addresses.length)];
  for (const a of addresses) parts.push(Buffer.from(a.split('.').map(Number)));
  parts.push(u32(items.length));
  for (const { exporter, records, datagram } of items) parts.push(u32(exporter), u32(records), u32(datagram.length), datagram);
  writeFileSync(path, Buffer.concat(parts));
}

function u32(v) {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v);
  return b;
}

/** Sends the pool at `rate` records/s for `seconds` from (address, sourcePort) to 127.0.0.1:port. */
export function blast(pool, port, rate, seconds, sourcePort) {
  return new Promise((ok, fail) => {
    const p = spawn(available(), [pool, String(port), String(rate), String(seconds), String(sourcePort)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (b) => (out += b));
    const kill = () => p.kill('SIGKILL');
    process.on('exit', kill);
    const guard = setTimeout(kill, (seconds + 30) * 1000);
    p.on('exit', (code) => {
      clearTimeout(guard);
      process.off('exit', kill);
      if (code !== 0) return fail(new Error(`C sender exited ${code}`));
      ok(JSON.parse(out));
    });
  });
}
