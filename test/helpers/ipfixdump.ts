// ipfixDump (libfixbuf-tools) as a judge of IPFIX files: the strictest reader we have (message and
// set lengths, set ids, IE lengths against types). It exits 0 even when it gives up, so the verdict is
// read from its stderr and from whether it reached every message of the file.

import { readFileSync } from 'node:fs';
import { run, toolPath } from './tools.js';

export interface IpfixDumpField {
  /** Private enterprise number, 0 for IANA elements. */
  pen: number;
  id: number;
  /** ipfixDump's name for the element ("_alienInformationElement" for enterprise IEs it does not know). */
  name: string;
  scope: boolean;
  /** The value as ipfixDump prints it (numbers in decimal, addresses as text, times as "YYYY-MM-DD hh:mm:ss.fff"). */
  value: string;
}

export interface IpfixDumpRecord {
  /** Index of the message (0-based, file order) the record came from. */
  message: number;
  templateId: number;
  fields: IpfixDumpField[];
}

export interface IpfixDumpMessage {
  exportTime: string;
  observationDomainId: number;
  length: number;
  sequenceNumber: number;
  /** "Msg Stats" line: data records ipfixDump decoded in this message. */
  dataRecords: number;
  templateRecords: number;
}

export interface IpfixDumpResult {
  /** No complaint on stderr, every message of the file reached, and the file ends on a message boundary. */
  ok: boolean;
  records: IpfixDumpRecord[];
  messages: IpfixDumpMessage[];
  /** stderr lines plus the consistency problems found (messages not reached, trailing bytes). */
  errors: string[];
  /** From "*** File Stats: M Messages, D Data Records, T Template Records ***". */
  stats: { messages: number; dataRecords: number; templateRecords: number } | null;
  stdout: string;
}

/**
 * Count the IPFIX messages of a file by their header length fields only, so a file ipfixDump stops
 * reading early (it does so silently on some errors) is caught.
 */
export function walkIpfixMessages(file: Buffer): { count: number; trailing: number } {
  let off = 0;
  let count = 0;
  while (off + 16 <= file.length) {
    const version = file.readUInt16BE(off);
    const length = file.readUInt16BE(off + 2);
    if (version !== 10 || length < 16 || off + length > file.length) break;
    off += length;
    count++;
  }
  return { count, trailing: file.length - off };
}

const FIELD_LINE = /^\t\((?:(\d+)\/)?(\d+)\)( \(S\))?\s+(\S*)\s*:(?: (.*))?$/;
const RECORD_HEADER = /^\tcount:\s+(\d+)\s+tid:\s+(\d+)/;
const EXPORT_LINE = /^export time: (.+?)\tobservation domain id: (\d+)/;
const LENGTH_LINE = /^message length: (\d+)\s+sequence number: (\d+)/;
const MSG_STATS = /^\*\*\* Msg Stats: (.*) \*\*\*/;
const FILE_STATS = /^\*\*\* File Stats: (\d+) Messages, (\d+) Data Records, (\d+) Template Records \*\*\*/;

/** Parse ipfixDump's default output (without --stats). */
export function parseIpfixDump(stdout: string): Pick<IpfixDumpResult, 'records' | 'messages' | 'stats'> {
  const records: IpfixDumpRecord[] = [];
  const messages: IpfixDumpMessage[] = [];
  let stats: IpfixDumpResult['stats'] = null;
  let current: IpfixDumpRecord | null = null;
  let inData = false;
  for (const line of stdout.split('\n')) {
    if (line.startsWith('--- Message Header ---')) {
      messages.push({ exportTime: '', observationDomainId: 0, length: 0, sequenceNumber: 0, dataRecords: 0, templateRecords: 0 });
      inData = false;
      current = null;
      continue;
    }
    const msg = messages[messages.length - 1];
    let m: RegExpMatchArray | null;
    if (line.startsWith('--- data record')) {
      inData = true;
      current = null;
    } else if (line.startsWith('--- ')) {
      inData = false; // template / options template record
      current = null;
    } else if ((m = line.match(EXPORT_LINE)) && msg) {
      msg.exportTime = m[1]!;
      msg.observationDomainId = Number(m[2]);
    } else if ((m = line.match(LENGTH_LINE)) && msg) {
      msg.length = Number(m[1]);
      msg.sequenceNumber = Number(m[2]);
    } else if ((m = line.match(RECORD_HEADER)) && inData) {
      current = { message: messages.length - 1, templateId: Number(m[2]), fields: [] };
      records.push(current);
    } else if ((m = line.match(FIELD_LINE)) && current) {
      current.fields.push({ pen: Number(m[1] ?? 0), id: Number(m[2]), scope: m[3] !== undefined, name: m[4]!, value: m[5] ?? '' });
    } else if ((m = line.match(MSG_STATS)) && msg) {
      const d = m[1]!.match(/(\d+) Data Records/);
      const t = m[1]!.match(/(\d+) Template Records/);
      if (d) msg.dataRecords = Number(d[1]);
      if (t) msg.templateRecords = Number(t[1]);
    } else if ((m = line.match(FILE_STATS))) {
      stats = { messages: Number(m[1]), dataRecords: Number(m[2]), templateRecords: Number(m[3]) };
    }
  }
  return { records, messages, stats };
}

/** Run `ipfixDump --in FILE` and judge the file. */
export async function ipfixDump(file: string, timeoutMs = 60_000): Promise<IpfixDumpResult> {
  const bin = toolPath('ipfixDump');
  if (!bin) throw new Error('ipfixDump is not installed (Debian: libfixbuf-tools)');
  const r = await run(bin, ['--in', file], { timeoutMs });
  const parsed = parseIpfixDump(r.stdout);
  const errors = r.stderr.split('\n').map((l) => l.trim()).filter((l) => l.length > 0);
  if (r.timedOut) errors.push(`ipfixDump timed out after ${timeoutMs} ms`);
  else if (r.code !== 0) errors.push(`ipfixDump exited with ${r.code ?? r.signal}`);
  const walk = walkIpfixMessages(readFileSync(file));
  if (walk.trailing !== 0) errors.push(`${walk.trailing} octets after the last whole IPFIX message`);
  if (parsed.messages.length !== walk.count) {
    errors.push(`ipfixDump read ${parsed.messages.length} of the file's ${walk.count} messages`);
  }
  if (!parsed.stats) errors.push('ipfixDump printed no File Stats line');
  else if (parsed.stats.dataRecords !== parsed.records.length) {
    errors.push(`File Stats say ${parsed.stats.dataRecords} data records, ${parsed.records.length} were printed`);
  }
  return { ok: errors.length === 0, errors, stdout: r.stdout, ...parsed };
}

/**
 * RFC 7011 §3.1: per Observation Domain, a message's sequence number is the count of data records
 * sent before it in that domain. Checked from ipfixDump's per-message record counts; returns one
 * line per break (empty when the stream is consistent). `first` is each domain's first sequence
 * number; it is taken as given.
 */
export function sequenceBreaks(messages: readonly IpfixDumpMessage[]): string[] {
  const expected = new Map<number, number>();
  const breaks: string[] = [];
  messages.forEach((m, i) => {
    const want = expected.get(m.observationDomainId);
    if (want !== undefined && want !== m.sequenceNumber) {
      breaks.push(`message ${i} (ODID ${m.observationDomainId}): sequence ${m.sequenceNumber}, expected ${want}`);
    }
    expected.set(m.observationDomainId, (m.sequenceNumber + m.dataRecords) >>> 0);
  });
  return breaks;
}
