// Configuration loading and validation. Every problem is reported as `FILE:LINE: key.path: message`,
// with a suggestion where one helps (a misspelt key names the nearest known one). `check-config` runs the
// same validation without starting anything.

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { LineCounter, parseDocument, isMap, isSeq, isScalar, type Node, type Document } from 'yaml';
import { DEFAULT_MAPPINGS_DIR } from '../model/registry.js';
import { parseSctpUrl } from '../transport/sctp-options.js';
import { SELECT_KEYS, parseRule } from './select-rules.js';
import type { Config, InputConfig, MappingConfig, OutputConfig, ProtocolSetting, RateLimitConfig, SflowMappingConfig, UdpReceive } from './types.js';
import { parseCidr } from '../collect/allow-list.js';

/** Mapping settings when the config says nothing (and for collect/inspect, which take no config). */
export const DEFAULT_SFLOW_MAPPING: SflowMappingConfig = { enterprise: 4294967293, keepOuterFlow: false, scaleCounts: false, headerSection: false };
export const DEFAULT_MAPPING: MappingConfig = { dir: DEFAULT_MAPPINGS_DIR, netflow9Enterprise: 4294967294, netflow9HighEnterprise: 4294967295, sflow: DEFAULT_SFLOW_MAPPING };

/**
 * Worker threads when the config says nothing: none. On the 2-core machines measured (docs/workers.md)
 * the threads cost 50-80 % more CPU per record and bought no rate; `workers: N` turns them on.
 */
export const DEFAULT_WORKERS = 0;
/** More threads than this only cost memory and context switches. */
const MAX_WORKERS = 64;

/** Default UDP port per forced protocol, for a listen URL given without one (auto needs a port). */
export const DEFAULT_PORTS: Partial<Record<ProtocolSetting, number>> = { netflow5: 2055, netflow9: 2055, ipfix: 4739, sflow: 6343 };

/** The embedded default the gateway runs with when no --config is given. */
export const DEFAULT_CONFIG_PATH = resolve(import.meta.dirname, '../../config/default.yaml');

export class ConfigError extends Error {
  constructor(readonly errors: string[]) {
    super(errors.join('\n'));
    this.name = 'ConfigError';
  }
}

const PROTOCOLS: ProtocolSetting[] = ['auto', 'netflow5', 'netflow9', 'ipfix', 'sflow'];
const RECEIVE: UdpReceive[] = ['auto', 'recvmmsg', 'dgram'];
const TOP_KEYS = ['inputs', 'outputs', 'mapping', 'metrics', 'logLevel', 'workers'];
const INPUT_KEYS = ['name', 'listen', 'protocol', 'sessionTimeout', 'templateTimeout', 'pendingTimeout', 'pendingLimit', 'receiveBuffer', 'receive', 'ca', 'cert', 'key', 'allow', 'rateLimit'];
const OUTPUT_KEYS = ['name', 'url', 'templateRefresh', 'mtu', 'flushInterval', 'reconnectMin', 'reconnectMax', 'queueLimit', 'rotate', 'ca', 'cert', 'key', 'servername', 'queue', 'spool', 'drainTimeout', 'failover', 'select', 'exportTime'];
const TLS_KEYS = ['ca', 'cert', 'key'] as const;
const RATE_KEYS = ['datagrams', 'records', 'burst'];
const ROTATE_KEYS = ['maxBytes', 'interval', 'keep'];
const MAPPING_KEYS = ['dir', 'netflow9Enterprise', 'netflow9HighEnterprise', 'sflow'];
const SFLOW_KEYS = ['enterprise', 'keepOuterFlow', 'scaleCounts', 'headerSection'];
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Load and validate; throws ConfigError listing every problem. */
export function loadConfig(path: string = DEFAULT_CONFIG_PATH): Config {
  const abs = resolve(path);
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (e) {
    throw new ConfigError([`${abs}: cannot read the configuration: ${(e as Error).message}`]);
  }
  return parseConfig(text, abs);
}

/** Validate a file without starting anything. */
export function checkConfig(path: string): { ok: boolean; errors: string[] } {
  try {
    loadConfig(path);
    return { ok: true, errors: [] };
  } catch (e) {
    if (e instanceof ConfigError) return { ok: false, errors: e.errors };
    throw e;
  }
}

export function parseConfig(text: string, source: string): Config {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const v = new Validator(source, lines, doc);
  for (const err of doc.errors) v.errors.push(`${source}:${lines.linePos(err.pos[0]).line}: YAML syntax: ${err.message.split('\n')[0]}`);
  if (v.errors.length) throw new ConfigError(v.errors);
  const config = v.config();
  if (v.errors.length) throw new ConfigError(v.errors);
  return config;
}

