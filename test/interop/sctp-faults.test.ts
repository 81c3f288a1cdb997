// Fault handling of the sctp:// output, with real processes on loopback (RFC 6951 UDP encapsulation):
// the collector (`ipfix-mediator collect --listen sctp://`) is absent when the gateway starts, appears,
// is killed (SIGKILL: no ABORT, no SHUTDOWN — the gateway must find out through retransmission
// limits), and is started again. The output's stack limits are set in its URL so the bounds are
// seconds: RTO 100–200 ms, Association.Max.Retrans 2, heartbeats every 200 ms, INIT retransmitted
// once. Each phase is checked through the gateway's own metrics and log, and through what the
// collector decodes: records after a restart decode only if the templates were sent again.

import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { join } from 'node:path';
import { corpusDir, freeUdpPort, run, sleep, tempDir } from '../helpers/tools.js';
import { gatewayBin, gatewayBuilt, replay, startGateway, type Gateway } from '../helpers/gateway.js';
import { inspectRecords, recordKey, startCollector, until, type Collector } from '../helpers/sctp.js';

const PCAP = join(corpusDir, 'nf9/pmacct__111-NFv9-CISCO-v4.pcap');
const LIMITS = 'rtoInitial=100&rtoMin=100&rtoMax=200&associationMaxRetrans=2&pathMaxRetrans=2&heartbeatInterval=200&maxInitRetransmits=1';

const tmp = tempDir('interop-sctp-faults-');
afterAll(() => tmp.cleanup());

const ready = gatewayBuilt() && existsSync(PCAP);
if (!ready) console.warn('\n*** interop sctp faults: dist/ not built or corpus missing; skipped ***\n');

const flows = (c: Collector) => c.records().filter((x) => !('originalObservationDomainId' in x));

