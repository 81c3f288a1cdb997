// Is the kernel's own SCTP present? A raw IP socket for protocol 132 sees every SCTP packet to the
// host, but so does a kernel SCTP stack: it would answer our peers' packets itself (an ABORT for
// every association it does not know, RFC 9260 §8.4) and tear down ours. So raw mode refuses to
// start while the kernel has SCTP. The kernel without the module sends nothing: while a raw socket
// takes protocol 132, it does not answer with ICMP protocol unreachable either.

import { existsSync, readFileSync } from 'node:fs';

/** Where the kernel shows SCTP. Tests point these elsewhere. */
export interface KernelSctpPaths {
  /** Exists while SCTP is loaded or built in (per network namespace: /proc/net is /proc/self/net). */
  procNetSctp: string;
  /** Loaded modules, one per line, name first. Absent on kernels built without module support. */
  procModules: string;
  /** Exists for a loaded module and for SCTP built into the kernel. */
  sysModuleSctp: string;
}

export const KERNEL_SCTP_PATHS: Readonly<KernelSctpPaths> = {
  procNetSctp: '/proc/net/sctp',
  procModules: '/proc/modules',
  sysModuleSctp: '/sys/module/sctp',
};

/**
 * What shows that the kernel has SCTP (e.g. "/proc/net/sctp exists"), or null when nothing does.
 * Never throws: an unreadable /proc/modules counts as no evidence there.
 */
export function kernelSctpEvidence(paths: KernelSctpPaths = KERNEL_SCTP_PATHS): string | null {
  if (existsSync(paths.procNetSctp)) return `${paths.procNetSctp} exists`;
  if (existsSync(paths.sysModuleSctp)) return `${paths.sysModuleSctp} exists`;
  let modules = '';
  try {
    modules = readFileSync(paths.procModules, 'latin1');
  } catch {
    return null;
  }
  for (const line of modules.split('\n')) {
    if (line.startsWith('sctp ')) return `the sctp module is listed in ${paths.procModules}`;
  }
  return null;
}

/** The refusal raw mode gives when the kernel has SCTP: what was seen and what to do instead. */
export function kernelSctpRefusal(evidence: string): string {
  return (
    `SCTP over raw IP refused: the kernel's SCTP is present (${evidence}); it would answer our peers' ` +
    'packets and abort our associations. Either use UDP encapsulation (RFC 6951): add ' +
    '`?encapsulation=udp` to the sctp:// URL; or unload the module (`modprobe -r sctp`) and keep it ' +
    'from loading again (`echo "blacklist sctp" > /etc/modprobe.d/sctp-blacklist.conf`, and ' +
    '`install sctp /bin/false` there to stop autoloading); SCTP built into the kernel cannot be unloaded.'
  );
}
