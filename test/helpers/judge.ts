// The verdict of the external judges on IPFIX the gateway produced, in one call: ipfixDump reads
// the file(s); tshark reads the same messages wrapped into a capture (UDP datagrams, or one TCP
// stream when a message is too big for a datagram), reports malformed/warning frames and decodes
// every record for the field comparison.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ipfixMessages } from './gateway.js';
import { ipfixDump, sequenceBreaks, type IpfixDumpResult } from './ipfixdump.js';
import { MAX_UDP_PAYLOAD, writePcapOfTcpStream, writePcapOfUdp } from './pcap-writer.js';
import { tsharkJson, tsharkMalformed, type MalformedReport, type TsharkRecord } from './tshark.js';

/** Port the wrapped output is addressed to: tshark's IPFIX port, no decode-as needed. */
const IPFIX_PORT = 4739;

export interface Verdict {
  /** ipfixDump on each file (for UDP output: on the datagrams concatenated into one file). */
  dumps: { file: string; result: IpfixDumpResult; sequenceBreaks: string[] }[];
  /** tshark on the wrapped capture. */
  malformed: MalformedReport;
  /** tshark's decode of every data record of the output. */
  records: TsharkRecord[];
  messages: number;
  /** The capture made of the output (kept in the work dir for a failing test's author). */
  pcap: string;
  /** All problems in one list: empty means every judge accepted the output. */
  problems: string[];
}

async function verdict(files: string[], messages: Buffer[], workDir: string, tag: string): Promise<Verdict> {
  const dumps = [];
  for (const file of files) {
    const result = await ipfixDump(file);
    dumps.push({ file, result, sequenceBreaks: sequenceBreaks(result.messages) });
  }
  const pcap = join(workDir, `${tag}.pcap`);
  if (messages.every((m) => m.length <= MAX_UDP_PAYLOAD)) writePcapOfUdp(messages, pcap, IPFIX_PORT);
  else writePcapOfTcpStream(Buffer.concat(messages), pcap, IPFIX_PORT);
  const malformed = await tsharkMalformed(pcap);
  const records = await tsharkJson(pcap);
  const problems: string[] = [];
  for (const d of dumps) {
    for (const e of d.result.errors) problems.push(`ipfixDump ${d.file}: ${e}`);
    for (const b of d.sequenceBreaks) problems.push(`ipfixDump ${d.file}: ${b}`);
  }
  for (const f of malformed.frames) problems.push(`tshark ${pcap} frame ${f}`);
  if (messages.length === 0) problems.push('the output holds no IPFIX message');
  return { dumps, malformed, records, messages: messages.length, pcap, problems };
}

/** Judge the files a file:// output wrote. */
export function judgeIpfixFiles(files: string[], workDir: string, tag = 'file-output'): Promise<Verdict> {
  const messages = files.flatMap((f) => ipfixMessages(readFileSync(f)));
  return verdict(files, messages, workDir, tag);
}

/** Judge IPFIX messages received over UDP (one message per datagram). */
export function judgeIpfixDatagrams(datagrams: Buffer[], workDir: string, tag = 'udp-output'): Promise<Verdict> {
  const file = join(workDir, `${tag}.ipfix`);
  writeFileSync(file, Buffer.concat(datagrams));
  return verdict([file], datagrams, workDir, tag);
}

/**
 * What the judges already say about the exporter's own input: tshark's expert items on the input capture
 * and, for IPFIX input, ipfixDump's template warnings on its messages. A gateway that relays fields
 * unchanged relays their oddities too (a 4-octet forwardingStatus, a truncated frame inside
 * dataLinkFrameSection); those are the exporter's, not the gateway's, and are not held against the output.
 * Sequence-number warnings are never taken from the input: the gateway numbers its own messages.
 */
export async function inputBaseline(pcap: string, workDir: string, opts: TsharkOptions = {}): Promise<Set<string>> {
  const seen = new Set<string>();
  for (const f of (await tsharkMalformed(pcap, opts)).frames) for (const m of expertItems(f)) seen.add(m);
  const { udpPayloads } = await import('../../src/util/pcap.js');
  const ipfix = udpPayloads(pcap).map((p) => p.payload).filter((p) => p.length >= 16 && p.readUInt16BE(0) === 10);
  if (ipfix.length) {
    const file = join(workDir, 'input-baseline.ipfix');
    writeFileSync(file, Buffer.concat(ipfix));
    for (const e of (await ipfixDump(file)).errors) if (!/out of sequence/.test(e)) seen.add(normalizeDumpLine(e));
  }
  return seen;
}

/** Problems of a verdict that the input baseline does not explain. */
export function beyondInput(problems: string[], baseline: Set<string>): string[] {
  const out: string[] = [];
  for (const p of problems) {
    const tshark = /^tshark \S+ frame (.*)$/.exec(p);
    if (tshark) {
      const own = expertItems(tshark[1]!).filter((m) => !baseline.has(m));
      if (own.length) out.push(`${p.slice(0, p.indexOf(' frame ') + 7)}${own.join(',')}`);
      continue;
    }
    const dump = /^ipfixDump \S+: (.*)$/.exec(p);
    if (dump && baseline.has(normalizeDumpLine(dump[1]!))) continue;
    out.push(p);
  }
  return out;
}

/** "12: a,b" → ["a", "b"] (tsharkMalformed's per-frame format). */
function expertItems(frame: string): string[] {
  const i = frame.indexOf(': ');
  return (i >= 0 ? frame.slice(i + 2) : frame).split(',').map((s) => s.trim()).filter(Boolean);
}

/** An ipfixDump stderr line without its timestamp and process id. */
function normalizeDumpLine(line: string): string {
  return line.replace(/\(ipfixDump:\d+\)/, '').replace(/\d\d:\d\d:\d\d\.\d+/, '').replace(/\s+/g, ' ').trim();
}