describe.skipIf(!ready)('sctp:// output faults', () => {
  it('collector unreachable at start → retries with backoff; appears → connects; killed → COMM_LOST; restarted → new association, templates again, data flows', async () => {
    const work = join(tmp.dir, 'faults');
    mkdirSync(work, { recursive: true });
    const collectUdp = await freeUdpPort();
    const inPort = await freeUdpPort();
    const expected = (await inspectRecords(PCAP)).map(recordKey).sort();
    expect(expected.length).toBe(11); // corpus README: 11 records

    let gw: Gateway | undefined;
    let collector: Collector | undefined;
    try {
      gw = await startGateway(
        work,
        [{ name: 'in', listen: `udp://127.0.0.1:${inPort}` }],
        [{ name: 'sctp', url: `sctp://127.0.0.1:4739?encapsulation=udp&udpPort=${collectUdp}&${LIMITS}`, reconnectMin: 0.2, reconnectMax: 0.8 }],
      );
      const metric = (name: string) => gw!.metric(`ipfix_mediator_${name}`);

      // 1. Nobody there: INIT is not answered, the attempt fails, and the next one follows with backoff.
      await until(async () => (await metric('reconnects_total')) >= 3, 15_000, 'three association attempts');
      expect(await metric('transport_up')).toBe(0);
      expect(gw.stdout()).toMatch(/SCTP association could not be established; retrying/);
      expect(gw.stdout()).toMatch(/"retryInSeconds":0\.4/); // 0.2 s, then doubled

      // 2. The collector appears: the next attempt succeeds, records flow.
      collector = await startCollector(`sctp://127.0.0.1:4739?encapsulation=udp&udpPort=${collectUdp}`);
      await until(async () => (await metric('transport_up')) === 1, 15_000, 'the association to the collector');
      let rr = await replay([PCAP], `udp://127.0.0.1:${inPort}`, []);
      expect(rr.code, rr.stderr).toBe(0);
      await until(() => flows(collector!).length >= expected.length, 15_000, 'the records at the collector');
      expect(flows(collector).map(recordKey).sort()).toEqual(expected);
      // The collector may hold its SACK for these up to 200 ms (delayed SACK, RFC 9260 §6.2): killed before
      // it went, they count as unacknowledged and are rightly sent again to the next collector (at least
      // once). Let it go first, so that the next collector's count below is exact.
      await sleep(1000);

      // 3. Killed outright: no ABORT reaches the gateway; retransmission limits declare the peer dead.
      const reconnectsBefore = await metric('reconnects_total');
      await collector.stop('SIGKILL');
      // keep data outstanding so T3-rtx runs (heartbeats alone would find it too)
      rr = await replay([PCAP], `udp://127.0.0.1:${inPort}`, []);
      expect(rr.code, rr.stderr).toBe(0);
      // bound: 3 × RTO.Max (200 ms) + a heartbeat interval ≈ 1 s; allow for a loaded 2-core machine
      await until(async () => (await metric('transport_up')) === 0, 5_000, 'the gateway to declare the collector dead');
      // The gauge drops before the log line has come through the child's stdout pipe: wait for the line too.
      await until(() => /SCTP association down: collector unreachable \(COMM_LOST\); reconnecting/.test(gw.stdout()), 5_000, 'the COMM_LOST log line');
      expect(gw.stdout()).toMatch(/"reason":"comm-lost"/);
      await until(async () => (await metric('reconnects_total')) > reconnectsBefore, 10_000, 'reconnect attempts after COMM_LOST');

      // 4. Started again on the same UDP port: a new association, a new Transport Session.
      collector = await startCollector(`sctp://127.0.0.1:4739?encapsulation=udp&udpPort=${collectUdp}`);
      await until(async () => (await metric('transport_up')) === 1, 15_000, 'the association to the restarted collector');
      expect(gw.stdout().match(/SCTP association up/g)?.length).toBe(2);
      rr = await replay([PCAP], `udp://127.0.0.1:${inPort}`, []);
      expect(rr.code, rr.stderr).toBe(0);
      // The records replayed while the collector was dead were never acknowledged: they come back from
      // the association or the output queue and reach the new collector too, so it gets both batches.
      // A fresh collector knows no template: records decode only because they were announced again.
      const both = [...expected, ...expected].sort();
      await until(() => flows(collector!).length >= both.length, 15_000, 'records at the restarted collector');
      await sleep(500); // a duplicate would arrive after the count is reached
      expect(flows(collector).map(recordKey).sort()).toEqual(both);
      expect(collector.stderr()).not.toMatch(/no_template/);
    } finally {
      await gw?.stop();
      await collector?.stop();
    }
  }, 120_000);

  it('an output that cannot open its lower layer stops run with a clear error; check-config names a bad option', async () => {
    const work = join(tmp.dir, 'start');
    mkdirSync(work, { recursive: true });
    // the local UDP port the output wants is taken
    const taken = createSocket('udp4');
    await new Promise<void>((r) => taken.bind(0, '0.0.0.0', () => r()));
    const port = taken.address().port;
    try {
      const config = join(work, 'gw.yaml');
      const inPort = await freeUdpPort();
      writeFileSync(config, `inputs:\n  - name: in\n    listen: udp://127.0.0.1:${inPort}\noutputs:\n  - name: sctp\n    url: sctp://127.0.0.1:4739?encapsulation=udp&localUdpPort=${port}\nmetrics: false\n`);
      const r = await run(process.execPath, [gatewayBin, 'run', '--config', config], { timeoutMs: 20_000 });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`${config}: outputs "sctp": cannot start: SCTP over UDP: cannot bind 0.0.0.0 port ${port}:`);
    } finally {
      taken.close();
    }
    const bad = join(work, 'bad.yaml');
    writeFileSync(bad, 'inputs:\n  - name: in\n    listen: sctp://0.0.0.0:4739?encapsulation=udp&ttl=5\noutputs:\n  - name: o\n    url: sctp://192.0.2.1:4739?encapsulation=udp&streams=0\n');
    const c = await run(process.execPath, [gatewayBin, 'check-config', bad], { timeoutMs: 20_000 });
    expect(c.code).toBe(1);
    expect(c.stderr).toContain(`${bad}:3: inputs[0].listen: sctp:// option "ttl" applies to outputs only`);
    expect(c.stderr).toContain(`${bad}:6: outputs[0].url: sctp:// option streams (number of streams) must be an integer from 1 to 65535, not "0"`);
  }, 60_000);
});
