// Which decoder a datagram goes to. `protocol: auto` tells the formats apart by their first octets:
// NetFlow v5 and v9 and IPFIX carry a 16-bit version (5, 9, 10); sFlow v5 starts with a 32-bit version 5
// (00 00 00 05), which no NetFlow header can (its version would read 0).

import type { ProtocolSetting } from '../config/types.js';
import type { InputProtocol } from './session.js';
import { DropReason, type DropReasonValue } from '../observe/metrics.js';

export type Dispatch = InputProtocol | { reason: DropReasonValue; message: string };

const BY_VERSION: Record<number, InputProtocol> = { 5: 'netflow5', 9: 'netflow9', 10: 'ipfix' };

export function dispatch(datagram: Buffer, setting: ProtocolSetting): Dispatch {
  if (datagram.length < 4) return { reason: DropReason.truncated, message: `datagram of ${datagram.length} octets has no version field` };
  const version16 = datagram.readUInt16BE(0);
  let protocol: InputProtocol | undefined = BY_VERSION[version16];
  if (version16 === 0 && datagram.readUInt32BE(0) === 5) protocol = 'sflow';
  if (setting !== 'auto' && protocol !== setting) {
    return protocol
      ? { reason: DropReason.protocolMismatch, message: `a ${protocol} datagram on an input set to ${setting}` }
      : { reason: DropReason.badVersion, message: `version ${version16} is not ${setting}` };
  }
  if (!protocol) return { reason: DropReason.badVersion, message: `unknown version ${version16} (expected NetFlow v5 or v9, IPFIX, or sFlow v5)` };
  return protocol;
}
