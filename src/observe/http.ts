// HTTP endpoint for operations: GET /metrics (Prometheus text) and GET /health (JSON state of inputs and
// outputs). Bound to the configured host:port, loopback by default.

import { createServer, type Server } from 'node:http';
import type { ExporterSession, InputProtocol } from '../collect/session.js';
import type { Template } from '../ipfix/template.js';
import { metricsText, registry } from './metrics.js';

export type HealthReport = () => Record<string, unknown>;

/**
 * One exporter session as /health lists it (`inputs[].sessions`): its key and the IDs of its live templates,
 * ascending. The same with or without worker threads: the Collecting Process lists its session table, a
 * sharded input the main thread's mirror of its workers' sessions (src/pipeline/event-channel.ts).
 */
export interface SessionHealth {
  readonly protocol: InputProtocol;
  /** The exporter's address (an sFlow agent's address). */
  readonly exporter: string;
  readonly port: number;
  /** IPFIX ODID, NetFlow v9 Source ID, v5 engine type << 8 | engine id, sFlow sub-agent ID. */
  readonly observationDomainId: number;
  readonly templates: number[];
}

export function sessionHealth(s: ExporterSession, templates: Iterable<Template>): SessionHealth {
  const ids: number[] = [];
  for (const t of templates) ids.push(t.id);
  return { protocol: s.protocol, exporter: s.address, port: s.port, observationDomainId: s.observationDomainId, templates: ids.sort((a, b) => a - b) };
}

/** /health's order of sessions: by exporter address, port, protocol, then Observation Domain. */
export function bySession(a: SessionHealth, b: SessionHealth): number {
  if (a.exporter !== b.exporter) return a.exporter < b.exporter ? -1 : 1;
  if (a.port !== b.port) return a.port - b.port;
  if (a.protocol !== b.protocol) return a.protocol < b.protocol ? -1 : 1;
  return a.observationDomainId - b.observationDomainId;
}

export async function startHttp(hostPort: string, health: HealthReport): Promise<Server> {
  const i = hostPort.lastIndexOf(':');
  const host = hostPort.slice(0, i).replace(/^\[(.*)\]$/, '$1');
  const port = Number(hostPort.slice(i + 1));
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/metrics') {
      metricsText().then(
        (text) => {
          res.writeHead(200, { 'content-type': registry.contentType });
          res.end(text);
        },
        (err: Error) => {
          res.writeHead(500);
          res.end(err.message);
        },
      );
    } else if (req.method === 'GET' && path === '/health') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: 'ok', uptimeSeconds: Math.round(process.uptime()), ...health() }));
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found: try /metrics or /health\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.unref();
  return server;
}
