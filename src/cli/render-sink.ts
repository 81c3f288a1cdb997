// A RecordSink that prints every record (collect, inspect): one JSON line per record with --json, a
// readable line otherwise. Envelope keys start with "_" so they cannot clash with IE names.

import type { RecordSink } from '../mediate/sink.js';
import type { ExporterSession } from '../collect/session.js';
import type { Template } from '../ipfix/template.js';
import type { Registry } from '../model/types.js';
import { recordEnd, renderRecord } from '../ipfix/render.js';

export class RenderSink implements RecordSink {
  recordCount = 0;
  templates = 0;
  private readonly write: (line: string) => void;

  constructor(
    private readonly registry: Registry,
    private readonly json: boolean,
    write?: (line: string) => void,
  ) {
    this.write = write ?? ((line) => process.stdout.write(line + '\n'));
  }

  sessionStarted(): void {}
  templateDefined(s: ExporterSession, t: Template): void {
    this.templates++;
    if (!this.json) this.write(`# template ${t.id} (${t.scopeCount ? 'options, ' : ''}${t.fields.length} fields) from ${s.address}:${s.port} odid ${s.observationDomainId}`);
  }
  templateWithdrawn(s: ExporterSession, t: Template): void {
    if (!this.json) this.write(`# template ${t.id} withdrawn from ${s.address}:${s.port} odid ${s.observationDomainId}`);
  }
  sessionEnded(): void {}

  records(s: ExporterSession, t: Template, buf: Buffer, start: number, end: number, count: number, exportTime: number): void {
    let o = start;
    for (let i = 0; i < count; i++) {
      const e = recordEnd(t, buf, o, end);
      if (e < 0) break;
      const fields = renderRecord(t, buf, o, e, this.registry);
      this.recordCount++;
      if (this.json) {
        this.write(
          JSON.stringify({ _exporter: s.address, _port: s.port, _odid: s.observationDomainId, _templateId: t.id, _exportTime: new Date(exportTime * 1000).toISOString(), ...fields }),
        );
      } else {
        const body = Object.entries(fields)
          .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join(',') : String(v)}`)
          .join(' ');
        this.write(`${s.address} odid=${s.observationDomainId} tid=${t.id} ${body}`);
      }
      o = e;
    }
  }
}
