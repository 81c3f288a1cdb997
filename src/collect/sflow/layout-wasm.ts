// layoutOf (layout.ts) in WebAssembly, over the datagram in the plan memory (plan-memory.ts): the same
// checks in the same order, the same key, the same slots. Every flow sample is looked at by it, and its
// reads are mostly big-endian words that a DataView reads at 1-2 ns each; here they are a load and a few
// register operations. layout-wasm.test.ts holds it to layoutOf on the corpus, the benchmark traffic and
// mutations of both.
//
// Three functions: chain (header.ts commonChain), gateway (gateway.ts walkGateway) and layout, exported.
// sample-walk.ts builds them into its module, where the walk over a datagram's samples calls layout, and
// exports layout from there for the samples decoded in JavaScript (layoutWasm).

import { Gateway } from './gateway.js';
import { Chain, ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERTYPE_VLAN, IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP, UDP_PORT_GTPU, UDP_PORT_VXLAN } from './header.js';
import {
  EXTENDED_GATEWAY,
  EXTENDED_ROUTER,
  EXTENDED_SWITCH,
  IF_MULTIPLE,
  MAX_PRIORITY,
  MAX_VLAN,
  RAW_PACKET_HEADER,
  SAMPLED_ETHERNET,
  SAMPLED_IPV4,
  SAMPLED_IPV6,
} from './formats.js';
import { GATEWAY, GATEWAY_PARTS, HEADER_ETHERNET, IP, K_CHAIN, K_GATEWAY, K_GATEWAY_HOP, K_OUTPUT, K_RAW, K_ROUTER, K_ROUTER_HOP, K_SWITCH, K_SWITCH_FACTS, L4, MAX_RECORDS, PREFIXES, Q, RAW, ROUTER, SAMPLE, SWITCH } from './layout.js';
import { SLOTS_AT } from './plan-memory.js';
import { add, and, be16, be32, block, br, brIf, call, type Code, eq, eqz, type Func, geU, get, gtU, i32, leU, load, loop, ltS, ltU, ne, or, ret, select, set, shl, shrU, store, sub, when } from './wasm-asm.js';

const CHAIN = 0;
const GATEWAY_WALK = 1;
const fail = ret(i32(-1));
const slot = (n: number, value: Code): Code => store(4, i32(SLOTS_AT + 4 * n), value);
/** formats.ts addressLength: octets of an sFlow address of `type`, -1 for an unknown type. */
const addressLength = (type: Code): Code => select(eq(type, i32(1)), i32(4), select(eq(type, i32(2)), i32(16), select(eqz(type), i32(0), i32(-1))));
/** Adds to a local. */
const grow = (local: number, by: Code): Code => set(local, add(get(local), by));

