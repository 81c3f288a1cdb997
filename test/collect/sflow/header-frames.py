# Frames for the sFlow header decoder tests (test/collect/sflow/header.test.ts): what the corpus captures
# lack (IPv4 options and fragments, IPv6 extension headers and fragments, QinQ, 802.3/SNAP, VXLAN, GTP-U
# with extension headers, GRE with checksum/key/sequence and bridging, IP-in-IP both ways, SCTP, ICMP
# errors, deep MPLS stacks, nested tunnels), built by scapy and judged by tshark.
# Usage: /usr/bin/python3 header-frames.py OUT.pcap
import sys
from scapy.all import *  # noqa: F403
from scapy.contrib.gtp import GTP_U_Header, GTPPDUSessionContainer, GTP_PDCP_PDU_ExtensionHeader
from scapy.contrib.mpls import MPLS
from scapy.layers.ipsec import AH
E = lambda: Ether(src='02:00:00:00:00:01', dst='02:00:00:00:00:02')
frames = []
# IPv4 with options (record route, router alert) and TCP with NS, CWR, ECE, SYN
frames.append(E()/IP(src='192.0.2.1', dst='198.51.100.2', tos=0xb8, ttl=3, options=[IPOption_RR(routers=['10.0.0.1']), IPOption_Router_Alert()])/TCP(sport=1234, dport=80, flags=0x1c2))
# IPv4 fragments of a UDP datagram (first one has ports, later ones none)
for f in fragment(IP(src='192.0.2.7', dst='198.51.100.8', id=0x4242)/UDP(sport=5000, dport=53)/Raw(b'x'*3000), fragsize=1400):
    frames.append(E()/f)
# IPv6 fragments
for f in fragment6(IPv6(src='2001:db8::1', dst='2001:db8::2', tc=0x28, fl=0x12345, hlim=9)/IPv6ExtHdrFragment(id=0xcafe01)/UDP(sport=6000, dport=7000)/Raw(b'y'*3000), 1280):
    frames.append(E()/f)
# IPv6 hop-by-hop, destination options, routing, then TCP
frames.append(E()/IPv6(src='2001:db8::a', dst='2001:db8::b')/IPv6ExtHdrHopByHop(options=[RouterAlert()])/IPv6ExtHdrDestOpt(options=[PadN(optdata=b'\0'*10)])/IPv6ExtHdrRouting(addresses=['2001:db8::c'])/TCP(sport=443, dport=50000, flags='FA'))
# IPv6 AH then UDP
frames.append(E()/IPv6(src='2001:db8::a', dst='2001:db8::b', nh=51)/AH(nh=17, payloadlen=4, spi=0x100, seq=1, icv=b'\x01'*12)/UDP(sport=500, dport=4500))
# QinQ (802.1ad S-tag, then C-tag), and three tags (the third skipped)
frames.append(E()/Dot1AD(vlan=100, prio=3)/Dot1Q(vlan=200, prio=5)/IP(src='10.1.1.1', dst='10.2.2.2')/UDP(sport=1, dport=2))
frames.append(E()/Dot1Q(vlan=4094, prio=7, type=0x8100)/Dot1Q(vlan=1, prio=0)/Dot1Q(vlan=2)/IPv6(src='fe80::1', dst='ff02::1')/ICMPv6EchoRequest())
# 802.3 with LLC/SNAP carrying IPv4
frames.append(Dot3(src='02:00:00:00:00:01', dst='02:00:00:00:00:02')/LLC(dsap=0xaa, ssap=0xaa, ctrl=3)/SNAP(OUI=0, code=0x0800)/IP(src='10.0.0.1', dst='10.0.0.2')/UDP(sport=9, dport=9))
# VXLAN carrying Ethernet/IPv6/TCP
frames.append(E()/IP(src='172.16.0.1', dst='172.16.0.2')/UDP(sport=49152, dport=4789)/VXLAN(vni=0x123456)/Ether(src='02:aa:00:00:00:01', dst='02:aa:00:00:00:02')/IPv6(src='2001:db8:1::1', dst='2001:db8:1::2')/TCP(sport=22, dport=40000, flags='PA'))
# GTP-U G-PDU with sequence number and a PDU session container extension header, inner IPv4/ICMP
frames.append(E()/IP(src='10.10.0.1', dst='10.10.0.2')/UDP(sport=2152, dport=2152)/GTP_U_Header(teid=0x01020304, E=1, S=1, seq=77, next_ex=0x85)/GTPPDUSessionContainer(type=0, QFI=9)/IP(src='100.64.0.1', dst='8.8.8.8')/ICMP(type=8, code=0))
# GTP-U without options, inner IPv6/UDP
frames.append(E()/IP(src='10.10.0.1', dst='10.10.0.2')/UDP(sport=2152, dport=2152)/GTP_U_Header(teid=0xfffffffe)/IPv6(src='2001:db8:9::1', dst='2001:db8:9::2')/UDP(sport=53, dport=53))
# GRE with checksum, key and sequence number carrying IPv6/ICMPv6
frames.append(E()/IP(src='203.0.113.1', dst='203.0.113.2')/GRE(chksum_present=1, key_present=1, key=0xdeadbeef, seqnum_present=1, sequence_number=5)/IPv6(src='2001:db8::7', dst='2001:db8::8')/ICMPv6EchoReply())
# GRE transparent Ethernet bridging
frames.append(E()/IP(src='203.0.113.1', dst='203.0.113.2')/GRE(proto=0x6558)/Ether(src='02:bb:00:00:00:01', dst='02:bb:00:00:00:02')/IP(src='10.9.9.9', dst='10.8.8.8', tos=4)/TCP(sport=3000, dport=3001, flags='S'))
# 6in4, 4in6, 6in6
frames.append(E()/IP(src='192.0.2.1', dst='192.0.2.2')/IPv6(src='2001:db8::1', dst='2001:db8::2')/UDP(sport=123, dport=123))
frames.append(E()/IPv6(src='2001:db8::1', dst='2001:db8::2')/IP(src='192.0.2.1', dst='192.0.2.2', ttl=17)/TCP(sport=25, dport=2525))
frames.append(E()/IPv6(src='2001:db8::1', dst='2001:db8::2')/IPv6(src='2001:db8:2::1', dst='2001:db8:2::2', hlim=1)/ICMPv6EchoRequest())
# SCTP, ICMP error quoting an IP/UDP packet (not a tunnel), MPLS with four labels over IPv6
frames.append(E()/IP(src='192.0.2.1', dst='192.0.2.2')/SCTP(sport=3868, dport=3868))
frames.append(E()/IP(src='192.0.2.9', dst='192.0.2.1')/ICMP(type=3, code=3)/IP(src='192.0.2.1', dst='192.0.2.9')/UDP(sport=1000, dport=33434))
frames.append(E()/MPLS(label=100, cos=1, s=0, ttl=64)/MPLS(label=200, cos=2, s=0, ttl=63)/MPLS(label=300, cos=3, s=0)/MPLS(label=400, s=1, ttl=7)/IPv6(src='2001:db8::1', dst='2001:db8::2')/UDP(sport=1, dport=2))
# nested tunnels: IPv4 / GRE key / IPv4 / IPv6 (6in4 inside GRE): the innermost tunnel is IP-in-IP
frames.append(E()/IP(src='198.18.0.1', dst='198.18.0.2')/GRE(key_present=1, key=7)/IP(src='10.0.0.1', dst='10.0.0.2')/IPv6(src='2001:db8::5', dst='2001:db8::6')/TCP(sport=8080, dport=8081, flags='R'))
wrpcap(sys.argv[1], frames)
