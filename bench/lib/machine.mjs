// The machine a benchmark ran on, for its report: CPU model, cores, RAM, kernel, Node, load at the start.

import { readFileSync } from 'node:fs';
import os from 'node:os';

export function machine() {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  return {
    cpu: /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1]?.trim() ?? os.cpus()[0]?.model ?? '?',
    cores: os.cpus().length,
    ramGiB: +(os.totalmem() / 2 ** 30).toFixed(1),
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    loadAverage: os.loadavg().map((l) => +l.toFixed(2)),
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
  };
}
