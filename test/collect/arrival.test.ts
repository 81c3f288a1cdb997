// The arrival clock (src/collect/arrival.ts): every datagram of a receive batch carries the time the batch
// was read, however the clock moves while the batch is decoded; outside a batch each datagram gets the
// time it is decoded at. Checked on the observation time of the records the sFlow decoder writes (flow
// samples through the general decoder and through the WebAssembly walk, and counter samples).

import { afterEach, describe, expect, it, vi } from 'vitest';
import { arrivalMs } from '../../src/collect/arrival.js';
import { buildSflowDecoder } from '../../src/collect/sflow/decode.js';
import { DatagramBatch, DatagramReader } from '../../src/pipeline/datagram-batch.js';
import { allRows, mappingConfig, RecordingContext, testRegistry } from '../mapping/harness.js';
// @ts-expect-error plain JavaScript module of the benchmark harness, no type declarations
import { sflowDatagrams } from '../../bench/lib/sflow-gen.mjs';

const reg = testRegistry();
const START = 1_795_000_000_000;

/** Date.now() moving 7 ms at every read. */
function tickingClock(): void {
  let t = START;
  vi.spyOn(Date, 'now').mockImplementation(() => (t += 7));
}

/** The observation times of every record the context got, in order. */
function times(ctx: RecordingContext): number[] {
  return allRows(reg, ctx).map((r) => r.observationTimeMilliseconds as number);
}

describe('arrival clock', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  const fleet: Buffer[] = sflowDatagrams(40);

  it('gives every datagram of a batch the time the batch was read', () => {
    tickingClock();
    const decode = buildSflowDecoder({ registry: reg, mapping: mappingConfig });
    const batch = new DatagramBatch(new ArrayBuffer(1 << 16));
    let added = 0;
    for (const d of fleet) if (batch.fits('192.0.2.7', d.length)) (batch.add(d, '192.0.2.7', 6343), added++);
    const ctx = new RecordingContext();
    const read = new DatagramReader().read(Buffer.from(batch.seal()), (d, s, e, address, port) => decode(ctx, d.subarray(s, e), address, port));
    expect(read).toBe(added);
    expect(added).toBeGreaterThan(30);
    const seen = times(ctx);
    expect(seen.length).toBeGreaterThan(6 * 30);
    // The clock was read once, when the batch started.
    expect(new Set(seen)).toEqual(new Set([START + 7]));
    // After the batch, the clock is read again.
    expect(arrivalMs()).toBe(START + 14);
  });

  it('outside a batch, stamps each datagram when it is decoded', () => {
    tickingClock();
    const decode = buildSflowDecoder({ registry: reg, mapping: mappingConfig });
    const at: number[] = [];
    for (const d of fleet.slice(0, 5)) {
      const ctx = new RecordingContext();
      decode(ctx, d, '192.0.2.7', 6343);
      const seen = new Set(times(ctx));
      expect(seen.size).toBe(1);
      at.push([...seen][0]!);
    }
    for (let i = 1; i < at.length; i++) expect(at[i]!).toBeGreaterThan(at[i - 1]!);
  });

  it('ends the batch when a datagram handler throws', () => {
    tickingClock();
    const batch = new DatagramBatch(new ArrayBuffer(1 << 16));
    batch.add(fleet[0]!, '192.0.2.7', 6343);
    expect(() =>
      new DatagramReader().read(Buffer.from(batch.seal()), () => {
        throw new Error('handler bug');
      }),
    ).toThrow('handler bug');
    expect(arrivalMs()).toBe(START + 14);
  });
});