/** chain(at, end): the Chain code of the frame at [at, end), its IP and transport headers in the slots; -1. */
function chain(): Func {
  const [AT, END, TYPE, IPH, CODE, PROTOCOL, L4H, LEFT] = [0, 1, 2, 3, 4, 5, 6, 7];
  const transport = (protocol: number, least: number, code: number, checks: Code = []): [Code, Code] => [eq(get(PROTOCOL), i32(protocol)), [...when(ltS(get(LEFT), i32(least)), fail), ...checks, ...set(CODE, or(get(CODE), i32(code)))]];
  const transports = [
    transport(IPPROTO_TCP, 14, Chain.tcp),
    transport(IPPROTO_UDP, 8, Chain.udp, [
      ...when(eq(be16(get(L4H), 2), i32(UDP_PORT_VXLAN)), fail),
      ...when(eq(be16(get(L4H), 2), i32(UDP_PORT_GTPU)), fail),
      ...when(eq(be16(get(L4H), 0), i32(UDP_PORT_GTPU)), fail),
    ]),
    transport(IPPROTO_SCTP, 4, Chain.sctp),
    transport(IPPROTO_ICMP, 2, Chain.icmp),
    transport(IPPROTO_ICMPV6, 2, Chain.icmpv6),
  ];
  const body: Code = [
    ...when(ltS(sub(get(END), get(AT)), i32(14)), fail),
    ...set(TYPE, be16(get(AT), 12)),
    ...set(IPH, add(get(AT), i32(14))),
    ...when(eq(get(TYPE), i32(ETHERTYPE_VLAN)), [
      ...when(ltS(sub(get(END), get(IPH)), i32(4)), fail),
      ...set(TYPE, be16(get(IPH), 2)),
      ...grow(IPH, i32(4)),
      ...set(CODE, i32(Chain.tagged)),
    ]),
    ...when(
      eq(get(TYPE), i32(ETHERTYPE_IPV4)),
      [
        // Version 4, IHL 5; neither MF nor a fragment offset.
        ...when(ltS(sub(get(END), get(IPH)), i32(20)), fail),
        ...when(ne(load(1, get(IPH)), i32(0x45)), fail),
        ...when(ne(and(be16(get(IPH), 6), i32(0x3fff)), i32(0)), fail),
        ...set(PROTOCOL, load(1, get(IPH), 9)),
        ...set(L4H, add(get(IPH), i32(20))),
      ],
      [
        ...when(ne(get(TYPE), i32(ETHERTYPE_IPV6)), fail),
        ...when(ltS(sub(get(END), get(IPH)), i32(40)), fail),
        ...when(ne(shrU(load(1, get(IPH)), i32(4)), i32(6)), fail),
        ...set(PROTOCOL, load(1, get(IPH), 6)),
        ...set(L4H, add(get(IPH), i32(40))),
        ...set(CODE, or(get(CODE), i32(Chain.ipv6))),
      ],
    ),
    ...set(LEFT, sub(get(END), get(L4H))),
    ...transports.reduceRight<Code>((otherwise, [cond, then]) => when(cond, then, otherwise), fail),
    ...slot(IP, get(IPH)),
    ...slot(L4, get(L4H)),
    ...get(CODE),
  ];
  return { params: 2, locals: 6, results: 1, body };
}

/** gateway(b, end): walkGateway of the extended gateway record body [b, end) into the gateway slots. */
function gateway(): Func {
  const [B, END, HOP, P, SEGMENTS, ASNS, FIRST, LAST, SEGMENT, N, COMMUNITIES, T] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
  const part = (n: number, value: Code) => slot(GATEWAY_PARTS + n, value);
  const left = sub(get(END), get(P));
  const body: Code = [
    ...when(ltS(sub(get(END), get(B)), i32(4)), ret(i32(1))),
    ...set(HOP, be32(get(B), 0, T)),
    ...set(HOP, addressLength(get(HOP))),
    ...when(ltS(get(HOP), i32(0)), ret(i32(1))),
    ...when(ltS(sub(sub(get(END), get(B)), i32(4)), get(HOP)), ret(i32(1))),
    ...set(P, add(add(get(B), i32(4)), get(HOP))),
    ...when(ltS(left, i32(16)), ret(i32(1))),
    ...part(Gateway.asNumbers, get(P)),
    ...set(SEGMENTS, be32(get(P), 12, T)),
    ...grow(P, i32(16)),
    ...part(Gateway.path, get(P)),
    ...set(FIRST, i32(-1)),
    ...set(LAST, i32(-1)),
    ...block(
      loop([
        ...brIf(1, geU(get(SEGMENT), get(SEGMENTS))),
        ...when(ltS(left, i32(8)), ret(i32(2))),
        ...set(N, be32(get(P), 4, T)),
        // n > (end - p - 8) / 4, with end - p - 8 >= 0 here.
        ...when(gtU(get(N), shrU(sub(left, i32(8)), i32(2))), ret(i32(3))),
        ...when(ne(get(N), i32(0)), [
          ...when(ltS(get(FIRST), i32(0)), set(FIRST, add(get(P), i32(8)))),
          ...set(LAST, add(add(get(P), i32(8)), shl(sub(get(N), i32(1)), i32(2)))),
        ]),
        ...grow(ASNS, get(N)),
        ...grow(P, add(i32(8), shl(get(N), i32(2)))),
        ...grow(SEGMENT, i32(1)),
        ...br(0),
      ]),
    ),
    ...when(ltS(left, i32(4)), ret(i32(4))),
    ...set(COMMUNITIES, be32(get(P), 0, T)),
    // communities > (end - p - 8) / 4, which a negative end - p - 8 makes true.
    ...when(ltS(sub(left, i32(8)), i32(0)), ret(i32(4))),
    ...when(gtU(get(COMMUNITIES), shrU(sub(left, i32(8)), i32(2))), ret(i32(4))),
    ...part(Gateway.firstAs, get(FIRST)),
    ...part(Gateway.lastAs, get(LAST)),
    ...part(Gateway.communities, get(P)),
    ...part(Gateway.localPref, add(add(get(P), i32(4)), shl(get(COMMUNITIES), i32(2)))),
    ...part(Gateway.segments, get(SEGMENTS)),
    ...part(Gateway.pathLength, get(ASNS)),
    ...i32(0),
  ];
  return { params: 2, locals: 10, results: 1, body };
}

