// Information Element model (RFC 7012 §3): abstract data types and semantics, and the registry interface.
// The registry itself is loaded from mappings/ (src/model/registry.ts).

export type DataType =
  | 'octetArray' | 'unsigned8' | 'unsigned16' | 'unsigned32' | 'unsigned64'
  | 'signed8' | 'signed16' | 'signed32' | 'signed64' | 'float32' | 'float64' | 'boolean'
  | 'macAddress' | 'string' | 'dateTimeSeconds' | 'dateTimeMilliseconds' | 'dateTimeMicroseconds'
  | 'dateTimeNanoseconds' | 'ipv4Address' | 'ipv6Address' | 'basicList' | 'subTemplateList'
  | 'subTemplateMultiList';

export interface InformationElement {
  readonly id: number;
  /** Private Enterprise Number; 0 for IANA. */
  readonly enterprise: number;
  readonly name: string;
  readonly dataType: DataType;
  readonly semantics?: string;
  readonly units?: string;
  readonly status?: string;
}

export interface Registry {
  get(enterprise: number, id: number): InformationElement | undefined;
  byName(name: string): InformationElement | undefined;
  /** Every element, IANA first. */
  all(): Iterable<InformationElement>;
}
