// What /proc says about a process (Linux only): CPU time, resident memory, and its descendants (sfacctd
// runs its plugins as child processes, so its cost is the cost of the whole tree). Benchmark use only.

import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ: 100 on every Linux this runs on). */
const HZ = 100;

function statFields(pid) {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name is in parentheses and may hold spaces: fields start after the last ') '.
  return text.slice(text.lastIndexOf(') ') + 2).split(' ');
}

/** utime + stime of `pid` (all its threads) in seconds; NaN once it is gone. */
export function cpuSeconds(pid) {
  try {
    const f = statFields(pid);
    return (Number(f[11]) + Number(f[12])) / HZ;
  } catch {
    return NaN;
  }
}

function statusKiB(pid, key) {
  try {
    const m = new RegExp(`${key}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

/** Resident set size now, MiB. */
export const rssMiB = (pid) => statusKiB(pid, 'VmRSS') / 1024;
/** Peak resident set size since the process started (VmHWM), MiB. */
export const peakRssMiB = (pid) => statusKiB(pid, 'VmHWM') / 1024;

/** `pid` and every process below it (children, grandchildren …), from the parent pids in /proc. */
export function processTree(pid) {
  const children = new Map();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let ppid;
    try {
      ppid = Number(statFields(name)[1]);
    } catch {
      continue; // exited while we looked
    }
    if (!children.has(ppid)) children.set(ppid, []);
    children.get(ppid).push(Number(name));
  }
  const out = [];
  const todo = [pid];
  while (todo.length) {
    const p = todo.pop();
    out.push(p);
    todo.push(...(children.get(p) ?? []));
  }
  return out;
}

/** CPU seconds of a set of processes (those that have exited count as 0: sample before stopping them). */
export const treeCpuSeconds = (pids) => pids.reduce((s, p) => s + (cpuSeconds(p) || 0), 0);
/** Summed peak RSS of a set of processes, MiB (shared pages count once per process: an upper bound). */
export const treePeakRssMiB = (pids) => pids.reduce((s, p) => s + (peakRssMiB(p) || 0), 0);
/** Summed current RSS of a set of processes, MiB. */
export const treeRssMiB = (pids) => pids.reduce((s, p) => s + (rssMiB(p) || 0), 0);

/**
 * The kernel's view of the IPv4 UDP socket bound to 127.0.0.1:`port` (/proc/net/udp): the octets queued
 * in its receive buffer and the datagrams it dropped because the buffer was full. null when none is bound.
 */
export function udpSocket(port) {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  for (const line of readFileSync('/proc/net/udp', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f[1] !== local) continue;
    return { rxQueue: parseInt(f[4].split(':')[1], 16), drops: Number(f[f.length - 1]) };
  }
  return null;
}

/** Whether a process still exists. */
export function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
