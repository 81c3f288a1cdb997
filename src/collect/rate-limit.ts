// Per-exporter rate limit of an input (RFC 6183 §9 exporter control): a token bucket per exporter address,
// in datagrams (or stream messages) per second, records per second, or both. The bucket holds `burst`
// seconds of rate. Records are only known after decoding, so the record bucket may go into debt by one
// datagram's records; the exporter's next datagrams are dropped until it is paid back. A dropped datagram
// counts under reason `rate_limited`.

import type { RateLimitConfig } from '../config/types.js';

class Bucket {
  datagrams: number;
  records: number;
  constructor(
    public at: number,
    c: RateLimitConfig,
  ) {
    this.datagrams = c.datagrams * c.burst;
    this.records = c.records * c.burst;
  }
}

/** Buckets idle this long are full again and forgotten (a table of spoofed sources cannot grow forever). */
const IDLE_MS = 60_000;

export class ExporterRateLimit {
  private readonly buckets = new Map<string, Bucket>();
  /** The bucket admit() last passed, charged with the records decoded from that datagram. */
  private last?: Bucket;

  constructor(private readonly config: RateLimitConfig) {}

  /** May a datagram from `address` be decoded at `now` (ms)? */
  admit(address: string, now: number): boolean {
    const c = this.config;
    let b = this.buckets.get(address);
    if (!b) this.buckets.set(address, (b = new Bucket(now, c)));
    const elapsed = (now - b.at) / 1000;
    b.at = now;
    this.last = undefined;
    if (c.records > 0) {
      b.records = Math.min(c.records * c.burst, b.records + elapsed * c.records);
      if (b.records <= 0) return false;
    }
    if (c.datagrams > 0) {
      b.datagrams = Math.min(c.datagrams * c.burst, b.datagrams + elapsed * c.datagrams);
      if (b.datagrams < 1) return false;
      b.datagrams -= 1;
    }
    this.last = b;
    return true;
  }

  /** The records decoded from the datagram admit() just let through. */
  charge(records: number): void {
    if (this.last) this.last.records -= records;
    this.last = undefined;
  }

  get countsRecords(): boolean {
    return this.config.records > 0;
  }

  sweep(now: number): void {
    for (const [address, b] of this.buckets) if (now - b.at > IDLE_MS) this.buckets.delete(address);
  }
}
