// The UDP socket of an input. The receive buffer is what stands between a burst and loss (Node reads in
// one thread), so it is sized from the config and checked against what the kernel actually granted.
// Per datagram nothing is allocated here beyond what dgram itself hands over (msg, rinfo).

import dgram from 'node:dgram';
import type { Logger } from 'pino';
import type { HostPort } from '../config/load.js';
import { log } from '../observe/log.js';

export type DatagramHandler = (datagram: Buffer, address: string, port: number) => void;

export async function listenUdp(input: string, at: HostPort, receiveBuffer: number, onDatagram: DatagramHandler, logger: Logger = log): Promise<dgram.Socket> {
  const socket = dgram.createSocket({ type: at.family === 6 ? 'udp6' : 'udp4', reuseAddr: false });
  socket.on('message', (msg, rinfo) => onDatagram(msg, rinfo.address, rinfo.port));
  socket.on('error', (err) => logger.error({ input, err }, 'UDP socket error'));
  await new Promise<void>((resolve, reject) => {
    const failed = (err: Error) => {
      // e.g. EADDRINUSE: give the descriptor back, the caller decides what to do.
      try {
        socket.close();
      } catch {
        // already closed by dgram
      }
      reject(err);
    };
    socket.once('error', failed);
    socket.bind(at.port, at.host, () => {
      socket.off('error', failed);
      resolve();
    });
  });
  applyReceiveBuffer(input, socket, receiveBuffer, logger);
  return socket;
}

/**
 * Ask for `requested` octets of receive buffer, read back what the kernel granted and warn with the
 * remedy when it capped the request. Returns the granted size.
 */
export function applyReceiveBuffer(input: string, socket: dgram.Socket, requested: number, logger: Logger = log): number {
  try {
    socket.setRecvBufferSize(requested);
  } catch (err) {
    logger.warn({ input, err }, 'could not set the UDP receive buffer size');
  }
  const granted = grantedReceiveBuffer(socket.getRecvBufferSize());
  if (granted < requested) {
    logger.warn(
      { input, requested, granted },
      `the kernel capped the UDP receive buffer; bursts may be lost. Raise the cap: sysctl -w net.core.rmem_max=${requested}`,
    );
  }
  return granted;
}

/** Linux reports twice the size it granted (SO_RCVBUF counts its bookkeeping overhead, socket(7)). */
export function grantedReceiveBuffer(reported: number): number {
  return process.platform === 'linux' ? Math.floor(reported / 2) : reported;
}
