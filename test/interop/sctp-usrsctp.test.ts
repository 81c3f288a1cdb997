// The gateway against an SCTP stack nobody here wrote: usrsctp's example programs (Debian
// libusrsctp-examples) over UDP encapsulation on loopback.
// - output: replayed captures → `ipfix-mediator run` → sctp:// → usrsctp discard_server, which prints
//   every message it receives (length, stream, SSN, complete). Every message the gateway counted as sent
//   arrives whole, each outgoing ODID on stream ODID mod streams, SSNs 0, 1, 2, ... per stream, and the
//   gateway's shutdown ends the association with SHUTDOWN (usrsctp prints no ABORT).
// - input: usrsctp's client connects to the gateway's sctp:// input and sends lines of text: the input
//   counts the association, refuses the first message as not IPFIX, and aborts the association.

import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { corpusDir, freeUdpPort, tempDir } from '../helpers/tools.js';
import { gatewayBuilt, replay, startGateway, udpDatagramCount, udpPortBound, type Gateway } from '../helpers/gateway.js';
import { DISCARD_PORT, haveUsrsctp, killAllUsrsctp, startUsrsctpClient, startUsrsctpServer, type UsrsctpProcess } from '../helpers/usrsctp.js';
import { until } from '../helpers/sctp.js';

const CAPTURES = [join(corpusDir, 'nf9/pmacct__101-NFv9-CISCO.pcap'), join(corpusDir, 'ipfix/pmacct__100-IPFIX-CISCO.pcap')];
const STREAMS = 5;

const tmp = tempDir('interop-sctp-usrsctp-');
afterAll(async () => {
  await killAllUsrsctp();
  tmp.cleanup();
});

const ready = gatewayBuilt() && CAPTURES.every(existsSync);
if (!ready) console.warn('\n*** interop sctp/usrsctp: dist/ not built or corpus missing; skipped ***\n');

describe.skipIf(!ready || !haveUsrsctp('discard_server', 'client'))('gateway sctp:// with usrsctp', () => {
  it('sctp:// output → usrsctp discard_server: every message whole, one stream per outgoing ODID, SSNs in order, graceful SHUTDOWN', async () => {
    const work = join(tmp.dir, 'output');
    mkdirSync(work, { recursive: true });
    const ourUdp = await freeUdpPort();
    // discard_server answers to a fixed UDP port: the output's localUdpPort
    const server: UsrsctpProcess = await startUsrsctpServer('discard_server', { remoteUdpPort: ourUdp });
    const inPort = await freeUdpPort();
    let gw: Gateway | undefined;
    let messages = 0;
    let octets = 0;
    try {
      gw = await startGateway(
        work,
        [{ name: 'in', listen: `udp://127.0.0.1:${inPort}` }],
        [{ name: 'usrsctp', url: `sctp://127.0.0.1:${DISCARD_PORT}?encapsulation=udp&udpPort=${server.udpPort}&localUdpPort=${ourUdp}&streams=${STREAMS}` }],
      );
      await until(async () => (await gw!.metric('ipfix_mediator_transport_up')) === 1, 15_000, 'the association with usrsctp');
      let sent = 0;
      for (const pcap of CAPTURES) {
        const r = await replay([pcap], `udp://127.0.0.1:${inPort}`, []);
        expect(r.code, r.stderr).toBe(0);
        sent += udpDatagramCount(pcap);
      }
      expect(await gw.waitReceived(sent)).toBe(sent);
      const complete = /Msg of length (\d+) received from \S+ on stream (\d+) with SSN (\d+) and TSN \d+, PPID \d+, context \d+, complete 1\./g;
      // every record out (plus one RFC 7119 options record per outgoing domain) and printed by usrsctp
      const recordsIn = await gw.metric('ipfix_mediator_records_received_total');
      await until(async () => (await gw!.metric('ipfix_mediator_records_sent_total')) >= recordsIn + 3, 15_000, 'every record sent');
      await until(async () => {
        messages = await gw!.metric('ipfix_mediator_messages_sent_total');
        octets = await gw!.metric('ipfix_mediator_bytes_sent_total');
        return messages > 0 && (server.output().match(complete) ?? []).length === messages;
      }, 15_000, 'usrsctp to print every message the gateway sent');
      const printed = [...server.output().matchAll(complete)];
      expect(printed.reduce((n, m) => n + Number(m[1]), 0)).toBe(octets);
      // three outgoing domains (ODIDs 1, 2, 3) on streams 1, 2, 3 of 5
      expect(new Set(printed.map((m) => Number(m[2])))).toEqual(new Set([1, 2, 3]));
      for (const stream of [1, 2, 3]) {
        const mine = printed.filter((m) => Number(m[2]) === stream);
        expect(mine.map((m) => Number(m[3]))).toEqual(mine.map((_, k) => k));
      }
    } finally {
      const s = await gw?.stop();
      expect(s?.code, (s?.stdout ?? '').slice(-3000)).toBe(0);
    }
    // shutdown: the withdrawals arrive, then the association closes gracefully (usrsctp's debug trace)
    expect(server.output()).toMatch(/sctp_handle_shutdown: handling SHUTDOWN/);
    expect(server.output()).toMatch(/sctp_handle_shutdown_complete: handling SHUTDOWN-COMPLETE/);
    expect(server.output()).not.toMatch(/ABORT/);
    await server.kill();
  }, 90_000);

  it('usrsctp client → sctp:// input: the association is a Transport Session; text instead of IPFIX is refused and aborted', async () => {
    const work = join(tmp.dir, 'input');
    mkdirSync(work, { recursive: true });
    const gwUdp = await freeUdpPort();
    const gw = await startGateway(work, [{ name: 'sctp-in', listen: `sctp://127.0.0.1:4739?encapsulation=udp&udpPort=${gwUdp}` }], [{ name: 'file', url: `file://${join(work, 'out', 'x.ipfix')}` }]);
    try {
      await until(() => udpPortBound(gwUdp), 10_000, 'the gateway to bind its SCTP-over-UDP port');
      const client = await startUsrsctpClient({ remoteAddress: '127.0.0.1', remotePort: 4739, remoteUdpPort: gwUdp, input: 'not an IPFIX message\n' });
      await until(async () => (await gw.metric('ipfix_mediator_input_connections_refused_total')) === 1, 15_000, 'the refusal');
      expect(await gw.metric('ipfix_mediator_input_connections_accepted_total')).toBe(1);
      await until(async () => (await gw.metric('ipfix_mediator_input_connections')) === 0, 10_000, 'the association to end');
      expect(gw.stdout()).toMatch(/not one whole IPFIX message; association aborted/);
      await client.kill();
    } finally {
      const s = await gw.stop();
      expect(s.code, s.stdout.slice(-3000)).toBe(0);
    }
  }, 60_000);
});
