#!/usr/bin/python3
"""Write pcaps/README.md: every capture in pcaps/, what made it, and what tshark finds in it.

Usage: describe-pcaps.py PCAPS_DIR > PCAPS_DIR/README.md   (called by scripts/make-pcaps.sh)
"""
import collections
import json
import os
import re
import subprocess
import sys

MADE_BY = {
    "traffic-synthetic.pcap": "`scripts/synth-traffic.py` (scapy, seed 20240101, 170 conversations)",
    "traffic-small.pcap": "`scripts/synth-traffic.py --conversations 40` (the first 40 conversations of the same generator)",
    "softflowd-v5.pcap": "`softflowd -d -a -r traffic.pcap -n 127.0.0.1:2055 -v 5`",
    "softflowd-v9.pcap": "`softflowd -d -a -r traffic.pcap -n 127.0.0.1:2055 -v 9`",
    "softflowd-ipfix.pcap": "`softflowd -d -a -r traffic.pcap -n 127.0.0.1:4739 -v 10`",
    "softflowd-ipfix-milli.pcap": "`softflowd -d -a -r traffic.pcap -n 127.0.0.1:4739 -v 10 -A milli`",
    "pmacctd-nfprobe-v5.pcap": "`pmacctd` offline, `plugins: nfprobe`, `nfprobe_version: 5` → 127.0.0.1:2055",
    "pmacctd-nfprobe-v9.pcap": "`pmacctd` offline, `plugins: nfprobe`, `nfprobe_version: 9` → 127.0.0.1:2055",
    "pmacctd-nfprobe-ipfix.pcap": "`pmacctd` offline, `plugins: nfprobe`, `nfprobe_version: 10` → 127.0.0.1:4739",
    "pmacctd-sfprobe.pcap": "`pmacctd` offline on traffic-small.pcap, `plugins: sfprobe`, `sampling_rate: 1`, agent 192.0.2.1 → 127.0.0.1:6343",
}
ORDER = list(MADE_BY)
DATA_SET = re.compile(r"^(?:Flow)?Set \d+ \[id=(\d+)\]")
TEMPLATE = re.compile(r"^(Options )?Template \(Id = (\d+)")


def tshark(args):
    env = dict(os.environ, TZ="UTC", LC_ALL="C")
    return subprocess.run(["tshark", *args], capture_output=True, text=True, env=env, check=True).stdout


def warnings(path):
    out = tshark(["-r", path, "-Y", '_ws.malformed || _ws.expert.severity >= "Warning"', "-T", "fields",
                  "-e", "_ws.expert.message", "-E", "occurrence=f"])
    msgs = collections.Counter(re.sub(r"\(.*\)", "(…)", line) for line in out.splitlines() if line.strip())
    return sum(msgs.values()), msgs


def describe_traffic(path):
    protos = collections.Counter()
    frames = 0
    for line in tshark(["-r", path, "-T", "fields", "-e", "frame.protocols"]).splitlines():
        frames += 1
        layers = line.split(":")
        for name, label in (("ip", "IPv4"), ("ipv6", "IPv6"), ("vlan", "802.1Q"), ("tcp", "TCP"), ("udp", "UDP"),
                            ("icmp", "ICMP"), ("icmpv6", "ICMPv6")):
            if name in layers:
                protos[label] += 1
    times = tshark(["-r", path, "-T", "fields", "-e", "frame.time_epoch"]).split()
    span = float(times[-1]) - float(times[0])
    parts = ", ".join(f"{protos[k]} {k}" for k in ("IPv4", "IPv6", "802.1Q", "TCP", "UDP", "ICMP", "ICMPv6"))
    return f"{frames} frames over {span:.0f} s from 2024-01-01T00:00:00Z: {parts}"


def describe_flow_export(path):
    packets = json.loads(tshark(["-r", path, "-T", "json", "--no-duplicate-keys", "-Y", "cflow"]) or "[]")
    versions, records, templates, options = set(), collections.Counter(), collections.Counter(), collections.Counter()
    v5 = 0
    for p in packets:
        cflows = p["_source"]["layers"]["cflow"]
        for c in cflows if isinstance(cflows, list) else [cflows]:
            versions.add(c["cflow.version"])
            for k, v in c.items():
                if k.startswith("pdu "):
                    v5 += 1
                m = DATA_SET.match(k)
                if not m:
                    continue
                sid = int(m.group(1))
                if sid < 256:
                    for tk in v:
                        t = TEMPLATE.match(tk)
                        if t:
                            (options if t.group(1) else templates)[int(t.group(2))] += 1
                else:
                    records[sid] += sum(1 for fk in v if fk.startswith("Flow "))
    desc = f"NetFlow/IPFIX version {'/'.join(sorted(versions))}: {len(packets)} datagrams, "
    if v5:
        desc += f"{v5} records"
    else:
        desc += f"{sum(records.values())} data records (" + ", ".join(f"{n} × template {t}" for t, n in sorted(records.items())) + ")"
        desc += "; template records: " + ", ".join(f"{t} ×{n}" for t, n in sorted(templates.items()))
        if options:
            desc += "; options template records: " + ", ".join(f"{t} ×{n}" for t, n in sorted(options.items()))
    return desc