class Validator {
  readonly errors: string[] = [];
  constructor(
    private readonly source: string,
    private readonly lines: LineCounter,
    private readonly doc: Document,
  ) {}

  private line(node: Node | null | undefined): number {
    const pos = node?.range?.[0];
    return pos === undefined ? 1 : this.lines.linePos(pos).line;
  }

  private fail(node: Node | null | undefined, key: string, message: string): void {
    this.errors.push(`${this.source}:${this.line(node)}: ${key}: ${message}`);
  }

  /** Map entries of a node, reporting keys that are not `allowed` (with the nearest allowed key). */
  private entries(node: Node | null | undefined, path: string, allowed: string[]): Map<string, Node | null> {
    const out = new Map<string, Node | null>();
    if (!isMap(node)) {
      this.fail(node, path || '(top level)', 'must be a mapping of keys to values');
      return out;
    }
    for (const pair of node.items) {
      const k = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
      const keyPath = path ? `${path}.${k}` : k;
      if (!allowed.includes(k)) {
        const near = nearest(k, allowed);
        this.fail(pair.key as Node, keyPath, `unknown key${near ? ` — did you mean "${near}"?` : ` (known: ${allowed.join(', ')})`}`);
        continue;
      }
      out.set(k, (pair.value as Node | null) ?? null);
    }
    return out;
  }

  private str(m: Map<string, Node | null>, k: string, path: string, parent: Node | null | undefined, required: boolean): string | undefined {
    const n = m.get(k);
    if (n === undefined || (isScalar(n) && n.value === null)) {
      if (required) this.fail(parent, `${path}.${k}`, 'is required');
      return undefined;
    }
    if (!isScalar(n) || typeof n.value !== 'string' || n.value === '') {
      this.fail(n, `${path}.${k}`, 'must be a non-empty string');
      return undefined;
    }
    return n.value;
  }

  private num(m: Map<string, Node | null>, k: string, path: string, dflt: number, min: number, max: number, integer = true): number {
    const n = m.get(k);
    if (n === undefined || (isScalar(n) && n.value === null)) return dflt;
    const value = isScalar(n) ? n.value : undefined;
    if (typeof value !== 'number' || !Number.isFinite(value) || (integer && !Number.isInteger(value)) || value < min || value > max) {
      this.fail(n, path ? `${path}.${k}` : k, `must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max} (got ${JSON.stringify(isScalar(n) ? n.value : String(n))})`);
      return dflt;
    }
    return value;
  }

  config(): Config {
    const root = this.doc.contents as Node | null;
    const top = this.entries(root, '', TOP_KEYS);
    const inputs = this.list(top.get('inputs'), 'inputs', root, (n, p) => this.input(n, p));
    const outputs = this.list(top.get('outputs'), 'outputs', root, (n, p) => this.output(n, p));
    this.unique(inputs, 'inputs', top.get('inputs'));
    this.unique(outputs, 'outputs', top.get('outputs'));

    const mappingNode = top.get('mapping');
    const mm = mappingNode ? this.entries(mappingNode, 'mapping', MAPPING_KEYS) : new Map<string, Node | null>();
    const dir = this.str(mm, 'dir', 'mapping', mappingNode, false);
    const mapping = {
      dir: dir ? resolve(this.source, '..', dir) : DEFAULT_MAPPING.dir,
      netflow9Enterprise: this.num(mm, 'netflow9Enterprise', 'mapping', DEFAULT_MAPPING.netflow9Enterprise, 1, 0xffffffff),
      netflow9HighEnterprise: this.num(mm, 'netflow9HighEnterprise', 'mapping', DEFAULT_MAPPING.netflow9HighEnterprise, 1, 0xffffffff),
      sflow: this.sflow(mm.get('sflow')),
    };

    let metrics: string | null = '127.0.0.1:9464';
    const mNode = top.get('metrics');
    if (mNode !== undefined) {
      const value = isScalar(mNode) ? mNode.value : undefined;
      if (value === null || value === false) metrics = null;
      else if (typeof value === 'string' && /^(\[[0-9a-fA-F:.]+\]|[^:\s]+):\d{1,5}$/.test(value) && Number(value.slice(value.lastIndexOf(':') + 1)) <= 65535) metrics = value;
      else this.fail(mNode, 'metrics', 'must be HOST:PORT (e.g. 127.0.0.1:9464), or false to disable the endpoint');
    }
    let logLevel = 'info';
    const lNode = top.get('logLevel');
    if (lNode !== undefined) {
      const value = isScalar(lNode) ? lNode.value : undefined;
      if (typeof value === 'string' && LOG_LEVELS.includes(value)) logLevel = value;
      else this.fail(lNode, 'logLevel', `must be one of ${LOG_LEVELS.join(', ')}`);
    }
    const workers = this.num(top, 'workers', '', DEFAULT_WORKERS, 0, MAX_WORKERS);
    return { source: this.source, inputs, outputs, mapping, metrics, logLevel, workers };
  }

