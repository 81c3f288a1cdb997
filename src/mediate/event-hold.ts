// In-band events kept for an output that is being restarted by a config reload (src/cli/gateway.ts): it
// joins the OutputSet in the old output's place, first learning the live sessions and templates
// (CollectingProcess.announceTo), then keeping every event in order — record bytes copied, since the
// inputs reuse their buffers — until the new output has started and everything is replayed into it.
// So a changed output loses nothing that arrived while it closed and started again. Bounded: past
// `maxBytes` of held records, further records are dropped and counted (`reload_hold_full`).

import type { ExporterSession } from '../collect/session.js';
import type { Template } from '../ipfix/template.js';
import type { RecordSink, SessionEndReason } from './sink.js';
import { DropReason, recordsDropped } from '../observe/metrics.js';

type Held =
  | { kind: 0; session: ExporterSession }
  | { kind: 1 | 2; session: ExporterSession; template: Template }
  | { kind: 3; session: ExporterSession; template: Template; bytes: Buffer; count: number; exportTime: number }
  | { kind: 4; session: ExporterSession; reason: SessionEndReason };

export class EventHold implements RecordSink {
  private readonly events: Held[] = [];
  private bytes = 0;
  /** Records dropped because the hold was full. */
  dropped = 0;

  constructor(
    readonly output: string,
    private readonly maxBytes = 64 << 20,
  ) {}

  get heldRecords(): number {
    let n = 0;
    for (const e of this.events) if (e.kind === 3) n += e.count;
    return n;
  }

  sessionStarted(session: ExporterSession): void {
    this.events.push({ kind: 0, session });
  }
  templateDefined(session: ExporterSession, template: Template): void {
    this.events.push({ kind: 1, session, template });
  }
  templateWithdrawn(session: ExporterSession, template: Template): void {
    this.events.push({ kind: 2, session, template });
  }
  records(session: ExporterSession, template: Template, buf: Buffer, start: number, end: number, count: number, exportTime: number): void {
    if (this.bytes + end - start > this.maxBytes) {
      this.dropped += count;
      recordsDropped.inc({ stage: this.output, reason: DropReason.reloadHoldFull }, count);
      return;
    }
    this.bytes += end - start;
    this.events.push({ kind: 3, session, template, bytes: Buffer.from(buf.subarray(start, end)), count, exportTime });
  }
  sessionEnded(session: ExporterSession, reason: SessionEndReason): void {
    this.events.push({ kind: 4, session, reason });
  }

  /** Everything held, in order, into `sink`; the hold is empty afterwards. */
  replayInto(sink: RecordSink): void {
    for (const e of this.events) {
      switch (e.kind) {
        case 0:
          sink.sessionStarted(e.session);
          break;
        case 1:
          sink.templateDefined(e.session, e.template);
          break;
        case 2:
          sink.templateWithdrawn(e.session, e.template);
          break;
        case 3:
          sink.records(e.session, e.template, e.bytes, 0, e.bytes.length, e.count, e.exportTime);
          break;
        case 4:
          sink.sessionEnded(e.session, e.reason);
          break;
      }
    }
    this.events.length = 0;
    this.bytes = 0;
  }
}
