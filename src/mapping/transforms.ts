// The value transforms a mapping table can name. Each is a small pure function of numbers so a compiled
// plan can call (or inline) it per record without allocating.
//
//   uptime-to-epoch-ms  a NetFlow time in milliseconds of sysUptime (FIRST/LAST_SWITCHED, v5 First/Last)
//                       → dateTimeMilliseconds (epoch milliseconds), 8 octets.
//   mask/shift          (an integer of up to 4 octets & mask) >>> shift, e.g. the v5 header's sampling bits.

export const TRANSFORMS = ['uptime-to-epoch-ms'] as const;
export type TransformName = (typeof TRANSFORMS)[number];

const TWO32 = 4294967296;

/**
 * Epoch milliseconds of a 32-bit sysUptime-relative time `t`, given the export time of the packet (epoch ms)
 * and the sysUptime in its header. The age (sysUptime − t) is taken modulo 2^32 as a signed 32-bit number:
 * a flow that started before sysUptime wrapped (t near 2^32, sysUptime small) gets a small positive age, and
 * a time a few milliseconds after the header's sysUptime (exporter clock skew) a small negative one.
 */
export function uptimeToEpochMs(exportMs: number, sysUptime: number, t: number): number {
  return exportMs - ((sysUptime - t) | 0);
}

/** Epoch milliseconds 2000-01-01 and 2100-01-01: the range an 8-octet absolute time is believed in. */
const EPOCH_MS_MIN = 946684800000;
const EPOCH_MS_MAX = 4102444800000;

/**
 * An 8-octet FIRST/LAST_SWITCHED given as its two 32-bit halves. In practice (Cisco NX-OS, nfdump issues
 * #80 and #147) it is the usual 32-bit sysUptime value widened to 8 octets, with the zero half either
 * before or after it. A value that is neither but falls in 2000..2100 as epoch milliseconds is taken as
 * an absolute time; anything else uses the low half as the uptime. See docs/netflow.md.
 */
export function uptime64ToEpochMs(exportMs: number, sysUptime: number, hi: number, lo: number): number {
  if (hi === 0) return uptimeToEpochMs(exportMs, sysUptime, lo);
  if (lo === 0) return uptimeToEpochMs(exportMs, sysUptime, hi);
  const v = hi * TWO32 + lo;
  if (v >= EPOCH_MS_MIN && v < EPOCH_MS_MAX) return v;
  return uptimeToEpochMs(exportMs, sysUptime, lo);
}