  private list<T>(node: Node | null | undefined, path: string, parent: Node | null, each: (n: Node, p: string) => T | undefined): T[] {
    if (node === undefined || node === null) {
      this.fail(parent, path, 'is required: a list with at least one entry');
      return [];
    }
    if (!isSeq(node) || node.items.length === 0) {
      this.fail(node, path, 'must be a list with at least one entry');
      return [];
    }
    const out: T[] = [];
    node.items.forEach((item, i) => {
      const r = each(item as Node, `${path}[${i}]`);
      if (r) out.push(r);
    });
    return out;
  }

  private unique(items: { name: string }[], path: string, node: Node | null | undefined): void {
    const seen = new Set<string>();
    for (const it of items) {
      if (seen.has(it.name)) this.fail(node, path, `name "${it.name}" is used twice; names must be unique`);
      seen.add(it.name);
    }
  }

  private sflow(node: Node | null | undefined): SflowMappingConfig {
    if (node === undefined || node === null) return DEFAULT_SFLOW_MAPPING;
    const m = this.entries(node, 'mapping.sflow', SFLOW_KEYS);
    return {
      enterprise: this.num(m, 'enterprise', 'mapping.sflow', DEFAULT_SFLOW_MAPPING.enterprise, 1, 0xffffffff),
      keepOuterFlow: this.bool(m, 'keepOuterFlow', 'mapping.sflow', DEFAULT_SFLOW_MAPPING.keepOuterFlow),
      scaleCounts: this.bool(m, 'scaleCounts', 'mapping.sflow', DEFAULT_SFLOW_MAPPING.scaleCounts),
      headerSection: this.bool(m, 'headerSection', 'mapping.sflow', DEFAULT_SFLOW_MAPPING.headerSection),
    };
  }

  private bool(m: Map<string, Node | null>, k: string, path: string, dflt: boolean): boolean {
    const n = m.get(k);
    if (n === undefined) return dflt;
    const value = isScalar(n) ? n.value : undefined;
    if (typeof value === 'boolean') return value;
    this.fail(n, `${path}.${k}`, 'must be true or false');
    return dflt;
  }

