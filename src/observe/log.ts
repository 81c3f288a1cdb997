// pino JSON lines on stdout, with the fields DESIGN.md names: input, output, exporter, odid, templateId.

import { pino, type Logger } from 'pino';

export const log: Logger = pino({
  level: process.env.IPFIX_MEDIATOR_LOG_LEVEL ?? 'info',
  base: { name: 'ipfix-mediator' },
  timestamp: pino.stdTimeFunctions.isoTime,
});

/** Log at most `perSecond` messages per key and second; the rest are only counted and reported once. */
export class RateLimitedLog {
  private window = 0;
  private counts = new Map<string, number>();
  constructor(private readonly logger: Logger = log, private readonly perSecond = 5) {}

  warn(key: string, obj: Record<string, unknown>, msg: string): void {
    const now = Math.floor(Date.now() / 1000);
    if (now !== this.window) {
      for (const [k, n] of this.counts) {
        if (n > this.perSecond) this.logger.warn({ key: k, suppressed: n - this.perSecond }, 'suppressed repeated warnings');
      }
      this.counts.clear();
      this.window = now;
    }
    const n = (this.counts.get(key) ?? 0) + 1;
    this.counts.set(key, n);
    if (n <= this.perSecond) this.logger.warn(obj, msg);
  }
}
