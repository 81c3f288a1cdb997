// Short runs of octets copied between buffers as 32-bit words through DataViews. A partial Buffer#copy
// or TypedArray#set makes a Uint8Array view and a native call per run, and a loop of octets costs a load
// and a store per octet; record runs are mostly a few hundred octets (measured in domain.ts: 150 octets
// ~80 ns this way, ~300 ns octet by octet, ~90 ns by Buffer#copy, which wins from ~500 octets).

/** Runs shorter than this are copied by copyShort; longer ones by Buffer#copy or TypedArray#set. */
export const SHORT_COPY = 512;

/**
 * A DataView over the ArrayBuffer of the Buffer given last. Callers copy from a few long-lived buffers, so
 * a view is made once, not per copy; the Buffer object is compared first, as reading its `.buffer` is a
 * call into the runtime (about 1 % of the gateway's CPU with sFlow when it was read per copy, perf).
 */
export class SourceView {
  private bytes: Buffer | undefined;
  private buffer: ArrayBufferLike | undefined;
  private view: DataView = new DataView(new ArrayBuffer(0));

  of(src: Buffer): DataView {
    if (src === this.bytes) return this.view;
    this.bytes = src;
    if (src.buffer !== this.buffer) {
      this.buffer = src.buffer;
      this.view = new DataView(src.buffer);
    }
    return this.view;
  }
}

/** Copies n octets from sv at s to dv at d (offsets in their ArrayBuffers): two words per turn (measured
 *  1.3-1.5x faster than one for 150-330 octets), then the tail. */
export function copyShort(sv: DataView, s: number, dv: DataView, d: number, n: number): void {
  let i = 0;
  for (; n - i >= 8; i += 8) {
    dv.setUint32(d + i, sv.getUint32(s + i, true), true);
    dv.setUint32(d + i + 4, sv.getUint32(s + i + 4, true), true);
  }
  if (n - i >= 4) {
    dv.setUint32(d + i, sv.getUint32(s + i, true), true);
    i += 4;
  }
  for (; i < n; i++) dv.setUint8(d + i, sv.getUint8(s + i));
}

/** Writes a non-negative integer below 2^53 as 8 big-endian octets at `at` of dv. */
export function setUint53(dv: DataView, at: number, v: number): void {
  if (v <= 0xffffffff) {
    // The common case (counts of one sample, lengths): no division.
    dv.setUint32(at, 0);
    dv.setUint32(at + 4, v);
    return;
  }
  const hi = Math.floor(v / 4294967296);
  dv.setUint32(at, hi);
  dv.setUint32(at + 4, v - hi * 4294967296);
}
