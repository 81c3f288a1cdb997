// Exporter session (DESIGN.md "State is owned by exactly one place"): one per (input, exporter address,
// exporter port, observation domain / source id). The Collecting Process owns it; downstream stages only
// read its identity.

export type InputProtocol = 'netflow5' | 'netflow9' | 'ipfix' | 'sflow';

export interface ExporterSession {
  /** Process-wide unique identity (never reused), the key downstream state uses. */
  readonly uid: number;
  /** Name of the input (config `inputs[].name`). */
  readonly input: string;
  readonly protocol: InputProtocol;
  /** Exporter address as text ("192.0.2.1", "2001:db8::1"). */
  readonly address: string;
  /** Exporter address in network order: 4 octets (IPv4) or 16 (IPv6), for originalExporterIPv4/IPv6Address. */
  readonly addressBytes: Buffer;
  readonly port: number;
  /** Incoming Observation Domain ID (IPFIX), Source ID (v9), engine type<<8|engine id (v5). */
  readonly observationDomainId: number;
}

let nextSessionUid = 1;

export function makeExporterSession(
  input: string,
  protocol: InputProtocol,
  address: string,
  port: number,
  observationDomainId: number,
): ExporterSession {
  return Object.freeze({
    uid: nextSessionUid++,
    input,
    protocol,
    address,
    addressBytes: addressToBytes(address),
    port,
    observationDomainId,
  });
}

/** "192.0.2.1" → 4 octets, IPv6 text (incl. "::ffff:a.b.c.d" mapped, which becomes IPv4) → 16 octets. */
export function addressToBytes(address: string): Buffer {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  const a = mapped ? mapped[1]! : address;
  if (a.includes('.') && !a.includes(':')) {
    const parts = a.split('.').map((p) => Number(p));
    return Buffer.from(parts);
  }
  const out = Buffer.alloc(16);
  const [head, tail] = a.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  h.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16) || 0, i * 2));
  t.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16) || 0, 16 - (t.length - i) * 2));
  return out;
}
