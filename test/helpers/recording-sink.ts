// A RecordSink (src/mediate/sink.ts) that writes down every event it is handed, in order, with the values
// a test compares: sessions named by their Observation Domain ID, templates by their ID, records by their
// count and bytes (as hex, copied at once: the caller reuses the buffer).

import type { ExporterSession } from '../../src/collect/session.js';
import type { RecordSink } from '../../src/mediate/sink.js';

export type RecordedEvent = [string, ...unknown[]];

/**
 * Events: ['started', odid, address] (without the address when `address` is false),
 * ['defined' | 'withdrawn', odid, template ID], ['records', odid, template ID, count, hex], ['ended', odid, reason].
 */
export function recorder({ address = true }: { address?: boolean } = {}): { sink: RecordSink; events: RecordedEvent[] } {
  const events: RecordedEvent[] = [];
  const started = address ? (s: ExporterSession) => events.push(['started', s.observationDomainId, s.address]) : (s: ExporterSession) => events.push(['started', s.observationDomainId]);
  return {
    events,
    sink: {
      sessionStarted: started,
      templateDefined: (s, t) => events.push(['defined', s.observationDomainId, t.id]),
      templateWithdrawn: (s, t) => events.push(['withdrawn', s.observationDomainId, t.id]),
      records: (s, t, buf, start, end, count) => events.push(['records', s.observationDomainId, t.id, count, buf.toString('hex', start, end)]),
      sessionEnded: (s, reason) => events.push(['ended', s.observationDomainId, reason]),
    },
  };
}
