// Which decoder a datagram goes to. `protocol: auto` tells the formats apart by their first octets:
// NetFlow v5 and v9 and IPFIX carry a 16-bit version (5, 9, 10); sFlow v5 starts with a 32-bit version 5
// (00 00 00 05), which no NetFlow header can (its version would read 0).

import type { ProtocolSetting } from '../config/types.js';
import type { InputProtocol } from './session.js';
import { DropReason, type DropReasonValue } from '../observe/metrics.js';

export type Dispatch = InputProtocol | { reason: DropReasonValue; message: string };

const BY_VERSION: Record<number, InputProtocol> = { 5: 'netflow5', 9: 'netflow9', 10: 'ipfix' };

/** The decoder of the datagram bytes[start, end). */
export function dispatch(bytes: Buffer, start: number, end: number, setting: ProtocolSetting): Dispatch {
  if (end - start < 4) return { reason: DropReason.truncated, message: `datagram of ${end - start} octets has no version field` };
  const version16 = (bytes[start]! << 8) | bytes[start + 1]!;
  let protocol: InputProtocol | undefined = BY_VERSION[version16];
  if (version16 === 0 && bytes[start + 2] === 0 && bytes[start + 3] === 5) protocol = 'sflow';
  if (setting !== 'auto' && protocol !== setting) {
    return protocol
      ? { reason: DropReason.protocolMismatch, message: `a ${protocol} datagram on an input set to ${setting}` }
      : { reason: DropReason.badVersion, message: `version ${version16} is not ${setting}` };
  }
  if (!protocol) return { reason: DropReason.badVersion, message: `unknown version ${version16} (expected NetFlow v5 or v9, IPFIX, or sFlow v5)` };
  return protocol;
}
