// Which field lengths are valid IPFIX encodings of an abstract data type (RFC 7011 §6.1, §6.2 reduced-size
// encoding, §7 variable length). A legacy field that does not fit the type of the IE it would become is
// kept under a private enterprise number instead, so the output is never invalid IPFIX.

import { VARLEN } from '../ipfix/constants.js';
import type { DataType } from '../model/types.js';

/** Largest fixed length of each type; reduced-size encoding (§6.2) allows 1..max for integers. */
function integerWidth(t: DataType): number {
  switch (t) {
    case 'unsigned8':
    case 'signed8':
      return 1;
    case 'unsigned16':
    case 'signed16':
      return 2;
    case 'unsigned32':
    case 'signed32':
      return 4;
    case 'unsigned64':
    case 'signed64':
      return 8;
    default:
      return 0;
  }
}

/** True when `length` octets (or VARLEN) is a valid encoding of a value of type `t`. */
export function lengthFits(t: DataType, length: number): boolean {
  if (length === 0) return false;
  const w = integerWidth(t);
  if (w > 0) return length !== VARLEN && length <= w;
  switch (t) {
    case 'float32':
      return length === 4;
    case 'float64':
      return length === 4 || length === 8; // §6.2: float64 may be sent as float32
    case 'boolean':
      return length === 1;
    case 'macAddress':
      return length === 6;
    case 'ipv4Address':
    case 'dateTimeSeconds':
      return length === 4;
    case 'ipv6Address':
      return length === 16;
    case 'dateTimeMilliseconds':
    case 'dateTimeMicroseconds':
    case 'dateTimeNanoseconds':
      return length === 8;
    case 'string':
    case 'octetArray':
    case 'basicList':
    case 'subTemplateList':
    case 'subTemplateMultiList':
      return true;
    default:
      return false;
  }
}

/** Widest fixed length of an integer type, 0 for other types. */
export function integerLength(t: DataType): number {
  return integerWidth(t);
}

