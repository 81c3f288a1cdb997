// An experiment for the benchmark only (`bench/sctp.mjs --connected`): RFC 6951 UDP encapsulation over
// a *connected* dgram socket, to measure what Node's per-send address handling costs. With an address,
// every dgram send goes through a lookup (an IP-literal check, then process.nextTick) before the
// sendmsg; a connected socket sends straight away. Otherwise it behaves like the stack's
// UdpEncapsulation: the packet is copied (dgram may queue it), the UDP source port is handed up.
//
// Only the sending process uses it (it sends one packet per message; the receiver one SACK per two):
// it connects to the receiver's port, known before the association starts.

import { createSocket } from 'node:dgram';

export class ConnectedUdpEncapsulation {
  /** @param {{ address: string, port?: number, peer?: { address: string, udpPort: number }, receiveBufferSize?: number, sendBufferSize?: number }} opts */
  static async open(opts) {
    const socket = createSocket('udp4');
    await new Promise((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(opts.port ?? 0, opts.address, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    if (opts.receiveBufferSize) socket.setRecvBufferSize(opts.receiveBufferSize);
    if (opts.sendBufferSize) socket.setSendBufferSize(opts.sendBufferSize);
    const layer = new ConnectedUdpEncapsulation(socket);
    if (opts.peer) await layer.connect(opts.peer);
    return layer;
  }

  constructor(socket) {
    this.socket = socket;
    const a = socket.address();
    this.local = { address: a.address, udpPort: a.port };
    this.stats = { packetsIn: 0, octetsIn: 0, packetsOut: 0, octetsOut: 0, sendErrors: 0 };
    this.peer = null;
    this.handler = null;
    this.afterSend = (e) => {
      if (e) this.stats.sendErrors++;
    };
    socket.on('message', (msg, rinfo) => {
      if (rinfo.port === 0) return;
      this.stats.packetsIn++;
      this.stats.octetsIn += msg.length;
      this.handler?.(msg, msg.length, { address: rinfo.address, udpPort: rinfo.port });
    });
    socket.on('error', () => this.stats.sendErrors++);
  }

  connect(peer) {
    return new Promise((resolve) =>
      this.socket.connect(peer.udpPort, peer.address, () => {
        this.peer = peer;
        resolve();
      }),
    );
  }

  send(packet, length, remote) {
    const copy = Buffer.allocUnsafe(length);
    copy.set(length === packet.length ? packet : packet.subarray(0, length));
    this.stats.packetsOut++;
    this.stats.octetsOut += length;
    if (this.peer && remote.udpPort === this.peer.udpPort && remote.address === this.peer.address) this.socket.send(copy, 0, length, this.afterSend);
    else this.stats.sendErrors++; // another peer: not in this experiment
  }

  onPacket(cb) {
    this.handler = cb;
  }

  close() {
    this.handler = null;
    try {
      this.socket.close();
    } catch {
      // already closed
    }
  }
}
