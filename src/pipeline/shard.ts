// Which worker thread an exporter's datagrams go to (DESIGN.md: the exporter key is also the sharding key
// for worker threads). All state of an exporter (its sessions, templates, sequence numbers, rate limit) lives
// in the worker its source address hashes to, so one address must always land on the same worker: the
// hash reads only the address text. The source port is left out on purpose: NetFlow v9 and IPFIX sessions
// are keyed by port too, but an exporter restarting from a new port must reach the worker that holds its
// old session, and sFlow agents are identified inside the datagram, not by port.

/** FNV-1a (32 bit) over the address text's UTF-16 code units, reduced to 0..workers-1. */
export function shardOf(address: string, workers: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < address.length; i++) {
    h ^= address.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % workers;
}
