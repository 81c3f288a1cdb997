// Peer restart (RFC 9260 §5.2.2, §5.2.4) against usrsctp, both ways, over UDP encapsulation on
// loopback. A restarted endpoint comes back on the same address and ports with new tags and TSNs and
// sends INIT while the other side still holds the old association: that side must answer with an
// INIT ACK carrying its tie-tags, accept the COOKIE ECHO as a restart, reset its streams, and carry
// data again.
//
// - usrsctp restarts: its client is killed (no ABORT, no SHUTDOWN) and started again on the same SCTP
//   and UDP ports; our listening endpoint reports 'restart' on the same association object and the
//   new client's messages arrive on it.
// - we restart: our endpoint's socket is closed under it (a crash: nothing sent), a new endpoint on
//   the same UDP and SCTP ports connects again to echo_server; usrsctp takes the restart and echoes,
//   its log showing stream 0 back at SSN 0.

import { afterAll, describe, expect, it } from 'vitest';
import { SctpEndpoint, type SctpAssociation } from '../../../src/transport/sctp/index.js';
import { type UdpEncapsulation, openUdpEncapsulation } from '../../../src/transport/sctp/udp-encap.js';
import { freeUdpPort, sleep } from '../../helpers/tools.js';
import { ECHO_PORT, haveUsrsctp, killAllUsrsctp, startUsrsctpClient, startUsrsctpServer } from '../../helpers/usrsctp.js';
import { until } from '../../helpers/wait-for.js';

const LOOPBACK = '127.0.0.1';
const endpoints: SctpEndpoint[] = [];
afterAll(async () => {
  for (const ep of endpoints) ep.close();
  await killAllUsrsctp();
});

/** Bind a UDP encapsulation port again right after it was closed (retry briefly if the close is still settling). */
async function rebind(port: number): Promise<UdpEncapsulation> {
  for (let i = 0; ; i++) {
    try {
      return await openUdpEncapsulation({ port, address: LOOPBACK });
    } catch (e) {
      if (i >= 20) throw e;
      await sleep(50);
    }
  }
}

const text = (b: Uint8Array) => Buffer.from(b).toString();

describe.skipIf(!haveUsrsctp('echo_server', 'client'))('peer restart with usrsctp', () => {
  it("usrsctp's client restarts on the same ports: our association reports 'restart' and carries the new client's messages", async () => {
    const udp = await openUdpEncapsulation({ port: 0, address: LOOPBACK });
    const ep = new SctpEndpoint({ lower: udp });
    endpoints.push(ep);
    const ourPort = 4739;
    const associations: SctpAssociation[] = [];
    const received: string[] = [];
    let restarts = 0;
    ep.listen(ourPort, (a) => {
      associations.push(a);
      a.on('message', (data) => received.push(text(data)));
      a.on('restart', () => restarts++);
    });

    const clientUdp = await freeUdpPort();
    const clientPort = 5000 + Math.floor(Math.random() * 1000);
    const start = (input: string | null) => startUsrsctpClient({ remoteAddress: LOOPBACK, remotePort: ourPort, remoteUdpPort: udp.local.udpPort, udpPort: clientUdp, localPort: clientPort, input });

    // first life: connects, sends one line, keeps the association open (stdin stays open)
    const first = await start(null);
    first.child.stdin!.write('before the crash\n');
    await until('the first message', () => received.length === 1, 10_000, () => first.output().slice(-2000));
    expect(associations).toHaveLength(1);
    const a = associations[0]!;
    expect(a.state).toBe('ESTABLISHED');
    await first.kill('SIGKILL'); // no ABORT, no SHUTDOWN: we still hold the association

    // second life: same SCTP port, same UDP port, new tags: an INIT inside an existing association
    const second = await start('after the restart\nand more\n');
    const exit = await Promise.race([second.exited, sleep(20_000).then(() => null)]);
    expect(exit, `second client did not finish:\n${second.output().slice(-3000)}`).not.toBeNull();
    expect(exit!.code).toBe(0);
    expect(second.output()).toContain('SCTP_COMM_UP');

    expect(restarts).toBe(1);
    expect(associations).toHaveLength(1); // the same association object, restarted (§5.2.4 action A)
    expect(received).toEqual(['before the crash\n', 'after the restart\n', 'and more\n']);
    await until("'down' after the second client's SHUTDOWN", () => a.state === 'CLOSED', 5000);
  }, 60_000);

  it('we restart on the same ports: usrsctp takes the restart, resets its streams and echoes again', async () => {
    const udp1 = await openUdpEncapsulation({ port: 0, address: LOOPBACK });
    const udpPort = udp1.local.udpPort;
    const ep1 = new SctpEndpoint({ lower: udp1 });
    endpoints.push(ep1);
    const server = await startUsrsctpServer('echo_server', { remoteUdpPort: udpPort });
    const localPort = 6000 + Math.floor(Math.random() * 1000);
    const remote = { address: LOOPBACK, udpPort: server.udpPort };

    const a1 = await ep1.connect({ remote, remotePort: ECHO_PORT, localPort, outboundStreams: 2 });
    const echoes1: string[] = [];
    a1.on('message', (d) => echoes1.push(text(d)));
    a1.send(Buffer.from('first life, message 0'), { stream: 0 });
    a1.send(Buffer.from('first life, message 1'), { stream: 0 });
    await until('two echoes', () => echoes1.length === 2, 10_000);
    expect(echoes1).toEqual(['first life, message 0', 'first life, message 1']);
    const ssnLine = (n: number, ssn: number) => new RegExp(`Msg of length ${n} received from \\S+ on stream 0 with SSN ${ssn} `);
    expect(server.output()).toMatch(ssnLine(21, 1));

    // crash: the socket goes away under the endpoint, nothing is sent
    udp1.close();
    ep1.close();

    const udp2 = await rebind(udpPort);
    const ep2 = new SctpEndpoint({ lower: udp2 });
    endpoints.push(ep2);
    const a2 = await ep2.connect({ remote, remotePort: ECHO_PORT, localPort, outboundStreams: 2 });
    const echoes2: string[] = [];
    a2.on('message', (d) => echoes2.push(text(d)));
    const message = 'second life after the restart';
    a2.send(Buffer.from(message), { stream: 0 });
    await until('the echo after the restart', () => echoes2.length === 1, 10_000, () => server.output().slice(-3000));
    expect(echoes2).toEqual([message]);
    // usrsctp reset stream 0 for the new incarnation: our first message there is SSN 0 again
    expect(server.output()).toMatch(ssnLine(message.length, 0));
    // and it restarted the association it had rather than making a second one: it printed a second
    // association-change notification but no second peer-address one (152 octets), which a new
    // association brings when its address is confirmed (seen in the first life)
    expect(server.output().match(/Notification of length 152 received/g)).toHaveLength(1);
    expect(server.output().match(/Notification of length \d+ received/g)).toHaveLength(3);
    expect(server.child.exitCode).toBeNull(); // it took the restart in its stride
    await a2.shutdown();
    expect(a2.state).toBe('CLOSED');
  }, 60_000);
});
