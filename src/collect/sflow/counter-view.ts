// The counter view: one sFlow counter sample as a fixed scratch record, like the flow view (view.ts).
// The two interface counter structures sFlow defines in its base specification are copied in as they
// arrive (their XDR layout is already fixed-size, big-endian), so the field offsets are those of the
// structures themselves after a few sample-level fields.

/** Fact groups of a counter sample. */
export const CounterGroup = {
  /** The counter sample itself: sequence number, data source, observation time, agent uptime. */
  sample: 1 << 0,
  /** Generic interface counters (counter record enterprise 0, format 1). */
  genericInterface: 1 << 1,
  /** Ethernet interface counters (enterprise 0, format 2). */
  ethernetInterface: 1 << 2,
} as const;

export type CounterGroupName = keyof typeof CounterGroup;

/** Octets of the generic interface counters structure (if_counters) and of ethernet_counters. */
export const GENERIC_INTERFACE_LENGTH = 88;
export const ETHERNET_INTERFACE_LENGTH = 52;

const FIXED: ReadonlyArray<readonly [string, number, CounterGroupName]> = [
  ['sampleSequence', 4, 'sample'],
  ['sourceIdType', 1, 'sample'],
  ['sourceIdIndex', 4, 'sample'],
  ['observationTimeMs', 8, 'sample'],
  ['agentUptimeMs', 4, 'sample'],
  // if_counters, in structure order (88 octets)
  ['ifIndex', 4, 'genericInterface'],
  ['ifType', 4, 'genericInterface'],
  ['ifSpeed', 8, 'genericInterface'],
  ['ifDirection', 4, 'genericInterface'],
  ['ifStatus', 4, 'genericInterface'],
  ['ifInOctets', 8, 'genericInterface'],
  ['ifInUcastPkts', 4, 'genericInterface'],
  ['ifInMulticastPkts', 4, 'genericInterface'],
  ['ifInBroadcastPkts', 4, 'genericInterface'],
  ['ifInDiscards', 4, 'genericInterface'],
  ['ifInErrors', 4, 'genericInterface'],
  ['ifInUnknownProtos', 4, 'genericInterface'],
  ['ifOutOctets', 8, 'genericInterface'],
  ['ifOutUcastPkts', 4, 'genericInterface'],
  ['ifOutMulticastPkts', 4, 'genericInterface'],
  ['ifOutBroadcastPkts', 4, 'genericInterface'],
  ['ifOutDiscards', 4, 'genericInterface'],
  ['ifOutErrors', 4, 'genericInterface'],
  ['ifPromiscuousMode', 4, 'genericInterface'],
  // ethernet_counters, in structure order (52 octets)
  ['dot3StatsAlignmentErrors', 4, 'ethernetInterface'],
  ['dot3StatsFCSErrors', 4, 'ethernetInterface'],
  ['dot3StatsSingleCollisionFrames', 4, 'ethernetInterface'],
  ['dot3StatsMultipleCollisionFrames', 4, 'ethernetInterface'],
  ['dot3StatsSQETestErrors', 4, 'ethernetInterface'],
  ['dot3StatsDeferredTransmissions', 4, 'ethernetInterface'],
  ['dot3StatsLateCollisions', 4, 'ethernetInterface'],
  ['dot3StatsExcessiveCollisions', 4, 'ethernetInterface'],
  ['dot3StatsInternalMacTransmitErrors', 4, 'ethernetInterface'],
  ['dot3StatsCarrierSenseErrors', 4, 'ethernetInterface'],
  ['dot3StatsFrameTooLongs', 4, 'ethernetInterface'],
  ['dot3StatsInternalMacReceiveErrors', 4, 'ethernetInterface'],
  ['dot3StatsSymbolErrors', 4, 'ethernetInterface'],
];

export interface CounterField {
  readonly name: string;
  readonly offset: number;
  readonly length: number;
  readonly group: CounterGroupName;
}

export const COUNTER_FIELDS: ReadonlyMap<string, CounterField> = (() => {
  const m = new Map<string, CounterField>();
  let at = 0;
  for (const [name, length, group] of FIXED) {
    m.set(name, Object.freeze({ name, offset: at, length, group }));
    at += length;
  }
  return m;
})();

export const COUNTER_VIEW_LENGTH = [...COUNTER_FIELDS.values()].reduce((n, f) => n + f.length, 0);

/** Where each structure starts in the view (it is copied there whole). */
export const GENERIC_INTERFACE_AT = COUNTER_FIELDS.get('ifIndex')!.offset;
export const ETHERNET_INTERFACE_AT = COUNTER_FIELDS.get('dot3StatsAlignmentErrors')!.offset;
