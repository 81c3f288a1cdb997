// The outputs every input feeds, as one RecordSink that a configuration reload can change while the inputs
// keep running (their sessions and templates untouched). Every event goes to every output in order (each
// output gets every record unless its `select` rules say otherwise); adding or removing an output swaps
// the list between two events, never inside one, so an output sees each session from a start (announced
// to it when it joins: CollectingProcess.announceTo) to an end.

import type { ExporterSession } from '../collect/session.js';
import type { Template } from '../ipfix/template.js';
import type { RecordSink, SessionEndReason } from './sink.js';

export class OutputSet implements RecordSink {
  /** Replaced, never mutated: an event already being dispatched finishes over the list it started with. */
  private sinks: readonly RecordSink[] = [];

  add(sink: RecordSink): void {
    this.sinks = [...this.sinks, sink];
  }

  remove(sink: RecordSink): void {
    this.sinks = this.sinks.filter((s) => s !== sink);
  }

  get size(): number {
    return this.sinks.length;
  }

  sessionStarted(s: ExporterSession): void {
    for (const k of this.sinks) k.sessionStarted(s);
  }
  templateDefined(s: ExporterSession, t: Template): void {
    for (const k of this.sinks) k.templateDefined(s, t);
  }
  templateWithdrawn(s: ExporterSession, t: Template): void {
    for (const k of this.sinks) k.templateWithdrawn(s, t);
  }
  records(s: ExporterSession, t: Template, buf: Buffer, start: number, end: number, count: number, exportTime: number): void {
    for (const k of this.sinks) k.records(s, t, buf, start, end, count, exportTime);
  }
  sessionEnded(s: ExporterSession, reason: SessionEndReason): void {
    for (const k of this.sinks) k.sessionEnded(s, reason);
  }
}
