// sfacctd (pmacct's sFlow collector) as a second reader of sFlow: offline over a capture (pcap_savefile),
// the print plugin aggregating flow samples into packet and byte totals, and the counter file holding
// every interface counter record it decoded. Sampling renormalisation is off, so a flow sample counts as
// one packet of its frame length (sfacctd's BYTES are the sampled frame's layer-2 length).

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run, toolPath } from './tools.js';

export interface SfacctdResult {
  /** Print plugin rows: CSV header names (PEER_SRC_IP, IN_IFACE, PACKETS, BYTES, ...) → values. */
  flows: Record<string, string>[];
  /** sfacctd_counter_file lines of event_type "log": one per counter record (generic or Ethernet). */
  counters: Record<string, string | number>[];
  log: string;
}

export interface SfacctdOptions {
  pcap: string;
  /** Working directory for the config and the outputs. */
  dir: string;
  /** print plugin `aggregate` primitives. */
  aggregate: string[];
  timeoutMs?: number; // default 60 s
}

/** Run sfacctd over a capture; it exits at the end of the file after purging its cache. */
export async function runSfacctd(o: SfacctdOptions): Promise<SfacctdResult> {
  const bin = toolPath('sfacctd');
  if (!bin) throw new Error('sfacctd is not installed (Debian: pmacct)');
  const flowsFile = join(o.dir, 'sfacctd-flows.csv');
  const countersFile = join(o.dir, 'sfacctd-counters.json');
  const conf = join(o.dir, 'sfacctd.conf');
  const lines = [
    'daemonize: false',
    `pcap_savefile: ${o.pcap}`,
    'plugins: print[p]',
    `aggregate[p]: ${o.aggregate.join(', ')}`,
    'print_output[p]: csv',
    `print_output_file[p]: ${flowsFile}`,
    // one purge at the end of the file (offline): a refresh in between would split the totals
    'print_refresh_time[p]: 3600',
    `sfacctd_counter_file: ${countersFile}`,
    'sfacctd_counter_output: json',
    'sfacctd_renormalize: false',
  ];
  writeFileSync(conf, lines.join('\n') + '\n');
  const r = await run(bin, ['-f', conf], { timeoutMs: o.timeoutMs ?? 60_000 });
  const log = r.stdout + r.stderr;
  if (r.timedOut || r.code !== 0) throw new Error(`${bin} -f ${conf}: ${r.timedOut ? 'timed out' : `exit ${r.code}`}\n${log}`);
  const flows: Record<string, string>[] = [];
  if (existsSync(flowsFile)) {
    const [header, ...rows] = readFileSync(flowsFile, 'utf8').split('\n').filter((l) => l.trim());
    const names = (header ?? '').split(',');
    for (const row of rows) {
      const cells = row.split(',');
      flows.push(Object.fromEntries(names.map((n, i) => [n, cells[i] ?? ''])));
    }
  }
  const counters: Record<string, string | number>[] = [];
  if (existsSync(countersFile)) {
    for (const line of readFileSync(countersFile, 'utf8').split('\n')) {
      if (!line.trim()) continue;
      const o = JSON.parse(line) as Record<string, string | number>;
      if (o['event_type'] === 'log') counters.push(o);
    }
  }
  return { flows, counters, log };
}
