// Prometheus metrics (prefix ipfix_mediator_). One registry per process; every layer counts beside itself.
// Every drop carries a reason label (DESIGN.md "Nothing received is silently lost").

import client from 'prom-client';

export const registry = new client.Registry();

const P = 'ipfix_mediator_';

/**
 * Hot paths may sum counts in plain numbers and hand them over in a flush registered here: it runs before
 * every read of the registry (scrape, getMetricsAsJSON), so what is read is exact.
 */
const scrapeFlushes = new Set<() => void>();
export function onScrape(flush: () => void): () => void {
  scrapeFlushes.add(flush);
  return () => void scrapeFlushes.delete(flush);
}
function flushBeforeScrape(): void {
  for (const f of scrapeFlushes) f();
}

/** A registry read as JSON: what a worker thread sends for the main thread's scrape. */
export type MetricsJson = Awaited<ReturnType<client.Registry['getMetricsAsJSON']>>;

/**
 * prom-client registries are per thread: worker threads (src/pipeline/) count in their own. A source added
 * here yields those registries' JSON on every scrape, and metricsText() sums them with this one (counters and
 * gauges with the same labels add up).
 */
const threadSources = new Set<() => Promise<MetricsJson[]>>();
export function addThreadMetrics(source: () => Promise<MetricsJson[]>): () => void {
  threadSources.add(source);
  return () => void threadSources.delete(source);
}

/** The Prometheus text of this registry plus every worker thread's. */
export async function metricsText(): Promise<string> {
  if (threadSources.size === 0) return registry.metrics();
  const parts: MetricsJson[] = [await registry.getMetricsAsJSON()];
  for (const more of await Promise.all([...threadSources].map((f) => f()))) parts.push(...more);
  return client.AggregatorRegistry.aggregate(parts).metrics();
}

function counter(name: string, help: string, labelNames: string[], collect?: () => void) {
  return new client.Counter({ name: P + name, help, labelNames, registers: [registry], ...(collect ? { collect } : {}) });
}
function gauge(name: string, help: string, labelNames: string[]) {
  return new client.Gauge({ name: P + name, help, labelNames, registers: [registry] });
}

// Collecting Processes
export const packetsReceived = counter('packets_received_total', 'Datagrams (or stream messages) received, per input and protocol', ['input', 'protocol'], flushBeforeScrape);
export const bytesReceived = counter('bytes_received_total', 'Octets received per input', ['input'], flushBeforeScrape);
export const recordsReceived = counter('records_received_total', 'Data records decoded per input and protocol', ['input', 'protocol'], flushBeforeScrape);
export const packetsDropped = counter('packets_dropped_total', 'Datagrams dropped whole, per input and reason', ['input', 'reason']);
export const udpReceiveErrors = counter('udp_receive_errors_total', 'Failed receives on a UDP input socket (recvmmsg(2) or its poll, other than nothing waiting), per input and error code', ['input', 'code']);
export const recordsDropped = counter('records_dropped_total', 'Records dropped, per stage (input or output name) and reason', ['stage', 'reason']);
export const templatesReceived = counter('templates_received_total', 'Template records received per input (incl. redefinitions)', ['input']);
export const templatesActive = gauge('templates', 'Templates currently known, per input', ['input']);
export const sessionsActive = gauge('exporter_sessions', 'Exporter sessions currently alive, per input', ['input']);
export const sessionsEnded = counter('exporter_sessions_ended_total', 'Exporter sessions ended, per input and reason', ['input', 'reason']);
export const pendingRecords = gauge('pending_sets', 'Data sets held while waiting for their template, per input', ['input']);
export const sflowSkipped = counter('sflow_skipped_total', 'sFlow parts skipped by their length without an IPFIX record: unknown sample/record formats, unsupported header protocols, counter samples without interface counters; per input', ['input', 'what'], flushBeforeScrape);
export const sflowDatagramsLost = counter('sflow_datagrams_lost_total', 'sFlow datagrams missing from agents\' sequence numbers (lost before reaching the gateway), per input', ['input'], flushBeforeScrape);
export const connectionsActive = gauge('input_connections', 'Open TCP/TLS connections (and SCTP associations): Transport Sessions from exporters, per input', ['input']);
export const connectionsAccepted = counter('input_connections_accepted_total', 'TCP/TLS connections (and SCTP associations) accepted from exporters, per input', ['input']);
export const connectionsRefused = counter('input_connections_refused_total', 'Exporter connections refused or closed by the gateway, per input and reason (not_allowed, tls_handshake, not_ipfix)', ['input', 'reason']);
export const workerThreadExits = counter('worker_thread_exits_total', 'Worker threads of an input that ended without being asked to (each replaced by a new one), per input', ['input']);
export const packetsTrailingOctets = counter('packets_trailing_octets_total', 'Datagrams longer than their header announces: decoded, extra octets ignored; per input and protocol', ['input', 'protocol']);