  private input(node: Node, path: string): InputConfig | undefined {
    const m = this.entries(node, path, INPUT_KEYS);
    const name = this.str(m, 'name', path, node, true);
    let protocol: ProtocolSetting = 'auto';
    const p = this.str(m, 'protocol', path, node, false);
    if (p !== undefined) {
      if ((PROTOCOLS as string[]).includes(p)) protocol = p as ProtocolSetting;
      else this.fail(m.get('protocol'), `${path}.protocol`, `must be one of ${PROTOCOLS.join(', ')}${nearest(p, PROTOCOLS) ? ` — did you mean "${nearest(p, PROTOCOLS)}"?` : ''}`);
    }
    let receive: UdpReceive = 'auto';
    const r = this.str(m, 'receive', path, node, false);
    if (r !== undefined) {
      if ((RECEIVE as string[]).includes(r)) receive = r as UdpReceive;
      else this.fail(m.get('receive'), `${path}.receive`, `must be one of ${RECEIVE.join(', ')} (auto: recvmmsg when the addon is built, else dgram)${nearest(r, RECEIVE) ? ` — did you mean "${nearest(r, RECEIVE)}"?` : ''}`);
    }
    let listen = this.str(m, 'listen', path, node, true);
    // A forced protocol has a well-known port (sFlow 6343, IPFIX 4739, NetFlow 2055): udp://HOST is enough.
    const port = DEFAULT_PORTS[protocol];
    if (listen !== undefined && port !== undefined && /^udp:\/\/(\[[0-9a-fA-F:.]+\]|[^:/\[\]?]+)$/.test(listen)) listen = `${listen}:${port}`;
    const at = listen !== undefined ? parseListenUrl(listen) : undefined;
    if (listen !== undefined && !at) {
      this.fail(m.get('listen'), `${path}.listen`, `"${listen}" is not a listen URL — use udp://HOST:PORT, tcp://HOST:PORT or tls://HOST:PORT (IPv6: udp://[ADDR]:PORT); the port may be left out when protocol names the format`);
    }
    if (at?.scheme === 'sctp') {
      const r = parseSctpUrl(listen!, 'listen');
      if (typeof r === 'string') this.fail(m.get('listen'), `${path}.listen`, r);
    }
    // IPFIX is the only format carried over TCP, TLS and SCTP (RFC 7011 §10).
    if (at && (at.scheme === 'tcp' || at.scheme === 'tls' || at.scheme === 'sctp')) {
      if (protocol === 'auto') protocol = 'ipfix';
      else if (protocol !== 'ipfix') this.fail(m.get('protocol'), `${path}.protocol`, `${at.scheme}:// inputs carry IPFIX only; use protocol: ipfix (or leave it out)`);
    }
    const tlsFiles = this.tlsFiles(m, path, node, at?.scheme === 'tls', 'listen');
    const allow = this.allowList(m.get('allow'), `${path}.allow`);
    const rateLimit = this.rateLimit(m.get('rateLimit'), `${path}.rateLimit`);
    if (name === undefined || listen === undefined) return undefined;
    return {
      ...tlsFiles,
      ...(allow ? { allow } : {}),
      ...(rateLimit ? { rateLimit } : {}),
      name,
      listen,
      protocol,
      sessionTimeout: this.num(m, 'sessionTimeout', path, 300, 1, 86400 * 7),
      templateTimeout: this.num(m, 'templateTimeout', path, 1800, 1, 86400 * 7),
      pendingTimeout: this.num(m, 'pendingTimeout', path, 10, 0, 3600),
      pendingLimit: this.num(m, 'pendingLimit', path, 256, 0, 1_000_000),
      receiveBuffer: this.num(m, 'receiveBuffer', path, 32 << 20, 4096, 2 ** 31 - 1),
      receive,
    };
  }

  /** ca, cert, key: required for tls://, PEM paths resolved against the config file's folder. */
  private tlsFiles(m: Map<string, Node | null>, path: string, node: Node, required: boolean, urlKey: string): { ca?: string; cert?: string; key?: string } {
    const out: { ca?: string; cert?: string; key?: string } = {};
    for (const k of TLS_KEYS) {
      const v = this.str(m, k, path, node, false);
      if (v !== undefined) out[k] = resolve(this.source, '..', v);
      else if (required) this.fail(node, `${path}.${k}`, `is required for tls:// (a PEM file path; ${urlKey} is tls://): ca is the CA peers' certificates must chain to, cert and key are ours`);
    }
    return out;
  }

  private allowList(node: Node | null | undefined, path: string): string[] | undefined {
    if (node === undefined || node === null) return undefined;
    if (!isSeq(node)) {
      this.fail(node, path, 'must be a list of address prefixes (e.g. [192.0.2.0/24, "2001:db8::/32"])');
      return undefined;
    }
    const out: string[] = [];
    for (const item of node.items) {
      const v = isScalar(item) ? item.value : undefined;
      const r = typeof v === 'string' ? parseCidr(v) : 'must be an address prefix string such as 192.0.2.0/24';
      if (typeof r === 'string') this.fail(item as Node, path, r);
      else out.push(v as string);
    }
    return out;
  }

  private rateLimit(node: Node | null | undefined, path: string): RateLimitConfig | undefined {
    if (node === undefined || node === null) return undefined;
    const m = this.entries(node, path, RATE_KEYS);
    const r = {
      datagrams: this.num(m, 'datagrams', path, 0, 0, 1e9, false),
      records: this.num(m, 'records', path, 0, 0, 1e10, false),
      burst: this.num(m, 'burst', path, 1, 0.001, 3600, false),
    };
    if (r.datagrams === 0 && r.records === 0) this.fail(node, path, 'needs datagrams and/or records (per second per exporter)');
    return r;
  }