def describe_sflow(path):
    out = tshark(["-r", path, "-Y", "sflow", "-T", "fields", "-e", "sflow_245.numsamples", "-e", "sflow_245.sampletype", "-E", "occurrence=a"])
    datagrams, samples, kinds = 0, 0, collections.Counter()
    for line in out.splitlines():
        cols = line.split("\t")
        datagrams += 1
        samples += int(cols[0] or 0)
        for k in (cols[1].split(",") if len(cols) > 1 and cols[1] else []):
            kinds[k] += 1
    names = {"1": "flow samples", "2": "counter samples", "3": "expanded flow samples", "4": "expanded counter samples"}
    return f"sFlow v5: {datagrams} datagrams, {samples} samples (" + ", ".join(f"{n} {names.get(k, 'type ' + k)}" for k, n in sorted(kinds.items())) + ")"


def main():
    d = sys.argv[1]
    files = [f for f in ORDER if os.path.exists(os.path.join(d, f))]
    files += sorted(f for f in os.listdir(d) if f.endswith(".pcap") and f not in files)
    total = 0
    rows = []
    for f in files:
        path = os.path.join(d, f)
        size = os.path.getsize(path)
        total += size
        if f.startswith("traffic-"):
            content = describe_traffic(path)
        elif "sfprobe" in f:
            content = describe_sflow(path)
        else:
            content = describe_flow_export(path)
        n, msgs = warnings(path)
        if n and not f.startswith("traffic-") and "sfprobe" not in f:
            content += f"; tshark warnings: {n} ({'; '.join(sorted(msgs))})"
        rows.append(f"| `{f}` | {size} | {MADE_BY.get(f, 'hand-made, see below')} | {content} |")

    print("""# pcaps/ — captures this project makes itself

Regenerate with `sudo scripts/make-pcaps.sh` (needs the Debian tools listed in docs/testing.md; about a
minute). This file is written by `scripts/describe-pcaps.py` from what tshark finds in each capture.

How they are made: `scripts/synth-traffic.py` writes plain traffic with a fixed seed and fixed timestamps
(2024-01-01T00:00:00Z onward): TCP conversations (handshake, PSH/ACK data, FIN or RST close), UDP
request/response (DNS, NTP, syslog, opaque), ICMP and ICMPv6 echo, over IPv4 and IPv6, a quarter of the
conversations in 802.1Q frames (VLAN 100/200/300), a few with DSCP AF11/EF. Then each exporter reads
that traffic offline and exports to 127.0.0.1 on the standard port (NetFlow 2055, IPFIX 4739, sFlow
6343) inside its own network namespace while `dumpcap` captures `udp dst port PORT` on that namespace's
`lo`; softflowd also runs in its own PID namespace (`unshare -pf --mount-proc`).

What is reproducible:
- `traffic-*.pcap`: byte for byte (same seed, same timestamps, scapy computes lengths and checksums).
- softflowd captures: the UDP payloads byte for byte (flow content, export times, sysUptime and
  sequence numbers all derive from the traffic's timestamps; meteringProcessId is 1 by the PID
  namespace). Not reproducible: the capture timestamps and the exporter's UDP source port.
- pmacctd nfprobe v9 and IPFIX captures: the record content, times included (flowStart/End
  Milliseconds come from the traffic's timestamps); not reproducible: export time and sysUptime in
  the message headers (wall clock), how records are grouped into datagrams and in which order, the
  capture timestamps and the source port.
- pmacctd nfprobe v5 capture: the record content except First/Last, which pmacctd computes against its
  wall-clock sysUptime, so the absolute flow times land at the time of the run, not in 2024.
- pmacctd sFlow capture: not reproducible. Which samples reach the capture varies (pmacctd exits at the
  end of the file with samples still buffered: 262 and 266 of the 268 frames in two runs), samples are
  grouped differently, and the sampled header of some samples ends in octets past the frame's end
  that vary per run. Use it as a real sfprobe export, not as a fixed expectation.

Known quirks visible in these captures (they belong to the exporters, not to the gateway):
- softflowd IPFIX starts its sequence numbers at the first message's record count, so tshark warns
  "Unexpected flow sequence" on its messages; IPFIX times are flowStart/EndSysUpTime (22/21) with a
  systemInitTimeMilliseconds (160) options record unless `-A milli` (flowStart/EndMilliseconds).
- NetFlow v5 has no IPv6: the v5 captures hold only the IPv4 flows.
- pmacctd nfprobe uses flowStart/EndMilliseconds (152/153) even in v9, sends its templates three
  times, and ToS is part of its flow key.
- The sFlow capture samples whole frames, so tshark dissects the sampled headers too; expert
  warnings there (TCP RST) come from the sampled traffic, not from sFlow.

| file | bytes | made by | content |
|---|---|---|---|""")
    print("\n".join(rows))
    print(f"\nTotal: {len(files)} files, {total} bytes.")


if __name__ == "__main__":
    main()
