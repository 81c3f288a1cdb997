// The one contract between stages (DESIGN.md "Data flow"). Everything flows in band and in order: a stage
// sees a session start before its templates, a template before the records that use it, a withdrawal after
// the last record of the old definition, and a session end after that session's last record. That ordering
// is what makes template withdrawals downstream exact.
//
// `records` hands over IPFIX-encoded Data Records (no Set header) in buf[start, end). The buffer belongs
// to the caller and is reused as soon as the call returns: a sink that keeps bytes must copy them.

import type { ExporterSession } from '../collect/session.js';
import type { Template } from '../ipfix/template.js';

export type SessionEndReason = 'timeout' | 'restart' | 'shutdown' | 'closed';

export interface RecordSink {
  sessionStarted(session: ExporterSession): void;
  /** A new template (or a new definition: the old one is withdrawn first with templateWithdrawn). */
  templateDefined(session: ExporterSession, template: Template): void;
  templateWithdrawn(session: ExporterSession, template: Template): void;
  /** `count` Data Records of `template`, IPFIX-encoded; exportTime in seconds since the epoch. */
  records(session: ExporterSession, template: Template, buf: Buffer, start: number, end: number, count: number, exportTime: number): void;
  sessionEnded(session: ExporterSession, reason: SessionEndReason): void;
}
