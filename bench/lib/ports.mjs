// Free loopback ports for benchmark receivers: ask the kernel for an ephemeral one and give it back. Another
// process could take it in between, which a benchmark survives by failing that run loudly, not hanging.

import dgram from 'node:dgram';
import net from 'node:net';

export async function freeUdpPort(host = '127.0.0.1') {
  const s = dgram.createSocket('udp4');
  await new Promise((r) => s.bind(0, host, r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

export async function freeTcpPort(host = '127.0.0.1') {
  const s = net.createServer();
  await new Promise((r) => s.listen(0, host, r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}