  private output(node: Node, path: string): OutputConfig | undefined {
    const m = this.entries(node, path, OUTPUT_KEYS);
    const name = this.str(m, 'name', path, node, true);
    // A failover group names its members' URLs instead of one (docs/config.md "Failover groups").
    const delivery = this.delivery(m, path, node, name);
    const url = delivery.failover ? `failover:${delivery.failover.map((x) => x.url).join(',')}` : this.str(m, 'url', path, node, true);
    if (url !== undefined && !delivery.failover) {
      const problem = outputUrlProblem(url);
      if (problem) this.fail(m.get('url'), `${path}.url`, problem);
    }
    const rotateNode = m.get('rotate');
    const rm = rotateNode ? this.entries(rotateNode, `${path}.rotate`, ROTATE_KEYS) : new Map<string, Node | null>();
    const rotate = {
      maxBytes: this.num(rm, 'maxBytes', `${path}.rotate`, 64 << 20, 65536, 2 ** 40),
      interval: this.num(rm, 'interval', `${path}.rotate`, 300, 1, 86400 * 7),
      keep: this.num(rm, 'keep', `${path}.rotate`, 0, 0, 1_000_000),
    };
    const reconnectMin = this.num(m, 'reconnectMin', path, 1, 0.01, 3600, false);
    const reconnectMax = this.num(m, 'reconnectMax', path, 30, 0.01, 3600, false);
    if (reconnectMax < reconnectMin) this.fail(m.get('reconnectMax') ?? node, `${path}.reconnectMax`, `must not be below reconnectMin (${reconnectMin})`);
    const tlsFiles = this.tlsFiles(m, path, node, (url?.startsWith('tls:') || delivery.failover?.some((x) => x.url.startsWith('tls:'))) ?? false, 'url');
    const servername = this.str(m, 'servername', path, node, false);
    const exportTime = this.str(m, 'exportTime', path, node, false);
    if (exportTime !== undefined && exportTime !== 'keep' && exportTime !== 'now') {
      this.fail(m.get('exportTime'), `${path}.exportTime`, `must be keep (the incoming message's Export Time) or now (the time the message is built)${nearest(exportTime, ['keep', 'now']) ? ` — did you mean "${nearest(exportTime, ['keep', 'now'])}"?` : ''}`);
    }
    if (name === undefined || url === undefined) return undefined;
    return {
      ...tlsFiles,
      ...(servername ? { servername } : {}),
      ...(exportTime === 'keep' || exportTime === 'now' ? { exportTime } : {}),
      name,
      url,
      templateRefresh: this.num(m, 'templateRefresh', path, 60, 1, 86400),
      mtu: this.num(m, 'mtu', path, 1500, 576, 65535),
      flushInterval: this.num(m, 'flushInterval', path, 50, 1, 60000),
      reconnectMin,
      reconnectMax,
      queueLimit: this.num(m, 'queueLimit', path, 64 << 20, 0, 2 ** 40),
      rotate,
      ...delivery,
    };
  }

