// The UDP socket of an input. The receive buffer is what stands between a burst and loss (Node reads in
// one thread), so it is sized from the config and checked against what the kernel actually granted.

import dgram from 'node:dgram';
import type { HostPort } from '../config/load.js';
import { log } from '../observe/log.js';

export type DatagramHandler = (datagram: Buffer, address: string, port: number) => void;

export async function listenUdp(input: string, at: HostPort, receiveBuffer: number, onDatagram: DatagramHandler): Promise<dgram.Socket> {
  const socket = dgram.createSocket({ type: at.family === 6 ? 'udp6' : 'udp4', reuseAddr: false });
  socket.on('message', (msg, rinfo) => onDatagram(msg, rinfo.address, rinfo.port));
  socket.on('error', (err) => log.error({ input, err }, 'UDP socket error'));
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(at.port, at.host, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  try {
    socket.setRecvBufferSize(receiveBuffer);
  } catch (err) {
    log.warn({ input, err }, 'could not set the UDP receive buffer size');
  }
  // Linux reports twice the granted size (it counts its bookkeeping overhead).
  const granted = Math.floor(socket.getRecvBufferSize() / 2);
  if (granted < receiveBuffer) {
    log.warn(
      { input, requested: receiveBuffer, granted },
      `the kernel capped the UDP receive buffer; bursts may be lost. Raise the cap: sysctl -w net.core.rmem_max=${receiveBuffer}`,
    );
  }
  return socket;
}