/** layout(s, end, expanded): layoutOf of the flow sample at [s, end). */
function layout(): Func {
  const [S, END, EXPANDED, QL, OUTPUT, R, COUNT, KEY, SAMPLED, J, FORMAT, LENGTH, B, HEADER, CHAIN_CODE, TYPE, HOP, T] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17];
  const none = (bit: number) => when(ne(and(get(KEY), i32(bit)), i32(0)), fail);
  const addKey = (value: Code) => set(KEY, or(get(KEY), value));
  const raw: Code = [
    ...none(K_RAW),
    ...when(ltU(get(LENGTH), i32(16)), fail),
    ...when(ne(be32(get(B), 0, T), i32(HEADER_ETHERNET)), fail),
    ...set(HEADER, be32(get(B), 12, T)),
    ...when(gtU(get(HEADER), sub(get(LENGTH), i32(16))), fail),
    ...set(CHAIN_CODE, call(CHAIN, add(get(B), i32(16)), add(add(get(B), i32(16)), get(HEADER)))),
    ...when(ltS(get(CHAIN_CODE), i32(0)), fail),
    ...addKey(or(i32(K_RAW), shl(get(CHAIN_CODE), i32(K_CHAIN)))),
    ...slot(RAW, get(B)),
  ];
  // Which of the switch facts fit their field: bits 0-3 (layout.ts IN_VLAN .. OUT_PRIORITY).
  const fits = (offset: number, most: number, bit: number) => shl(leU(be32(get(B), offset, T), i32(most)), i32(bit));
  const extendedSwitch: Code = [
    ...none(K_SWITCH),
    ...when(ltU(get(LENGTH), i32(16)), fail),
    ...addKey(or(i32(K_SWITCH), shl(or(or(fits(0, MAX_VLAN, 0), fits(4, MAX_PRIORITY, 1)), or(fits(8, MAX_VLAN, 2), fits(12, MAX_PRIORITY, 3))), i32(K_SWITCH_FACTS)))),
    ...slot(SWITCH, get(B)),
  ];
  const router: Code = [
    ...none(K_ROUTER),
    ...when(ltU(get(LENGTH), i32(4)), fail),
    ...set(TYPE, be32(get(B), 0, T)),
    ...set(HOP, addressLength(get(TYPE))),
    ...when(ltS(get(HOP), i32(0)), fail),
    // Next hop, then source and destination prefix lengths.
    ...when(ltU(get(LENGTH), add(get(HOP), i32(12))), fail),
    ...addKey(or(i32(K_ROUTER), shl(get(TYPE), i32(K_ROUTER_HOP)))),
    ...slot(ROUTER, get(B)),
    ...slot(PREFIXES, add(add(get(B), i32(4)), get(HOP))),
  ];
  const extendedGateway: Code = [
    ...none(K_GATEWAY),
    ...when(ne(call(GATEWAY_WALK, get(B), get(R)), i32(0)), fail),
    ...addKey(or(i32(K_GATEWAY), shl(be32(get(B), 0, T), i32(K_GATEWAY_HOP)))),
    ...slot(GATEWAY, get(B)),
  ];
  const least = select(eq(get(FORMAT), i32(SAMPLED_ETHERNET)), i32(24), select(eq(get(FORMAT), i32(SAMPLED_IPV4)), i32(32), i32(56)));
  const sampled: Code = [...when(ltU(get(LENGTH), least), fail), ...set(SAMPLED, i32(1))];
  const isSampled = or(eq(get(FORMAT), i32(SAMPLED_ETHERNET)), or(eq(get(FORMAT), i32(SAMPLED_IPV4)), eq(get(FORMAT), i32(SAMPLED_IPV6))));
  const records: [Code, Code][] = [
    [eq(get(FORMAT), i32(RAW_PACKET_HEADER)), raw],
    [eq(get(FORMAT), i32(EXTENDED_SWITCH)), extendedSwitch],
    [eq(get(FORMAT), i32(EXTENDED_ROUTER)), router],
    [eq(get(FORMAT), i32(EXTENDED_GATEWAY)), extendedGateway],
    [isSampled, sampled],
  ];
  const body: Code = [
    ...when(ltS(sub(get(END), get(S)), select(get(EXPANDED), i32(44), i32(32))), fail),
    ...set(QL, add(get(S), select(get(EXPANDED), i32(12), i32(8)))),
    ...set(OUTPUT, select(get(EXPANDED), be32(get(QL), 20, T), shrU(be32(get(QL), 16, T), i32(30)))),
    ...when(gtU(get(OUTPUT), i32(IF_MULTIPLE)), fail),
    ...set(R, add(get(QL), select(get(EXPANDED), i32(28), i32(20)))),
    ...set(COUNT, be32(get(R), 0, T)),
    // None, or more than MAX_RECORDS.
    ...when(gtU(sub(get(COUNT), i32(1)), i32(MAX_RECORDS - 1)), fail),
    ...grow(R, i32(4)),
    ...set(KEY, or(get(EXPANDED), shl(get(OUTPUT), i32(K_OUTPUT)))),
    ...block(
      loop([
        ...brIf(1, geU(get(J), get(COUNT))),
        ...when(ltS(sub(get(END), get(R)), i32(8)), fail),
        ...set(FORMAT, be32(get(R), 0, T)),
        ...set(LENGTH, be32(get(R), 4, T)),
        ...set(B, add(get(R), i32(8))),
        ...when(gtU(get(LENGTH), sub(get(END), get(B))), fail),
        ...set(R, add(get(B), get(LENGTH))),
        ...records.reduceRight<Code>((otherwise, [cond, then]) => when(cond, then, otherwise), fail),
        ...grow(J, i32(1)),
        ...br(0),
      ]),
    ),
    // Without a decoded header, sampled Ethernet/IP records are the sample's facts: the general path's.
    ...when(and(get(SAMPLED), eqz(and(get(KEY), i32(K_RAW)))), fail),
    ...slot(SAMPLE, get(S)),
    ...slot(Q, get(QL)),
    ...get(KEY),
  ];
  return { params: 3, locals: 15, results: 1, body, name: 'layout' };
}

/** The functions of layoutOf in WebAssembly, the first of a module: layout, exported, is function LAYOUT. */
export const layoutFuncs = (): Func[] => [chain(), gateway(), layout()];
export const LAYOUT = 2;
