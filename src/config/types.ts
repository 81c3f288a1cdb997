// The validated configuration, after defaults are applied (src/config/load.ts produces it).
// YAML keys are exactly these names.

export type ProtocolSetting = 'auto' | 'netflow5' | 'netflow9' | 'ipfix' | 'sflow';

/** How a UDP input reads its socket: recvmmsg(2) through the project's addon, or node:dgram. */
export type UdpReceive = 'auto' | 'recvmmsg' | 'dgram';

export interface InputConfig {
  name: string;
  /** udp://HOST:PORT, tcp://HOST:PORT or tls://HOST:PORT (IPFIX only over tcp/tls). */
  listen: string;
  protocol: ProtocolSetting;
  /** Seconds without packets before an exporter session ends. Default 300. */
  sessionTimeout: number;
  /** Seconds a template learned over UDP lives without being refreshed (RFC 7011 §8.4). Default 1800. */
  templateTimeout: number;
  /** Seconds a data set waiting for its template is held before it is dropped (no_template). Default 10. */
  pendingTimeout: number;
  /** Data sets held per exporter session while waiting for templates. Default 256. */
  pendingLimit: number;
  /** Requested UDP receive buffer in bytes. Default 32 MiB; a warning is logged when the kernel caps it. */
  receiveBuffer: number;
  /** UDP: auto (recvmmsg when the addon is built, else dgram), recvmmsg (required) or dgram. Default auto. */
  receive: UdpReceive;
  /** tls://: PEM paths (absolute after loading): the CA exporters' certificates must chain to, our certificate and key. */
  ca?: string;
  cert?: string;
  key?: string;
  /** Address prefixes (CIDR, IPv4 and IPv6) exporters may send from; others are dropped (not_allowed). Absent: everyone. */
  allow?: string[];
  /** Per-exporter rate limit; absent: none. */
  rateLimit?: RateLimitConfig;
}

export interface RateLimitConfig {
  /** Datagrams (stream: IPFIX messages) per second per exporter; 0 = no limit. */
  datagrams: number;
  /** Data records per second per exporter; 0 = no limit. */
  records: number;
  /** Seconds of rate an exporter may send at once. Default 1. */
  burst: number;
}

export interface FileRotation {
  /** Close the file and start a new one past this many bytes. Default 64 MiB. */
  maxBytes: number;
  /** ... or after this many seconds. Default 300. */
  interval: number;
  /** Keep at most this many closed files (oldest deleted); 0 keeps all. Default 0. */
  keep: number;
}

export interface OutputConfig {
  name: string;
  /** udp://HOST:PORT, tcp://HOST:PORT, sctp://HOST:PORT[?options] (docs/export.md), file:///abs/path.ipfix or file:relative/path.ipfix (tls:// later). */
  url: string;
  /** UDP: seconds between template retransmissions (RFC 7011 §8.4). Default 60. */
  templateRefresh: number;
  /** UDP: path MTU in bytes; messages are packed to MTU − IP − UDP headers. Default 1500. */
  mtu: number;
  /** Milliseconds a partly filled message may wait for more records before it is sent. Default 50. */
  flushInterval: number;
  /** TCP: reconnect backoff bounds in seconds. Defaults 1 and 30. */
  reconnectMin: number;
  reconnectMax: number;
  /** Bytes an output may queue while its transport is not writable, before dropping (queue_full). Default 64 MiB. */
  queueLimit: number;
  /** file:// rotation. */
  rotate: FileRotation;
  /** tls://: PEM paths (absolute after loading): the CA the collector's certificate must chain to, our certificate and key. */
  ca?: string;
  cert?: string;
  key?: string;
  /** tls://: the name the collector's certificate must carry (default: the URL host; set it when that is an IP address). */
  servername?: string;
  /** Reliable outputs (tcp, tls, sctp, failover groups): the memory queue (docs/export.md "Queue and spool"). Defaulted by load. */
  queue?: QueueConfig;
  /** Reliable outputs: the disk spool behind the memory queue; absent: memory only. */
  spool?: SpoolConfig;
  /** Seconds a stopping gateway spends sending what waits in the queue. Default 2. */
  drainTimeout?: number;
  /** A failover group: ordered members (reliable URLs); `url` is then "failover:" and the members' URLs. */
  failover?: FailoverMember[];
  /** Data-based collector selection (RFC 6183 §6.1): records go here when any rule matches; absent: all. */
  select?: SelectRule[];
  /**
   * Export Time of outgoing messages (RFC 6183 §7): `now` (absent) stamps the time the message is built;
   * `keep` carries the Export Time of the incoming message the records came in (v9/v5 unix_secs, IPFIX
   * Export Time), a message holding records of one incoming Export Time only.
   */
  exportTime?: ExportTimeSetting;
}

