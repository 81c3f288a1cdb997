#!/usr/bin/python3
"""Synthesize the plain traffic capture the project's exporters (softflowd, pmacctd) are fed with.

Byte-identical on every run: a fixed random seed, fixed timestamps (from 2024-01-01T00:00:00Z),
every header field that scapy would otherwise pick (MACs, IP ids, sequence numbers, checksums via
scapy's own deterministic computation) set explicitly.

Content: conversations between a few client and server hosts over IPv4 and IPv6 -- TCP with a
handshake, data (PSH/ACK) and a FIN or RST close, UDP request/response (DNS, NTP, syslog, QUIC-like),
ICMP and ICMPv6 echo -- part of them in 802.1Q VLAN-tagged frames, with a few DSCP values. Each
conversation is two unidirectional flows for a NetFlow exporter.

Usage: synth-traffic.py OUT.pcap [--conversations N]
"""
import argparse
import random
import sys
from decimal import Decimal

from scapy.all import (DNS, DNSQR, DNSRR, ICMP, IP, NTP, TCP, UDP, Dot1Q, Ether, ICMPv6EchoReply, ICMPv6EchoRequest,
                       IPv6, Raw, wrpcap)

SEED = 20240101
EPOCH_US = 1704067200 * 1_000_000  # 2024-01-01T00:00:00Z
SPAN_US = 240 * 1_000_000  # conversations start within the first four minutes

CLIENTS_V4 = [f"10.1.{n // 8}.{10 + n % 8}" for n in range(12)]
SERVERS_V4 = ["192.0.2.10", "192.0.2.20", "192.0.2.53", "198.51.100.7", "203.0.113.80"]
CLIENTS_V6 = [f"2001:db8:1::{n:x}" for n in range(0x10, 0x16)]
SERVERS_V6 = ["2001:db8:ffff::53", "2001:db8:ffff::80", "2001:db8:ffff::443"]
VLANS = [100, 200, 300]
DSCP_TOS = [0x00, 0x00, 0x00, 0x28, 0xB8]  # best effort (most), AF11, EF

TCP_SERVICES = [22, 25, 80, 443, 8080]
UDP_SERVICES = [53, 123, 514, 443]


def mac(n):
    return "02:00:00:00:%02x:%02x" % ((n >> 8) & 0xFF, n & 0xFF)


class Conversation:
    """One exchange between a client and a server; builds its frames in both directions."""

    def __init__(self, rng, index):
        self.rng = rng
        self.index = index
        self.v6 = rng.random() < 0.3
        if self.v6:
            self.client = rng.choice(CLIENTS_V6)
            self.server = rng.choice(SERVERS_V6)
        else:
            self.client = rng.choice(CLIENTS_V4)
            self.server = rng.choice(SERVERS_V4)
        self.vlan = rng.choice(VLANS) if rng.random() < 0.25 else None
        self.tos = rng.choice(DSCP_TOS)
        self.start_us = EPOCH_US + rng.randrange(SPAN_US)
        self.client_mac = mac(0x100 + index % 64)
        self.server_mac = mac(0x200 + index % 8)
        self.ip_id = rng.randrange(1, 0xFFFF)

    def frame(self, from_client, l4):
        src, dst = (self.client, self.server) if from_client else (self.server, self.client)
        smac, dmac = (self.client_mac, self.server_mac) if from_client else (self.server_mac, self.client_mac)
        if self.v6:
            l3 = IPv6(src=src, dst=dst, tc=self.tos, fl=0, hlim=64 if from_client else 57)
        else:
            self.ip_id = (self.ip_id + 1) & 0xFFFF
            l3 = IP(src=src, dst=dst, tos=self.tos, id=self.ip_id, ttl=64 if from_client else 57, flags="DF")
        eth = Ether(src=smac, dst=dmac)
        if self.vlan is not None:
            return eth / Dot1Q(vlan=self.vlan, prio=0) / l3 / l4
        return eth / l3 / l4


def payload(rng, n):
    return Raw(bytes(rng.randrange(32, 127) for _ in range(n)))


