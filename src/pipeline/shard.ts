// Which worker thread an exporter's datagrams go to (DESIGN.md: the exporter key is also the sharding key
// for worker threads). All state of an exporter (its sessions, templates, sequence numbers) lives in the
// worker its key hashes to, so one exporter must always land on the same worker:
// - NetFlow v5/v9 and IPFIX: the source address. The source port is left out on purpose: v9 and IPFIX
//   sessions are keyed by port too, but an exporter restarting from a new port must reach the worker that
//   holds its old session (so that its restart is seen).
// - sFlow v5: the agent address inside the datagram, which is what its sessions are keyed by (one collector
//   address often receives many agents relayed from one source, e.g. an sFlow replicator).

/** FNV-1a (32 bit) over the address text's UTF-16 code units, reduced to 0..workers-1. */
export function shardOf(address: string, workers: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < address.length; i++) {
    h ^= address.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % workers;
}

/**
 * The sFlow v5 agent address of a datagram as a hash (FNV-1a over its octets), or -1 when the datagram is
 * not sFlow v5: version 5, then the agent address type (1 IPv4, 2 IPv6) and the address.
 */
export function sflowAgentHash(d: Buffer): number {
  if (d.length < 28 || d.readUInt32BE(0) !== 5) return -1;
  const type = d.readUInt32BE(4);
  const end = type === 1 ? 12 : type === 2 ? 24 : 0;
  if (end === 0) return -1;
  let h = 0x811c9dc5;
  for (let i = 8; i < end; i++) {
    h ^= d[i]!;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** The worker of a datagram from `address`: its sFlow agent's, else its source address's. */
export function shardOfDatagram(d: Buffer, address: string, workers: number): number {
  if (workers === 1) return 0;
  const agent = sflowAgentHash(d);
  return agent >= 0 ? agent % workers : shardOf(address, workers);
}