export type ExportTimeSetting = 'keep' | 'now';

export type OverflowPolicySetting = 'drop-newest' | 'drop-oldest';

export interface QueueConfig {
  /** Octets of messages kept in memory while the transport is down or busy. Default 16 MiB. */
  maxBytes: number;
  /** When the last tier (spool, else memory) is full. Default drop-newest. */
  policy: OverflowPolicySetting;
}

export interface SpoolConfig {
  /** Directory of the RFC 5655 spool files (absolute after loading; relative ones are to the config file). */
  dir: string;
  /** Octets of messages the spool may hold. Default 1 GiB. */
  maxBytes: number;
}

export interface FailoverMember {
  /** Metrics/log name of the member; default "<group>/<n>". */
  name: string;
  url: string;
}

/** A closed range of unsigned integers. */
export type NumberRange = readonly [number, number];

/** An address prefix: the network's octets (4 or 16) and the prefix length. */
export interface AddressPrefix {
  readonly bytes: readonly number[];
  readonly length: number;
}

/** All conditions of a rule must hold (a record whose Template lacks a named field never matches). */
export interface SelectRule {
  exporter?: AddressPrefix[];
  odid?: NumberRange[];
  ingressInterface?: NumberRange[];
  egressInterface?: NumberRange[];
  bgpSourceAsNumber?: NumberRange[];
  bgpDestinationAsNumber?: NumberRange[];
  sourceAddress?: AddressPrefix[];
  destinationAddress?: AddressPrefix[];
}

export interface MappingConfig {
  /** Directory of mapping tables. Default: the mappings/ folder shipped with the gateway. */
  dir: string;
  /** PEN for NetFlow v9 field types 128..32767 with no mapping. Default 4294967294. */
  netflow9Enterprise: number;
  /** PEN for NetFlow v9 field types 32768..65535 with no mapping (id − 32768). Default 4294967295. */
  netflow9HighEnterprise: number;
  /** sFlow conversion choices (docs/sflow.md). */
  sflow: SflowMappingConfig;
}

export interface SflowMappingConfig {
  /** PEN of the elements in mappings/sflow-elements.yaml (facts no IANA element describes). Default 4294967293. */
  enterprise: number;
  /** Export the outer (tunnel) flow of a GRE/IP-in-IP/VXLAN/GTP-U packet instead of the inner one. Default false. */
  keepOuterFlow: boolean;
  /** Multiply packet and octet counts by the sampling rate (estimates) instead of sending what was sampled. Default false. */
  scaleCounts: boolean;
  /** Also export the sampled header itself as dataLinkFrameSection (RFC 7133). Default false. */
  headerSection: boolean;
}

export interface Config {
  /** Absolute path of the file this came from (for messages), or "<embedded default>". */
  source: string;
  inputs: InputConfig[];
  outputs: OutputConfig[];
  mapping: MappingConfig;
  /** host:port for the HTTP /metrics and /health endpoint, or null for none. Default 127.0.0.1:9464. */
  metrics: string | null;
  logLevel: string;
  /**
   * Worker threads that decode each UDP input's datagrams, sharded by exporter (docs/workers.md); 0 (the
   * default) decodes on the main thread.
   */
  workers: number;
}