def tcp_conversation(c, rng):
    """Handshake, a few data segments each way, then FIN/FIN (most) or a RST (some)."""
    sport = rng.randrange(32768, 61000)
    dport = rng.choice(TCP_SERVICES)
    cseq, sseq = rng.randrange(1 << 32), rng.randrange(1 << 32)
    t = c.start_us
    rtt = rng.randrange(200, 40_000)
    out = []

    def seg(from_client, flags, data=b"", dt=0):
        nonlocal t, cseq, sseq
        t += dt
        sp, dp = (sport, dport) if from_client else (dport, sport)
        seq, ack = (cseq, sseq) if from_client else (sseq, cseq)
        l4 = TCP(sport=sp, dport=dp, flags=flags, seq=seq & 0xFFFFFFFF,
                 ack=(ack & 0xFFFFFFFF) if "A" in flags else 0, window=64240 if from_client else 65160)
        if data:
            l4 = l4 / Raw(data)
        step = len(data) + (1 if ("S" in flags or "F" in flags) else 0)
        if from_client:
            cseq += step
        else:
            sseq += step
        out.append((t, c.frame(from_client, l4)))

    seg(True, "S")
    seg(False, "SA", dt=rtt // 2)
    seg(True, "A", dt=rtt // 2)
    for _ in range(rng.randrange(1, 5)):
        request, response = tcp_messages(rng, dport)
        seg(True, "PA", request, dt=rng.randrange(100, 5_000))
        seg(False, "PA", response, dt=rtt // 2 + rng.randrange(100, 3_000))
    if rng.random() < 0.85:
        seg(True, "FA", dt=rng.randrange(1_000, 2_000_000))
        seg(False, "FA", dt=rtt // 2)
        seg(True, "A", dt=rtt // 2)
    else:
        seg(False, "RA", dt=rng.randrange(1_000, 500_000))
    return out


def tcp_messages(rng, dport):
    """HTTP for the web ports (so dissectors of sampled headers see what they expect), opaque otherwise."""
    if dport in (80, 8080):
        path = "/%d/%s" % (rng.randrange(1000), "x" * rng.randrange(0, 60))
        body = bytes(rng.randrange(97, 123) for _ in range(rng.randrange(20, 300)))
        return (b"GET %s HTTP/1.1\r\nHost: example.net\r\n\r\n" % path.encode(),
                b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    return payload(rng, rng.randrange(20, 160)).load, payload(rng, rng.randrange(40, 360)).load


def udp_conversation(c, rng):
    sport = rng.randrange(32768, 61000)
    dport = rng.choice(UDP_SERVICES)
    t = c.start_us
    out = []
    exchanges = 1 if dport in (53, 123) else rng.randrange(1, 6)
    for _ in range(exchanges):
        request, response = udp_messages(c, rng, dport)
        out.append((t, c.frame(True, UDP(sport=sport, dport=dport) / request)))
        if response is None:  # syslog: one way only
            t += rng.randrange(10_000, 3_000_000)
            continue
        t += rng.randrange(300, 30_000)
        out.append((t, c.frame(False, UDP(sport=dport, dport=sport) / response)))
        t += rng.randrange(10_000, 3_000_000)
    return out


def udp_messages(c, rng, dport):
    """Well-formed application payloads for the well-known ports, opaque bytes otherwise."""
    if dport == 53:
        name = f"host{rng.randrange(100)}.example."
        qid = rng.randrange(0xFFFF)
        if c.v6:
            qd = DNSQR(qname=name, qtype="AAAA")
            an = DNSRR(rrname=name, type="AAAA", ttl=300, rdata="2001:db8:ffff::%x" % rng.randrange(1, 0xFFFF))
        else:
            qd = DNSQR(qname=name, qtype="A")
            an = DNSRR(rrname=name, type="A", ttl=300, rdata="203.0.113.%d" % rng.randrange(1, 255))
        return DNS(id=qid, rd=1, qd=qd), DNS(id=qid, qr=1, rd=1, ra=1, qd=qd, an=an)
    if dport == 123:
        # scapy stamps NTP timestamps with the current time unless they are given
        at = 3913056000 + (c.start_us - EPOCH_US) / 1e6  # 2024-01-01 in the NTP era
        return (NTP(version=4, mode=3, ref=0, orig=0, recv=0, sent=at),
                NTP(version=4, mode=4, stratum=2, ref=at - 64, orig=at, recv=at + 0.001, sent=at + 0.002))
    if dport == 514:
        return Raw(b"<134>Jan  1 00:00:00 host app: synthetic message %d" % rng.randrange(10000)), None
    return payload(rng, rng.randrange(24, 120)), payload(rng, rng.randrange(40, 300))


def icmp_conversation(c, rng):
    ident = rng.randrange(1, 0xFFFF)
    t = c.start_us
    out = []
    for seq in range(1, rng.randrange(2, 5)):
        data = bytes(range(56))
        if c.v6:
            req, rep = ICMPv6EchoRequest(id=ident, seq=seq, data=data), ICMPv6EchoReply(id=ident, seq=seq, data=data)
        else:
            req, rep = ICMP(type=8, code=0, id=ident, seq=seq) / Raw(data), ICMP(type=0, code=0, id=ident, seq=seq) / Raw(data)
        out.append((t, c.frame(True, req)))
        out.append((t + rng.randrange(200, 20_000), c.frame(False, rep)))
        t += 1_000_000
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--conversations", type=int, default=170)
    args = ap.parse_args()

    rng = random.Random(SEED)
    frames = []
    for i in range(args.conversations):
        c = Conversation(rng, i)
        kind = rng.random()
        if kind < 0.55:
            frames += tcp_conversation(c, rng)
        elif kind < 0.85:
            frames += udp_conversation(c, rng)
        else:
            frames += icmp_conversation(c, rng)

    # Capture order is time order; ties keep generation order (sort is stable).
    frames.sort(key=lambda f: f[0])
    pkts = []
    for t_us, pkt in frames:
        pkt = Ether(bytes(pkt))  # freeze every computed field (lengths, checksums)
        pkt.time = Decimal(t_us) / Decimal(1_000_000)
        pkts.append(pkt)
    wrpcap(args.out, pkts, linktype=1)
    print(f"{args.out}: {len(pkts)} frames from {args.conversations} conversations", file=sys.stderr)


if __name__ == "__main__":
    main()