  /** Queue, spool, drain time, failover members and select rules of an output (docs/config.md). */
  private delivery(m: Map<string, Node | null>, path: string, node: Node, name: string | undefined): Pick<OutputConfig, 'queue' | 'spool' | 'drainTimeout' | 'failover' | 'select'> {
    const out: Pick<OutputConfig, 'queue' | 'spool' | 'drainTimeout' | 'failover' | 'select'> = {};
    const fNode = m.get('failover');
    if (fNode !== undefined) {
      if (m.has('url')) this.fail(m.get('url'), `${path}.url`, 'an output has either url or failover (a list of members with their url), not both');
      if (!isSeq(fNode) || fNode.items.length === 0) this.fail(fNode, `${path}.failover`, 'must be a list of members, each with a url (tcp://, tls:// or sctp://)');
      else {
        out.failover = [];
        fNode.items.forEach((item, i) => {
          const mp = `${path}.failover[${i}]`;
          const mm = this.entries(item as Node, mp, ['name', 'url']);
          const u = this.str(mm, 'url', mp, item as Node, true);
          const problem = u === undefined ? undefined : (outputUrlProblem(u) ?? (/^(tcp|tls|sctp):/.test(u) ? undefined : `"${u}": failover members must be reliable (tcp://, tls:// or sctp://): a group moves on when a member's connection dies`));
          if (problem) this.fail(mm.get('url'), `${mp}.url`, problem);
          if (u !== undefined) out.failover!.push({ name: this.str(mm, 'name', mp, item as Node, false) ?? `${name}/${i + 1}`, url: u });
        });
      }
    }
    const url = m.get('url');
    const reliable = out.failover !== undefined || (isScalar(url) && typeof url.value === 'string' && /^(tcp|tls|sctp):/.test(url.value));
    for (const k of ['queue', 'spool', 'drainTimeout']) {
      if (m.has(k) && !reliable) this.fail(m.get(k), `${path}.${k}`, 'applies to reliable outputs only (tcp://, tls://, sctp://, failover groups); UDP and file outputs never wait for a collector');
    }
    const qNode = m.get('queue');
    if (qNode) {
      const qm = this.entries(qNode, `${path}.queue`, ['maxBytes', 'policy']);
      const policy = this.str(qm, 'policy', `${path}.queue`, qNode, false) ?? 'drop-newest';
      if (policy !== 'drop-newest' && policy !== 'drop-oldest') this.fail(qm.get('policy'), `${path}.queue.policy`, 'must be drop-newest or drop-oldest');
      out.queue = { maxBytes: this.num(qm, 'maxBytes', `${path}.queue`, 16 << 20, 1 << 14, 2 ** 40), policy: policy === 'drop-oldest' ? 'drop-oldest' : 'drop-newest' };
    }
    const sNode = m.get('spool');
    if (sNode) {
      const sm = this.entries(sNode, `${path}.spool`, ['dir', 'maxBytes']);
      const dir = this.str(sm, 'dir', `${path}.spool`, sNode, true);
      if (dir) out.spool = { dir: resolve(this.source, '..', dir), maxBytes: this.num(sm, 'maxBytes', `${path}.spool`, 1 << 30, 1 << 20, 2 ** 50) };
    }
    if (m.has('drainTimeout')) out.drainTimeout = this.num(m, 'drainTimeout', path, 2, 0, 3600, false);
    const selNode = m.get('select');
    if (selNode !== undefined) {
      if (!isSeq(selNode) || selNode.items.length === 0) this.fail(selNode, `${path}.select`, `must be a list of rules, each a mapping of ${SELECT_KEYS.join(', ')}`);
      else {
        out.select = selNode.items.map((item, i) => {
          const rp = `${path}.select[${i}]`;
          const rm = this.entries(item as Node, rp, [...SELECT_KEYS]);
          if (rm.size === 0 && isMap(item)) this.fail(item as Node, rp, 'a rule needs at least one condition');
          const values: Record<string, unknown> = {};
          for (const [k, v] of rm) values[k] = v === null ? undefined : (v as { toJSON(): unknown }).toJSON();
          return parseRule(values, (k, msg) => this.fail(rm.get(k), `${rp}.${k}`, msg));
        });
      }
    }
    return out;
  }
}

export interface HostPort {
  scheme: string;
  host: string;
  port: number;
  family: 4 | 6;
}

/** udp://HOST:PORT, tcp://…, tls://…, sctp://… with IPv6 in brackets. */
export function parseHostPortUrl(url: string): HostPort | undefined {
  const m = /^(udp|tcp|tls|sctp):\/\/(\[([0-9a-fA-F:.]+)\]|([^:/\[\]?]+)):(\d{1,5})(\?.*)?$/.exec(url);
  if (!m) return undefined;
  const port = Number(m[5]);
  if (port > 65535) return undefined;
  const host = m[3] ?? m[4]!;
  return { scheme: m[1]!, host, port, family: m[3] ? 6 : 4 };
}

export function parseListenUrl(url: string): HostPort | undefined {
  const hp = parseHostPortUrl(url);
  return hp && (hp.scheme === 'udp' || hp.scheme === 'tcp' || hp.scheme === 'tls' || hp.scheme === 'sctp') ? hp : undefined;
}

function outputUrlProblem(url: string): string | undefined {
  const scheme = /^([a-z]+):/.exec(url)?.[1];
  if (scheme === 'file') return /^file:(\/\/\/.+|[^/].*)$/.test(url) ? undefined : `"${url}" is not a file URL — use file:///absolute/path.ipfix or file:relative/path.ipfix`;
  if (scheme === 'sctp') {
    const r = parseSctpUrl(url, 'output');
    return typeof r === 'string' ? r : undefined;
  }
  if (scheme === 'udp' || scheme === 'tcp' || scheme === 'tls') {
    return parseHostPortUrl(url) ? undefined : `"${url}" must be ${scheme}://HOST:PORT (IPv6: ${scheme}://[ADDR]:PORT)`;
  }
  const near = scheme ? nearest(scheme, ['udp', 'tcp', 'tls', 'sctp', 'file']) : undefined;
  return `unsupported scheme "${scheme ?? url}"${near ? ` — did you mean "${near}://"?` : ''}; use udp://, tcp://, tls://, sctp:// or file://`;
}

/** The closest candidate within edit distance 2 (or a third of the word), if any. */
export function nearest(word: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestD = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) {
      best = c;
      bestD = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}