// Exporting Processes
export const messagesSent = counter('messages_sent_total', 'IPFIX messages sent per output', ['output'], flushBeforeScrape);
export const bytesSent = counter('bytes_sent_total', 'Octets sent per output', ['output'], flushBeforeScrape);
export const recordsSent = counter('records_sent_total', 'Data records sent per output', ['output'], flushBeforeScrape);
export const templatesSent = counter('templates_sent_total', 'Template records sent per output', ['output']);
export const withdrawalsSent = counter('template_withdrawals_sent_total', 'Template withdrawals sent per output', ['output']);
export const transportUp = gauge('transport_up', '1 when the output transport is connected/open', ['output']);
export const reconnects = counter('reconnects_total', 'Transport (re)connect attempts per output', ['output']);
export const queueDepth = gauge('queue_bytes', 'Bytes waiting in the output queue', ['output']);
export const filesWritten = counter('files_written_total', 'IPFIX files closed (rotated) per output', ['output']);
// Output queues, spools and failover groups (docs/export.md "Queue and spool")
export const queueMemoryBytes = gauge('output_queue_memory_bytes', 'Octets of messages waiting in the output queue in memory', ['output']);
export const queueMessages = gauge('output_queue_messages', 'Messages waiting in the output queue (memory and spool)', ['output']);
export const spoolBytes = gauge('spool_bytes', 'Octets of messages waiting in the output spool on disk', ['output']);
export const recordsQueued = counter('records_queued_total', 'Data records that waited in the output queue (transport down or busy)', ['output']);
export const recordsSpooled = counter('records_spooled_total', 'Data records written to the output spool on disk', ['output']);
export const recordsReplayed = counter('records_replayed_total', 'Data records sent from the output queue or spool after waiting', ['output']);
export const failoverActive = gauge('failover_active_member', 'Index (from 0) of the failover member sending, -1 when none is up', ['output']);
export const failoverSwitches = counter('failover_switches_total', 'Times a failover group moved to another member', ['output']);
export const recordsUnselected = counter('records_unselected_total', 'Data records an output\'s select rules passed over', ['output'], flushBeforeScrape);
export const sctpAbandoned = counter('sctp_abandoned_messages_total', 'IPFIX messages of Data Sets only that SCTP gave up after their PR-SCTP lifetime (RFC 3758 ttl), per output', ['output']);
export const sctpLostAtRestart = counter('sctp_messages_lost_at_restart_total', 'IPFIX messages in flight to a collector when its SCTP stack restarted (RFC 9260 §5.2.2), never acknowledged and not replayed, per output', ['output']);
export const sctpRetransmissions = counter('sctp_retransmissions_total', 'DATA chunks SCTP sent again (T3-rtx and fast retransmit), per output', ['output']);
export const sctpRto = gauge('sctp_rto_milliseconds', 'Current SCTP retransmission timeout of the output\'s association (RFC 9260 §6.3)', ['output']);
export const sctpCwnd = gauge('sctp_cwnd_bytes', 'Current SCTP congestion window of the output\'s association (RFC 9260 §7.2)', ['output']);

export const outputTemplates = gauge('output_templates', 'Templates an output currently has defined for its collector: derived from incoming ones plus one RFC 7119 options template per outgoing domain', ['output']);
export const outputDomains = gauge('output_domains', 'Outgoing Observation Domains (ODIDs) an output currently maps, one per exporter with a live session', ['output']);

// Operations
export const configReloads = counter('config_reloads_total', 'Configuration reloads (SIGHUP) by result: ok (applied), partial (applied, but an input or output could not start: see the log), rejected (invalid; the running configuration stays)', ['result']);

/** Gauges labelled by output: an output removed by a reload takes its series with it. */
const OUTPUT_GAUGES = [transportUp, queueDepth, queueMemoryBytes, queueMessages, spoolBytes, failoverActive, sctpRto, sctpCwnd, outputTemplates, outputDomains];
export function forgetOutput(output: string): void {
  for (const g of OUTPUT_GAUGES) g.remove({ output });
}

/** Drop reasons used across the project, in one place so dashboards can list them. */
export const DropReason = {
  truncated: 'truncated',
  badLength: 'bad_length',
  badVersion: 'unknown_version',
  badSetId: 'bad_set_id',
  badTemplate: 'bad_template',
  noTemplate: 'no_template',
  protocolMismatch: 'protocol_mismatch',
  withdrawalOverUdp: 'withdrawal_over_udp',
  pendingOverflow: 'pending_overflow',
  queueFull: 'queue_full',
  transportDown: 'transport_down',
  recordTooLarge: 'record_too_large',
  decoderError: 'decoder_error',
  /** A structure whose lengths or types contradict each other (e.g. an sFlow sample too short for its format). */
  malformed: 'malformed',
  /** The output spool on disk is full and its policy dropped these records (docs/export.md). */
  spoolFull: 'spool_full',
  /** Still waiting in an output queue when the gateway stopped (drain timeout). */
  unsentAtShutdown: 'unsent_at_shutdown',
  /** Sent on an SCTP association that went down before the collector acknowledged them, and not replayable. */
  associationLost: 'association_lost',
  /** A source outside the input's allow list (RFC 6183 §9). */
  notAllowed: 'not_allowed',
  /** An exporter above the input's rate limit. */
  rateLimited: 'rate_limited',
  /** Datagrams a worker thread held undecoded (or decoded, events not sent back) when it died (src/pipeline/). */
  workerExited: 'worker_exited',
  /** Records that arrived while a reload restarted their output, beyond what the reload may hold (64 MiB). */
  reloadHoldFull: 'reload_hold_full',
  /** Datagrams the main thread could not hand to their worker thread: it had too many batches in flight (src/pipeline/). */
  workerBacklog: 'worker_backlog',
  /** Datagrams the kernel dropped at the input socket, almost always for a full receive buffer (its sk_drops read with SO_MEMINFO; the recvmmsg receiver only). */
  receiveBufferFull: 'receive_buffer_full',
} as const;
export type DropReasonValue = (typeof DropReason)[keyof typeof DropReason];
