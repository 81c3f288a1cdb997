#!/usr/bin/env bash
# Regenerate pcaps/: synthetic traffic (scripts/synth-traffic.py), then the flow export that real
# exporters (softflowd, pmacctd nfprobe/sfprobe) make of it, captured on loopback with dumpcap.
#
# Every exporter runs in its own network namespace (a private `lo`), so nothing else on the machine
# can reach the capture, and softflowd also in its own PID namespace, so its meteringProcessId (its
# PID) is 1 on every run. Needs root (namespaces, capturing), /usr/bin/python3 with scapy, dumpcap,
# softflowd, pmacctd, tshark, ip. Takes about a minute.
#
# Usage: scripts/make-pcaps.sh [OUTDIR]      (default: pcaps/ of this checkout)
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$repo/pcaps}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"

for bin in dumpcap tshark softflowd pmacctd unshare ip; do
  command -v "$bin" >/dev/null || { echo "make-pcaps: $bin is missing (see docs/testing.md)" >&2; exit 1; }
done
/usr/bin/python3 -c 'import scapy' 2>/dev/null || { echo "make-pcaps: /usr/bin/python3 has no scapy (apt-get install python3-scapy)" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "make-pcaps: run as root (network namespaces, capture on lo)" >&2; exit 1; }

work="$(mktemp -d /tmp/make-pcaps.XXXXXX)"
trap 'rm -rf "$work"' EXIT

# Standard ports, so tshark and the gateway's default config take the captures as they are.
NETFLOW_PORT=2055
IPFIX_PORT=4739
SFLOW_PORT=6343

echo "make-pcaps: synthesizing traffic"
/usr/bin/python3 "$repo/scripts/synth-traffic.py" "$out/traffic-synthetic.pcap"
/usr/bin/python3 "$repo/scripts/synth-traffic.py" "$out/traffic-small.pcap" --conversations 40

# The exporters read the traffic under a fixed name: softflowd reports it as the interface name.
cp "$out/traffic-synthetic.pcap" "$work/traffic.pcap"
cp "$out/traffic-small.pcap" "$work/traffic-small.pcap"

# capture NAME PORT COMMAND...: run COMMAND in a private network namespace while dumpcap records
# UDP to 127.0.0.1:PORT there; the capture (classic pcap) becomes $out/NAME.pcap.
cat >"$work/in-netns.sh" <<'INNER'
set -euo pipefail
pcap="$1"; port="$2"; shift 2
ip link set lo up
dumpcap -P -i lo -f "udp dst port $port" -a duration:120 -w "$pcap" 2>"$pcap.log" &
cap=$!
for _ in $(seq 100); do grep -q "^File:" "$pcap.log" && break; sleep 0.1; done
grep -q "^File:" "$pcap.log" || { cat "$pcap.log" >&2; exit 1; }
# bash -c: the command may be an exported shell function; timeout bounds it
timeout 90 bash -c '"$@"' exporter "$@" >"$pcap.exporter.log" 2>&1 || { cat "$pcap.exporter.log" >&2; exit 1; }
sleep 1 # the last datagrams reach the capture
kill -INT "$cap"
wait "$cap" || true
INNER
capture() {
  local name="$1" port="$2"
  shift 2
  echo "make-pcaps: $name"
  unshare --net bash "$work/in-netns.sh" "$work/$name.pcap" "$port" "$@"
  mv "$work/$name.pcap" "$out/$name.pcap"
}

# softflowd: -a (packet timestamps, needed with -r), never -c with -r (hangs); PID namespace for a fixed PID.
softflowd_export() {
  (cd "$work" && unshare --pid --fork --mount-proc softflowd -d -a -r traffic.pcap -n "127.0.0.1:$1" "${@:2}")
}
export work
export -f softflowd_export
capture softflowd-v5 "$NETFLOW_PORT" softflowd_export "$NETFLOW_PORT" -v 5
capture softflowd-v9 "$NETFLOW_PORT" softflowd_export "$NETFLOW_PORT" -v 9
capture softflowd-ipfix "$IPFIX_PORT" softflowd_export "$IPFIX_PORT" -v 10
capture softflowd-ipfix-milli "$IPFIX_PORT" softflowd_export "$IPFIX_PORT" -v 10 -A milli

# pmacctd offline (pcap_savefile) with the nfprobe plugin; it exits at the end of the file.
pmacctd_export() {
  local conf="$work/pmacctd-$1.conf"
  printf '%s\n' 'daemonize: false' "pcap_savefile: $work/$2" "${@:3}" >"$conf"
  pmacctd -f "$conf"
}
export -f pmacctd_export
for v in 5 9 10; do
  name="pmacctd-nfprobe-v$v"
  port="$NETFLOW_PORT"
  [ "$v" = 10 ] && name=pmacctd-nfprobe-ipfix && port="$IPFIX_PORT"
  capture "$name" "$port" pmacctd_export "$name" traffic.pcap \
    'plugins: nfprobe' "nfprobe_receiver: 127.0.0.1:$port" "nfprobe_version: $v"
done

# sFlow from pmacctd's sfprobe. Sampling 1 in 1 (pmacct samples at random otherwise), so it gets the
# small traffic capture; never pcap_savefile_wait with sfprobe (duplicates samples).
capture pmacctd-sfprobe "$SFLOW_PORT" pmacctd_export pmacctd-sfprobe traffic-small.pcap \
  'plugins: sfprobe' "sfprobe_receiver: 127.0.0.1:$SFLOW_PORT" 'sfprobe_agentip: 192.0.2.1' \
  'sfprobe_agentsubid: 1' 'sampling_rate: 1'

chmod 0644 "$out"/*.pcap
echo "make-pcaps: describing"
/usr/bin/python3 "$repo/scripts/describe-pcaps.py" "$out" >"$out/README.md"
ls -l "$out"
