// The same plan as compile.ts, run as a tight op-list loop instead of generated code: the ops are packed
// into an Int32Array once, and per record the loop resolves input offsets and dispatches on the op kind.
// Kept as the reference the generated code is tested against, and as the measured alternative
// (bench/inprocess.mjs reports both).

import { VARLEN } from '../ipfix/constants.js';
import type { PlanFn, RecordLayout } from './plan.js';
import { uptime64ToEpochMs } from './transforms.js';

const KIND_COPY = 0;
const KIND_BITS = 1;
const KIND_UPTIME = 2;
const KIND_VARLEN = 3;
const STRIDE = 7; // kind, fromHeader, input, inLength, outLength, mask, shift

export function interpretPlan(layout: RecordLayout, inFixed: number, inMin: number): PlanFn {
  const { inputs, ops } = layout;
  const code = new Int32Array(ops.length * STRIDE);
  ops.forEach((o, i) => {
    const b = i * STRIDE;
    code[b] = o.kind === 'copy' ? KIND_COPY : o.kind === 'bits' ? KIND_BITS : o.kind === 'uptime' ? KIND_UPTIME : KIND_VARLEN;
    code[b + 1] = o.from === 'header' ? 1 : 0;
    code[b + 2] = o.input;
    code[b + 3] = o.inLength;
    code[b + 4] = o.outLength;
    code[b + 5] = o.mask | 0;
    code[b + 6] = o.shift;
  });
  const nOps = ops.length;
  const nInputs = inputs.length;
  const lengths = Int32Array.from(inputs);
  // Input offsets relative to the record start: static for fixed layouts, filled per record otherwise.
  const pos = new Int32Array(nInputs);
  if (inFixed > 0) {
    let o = 0;
    for (let i = 0; i < nInputs; i++) {
      pos[i] = o;
      o += lengths[i]!;
    }
  }

  return function plan(src, s, end, dst, d, clock, hdr, st) {
    const exportMs = clock[0]!;
    const uptime = clock[1]!;
    let n = 0;
    let bad = 0;
    while (end - s >= inMin) {
      let recLen = inFixed;
      if (inFixed < 0) {
        // Walk the record once to place every field.
        let q = 0;
        for (let i = 0; i < nInputs; i++) {
          pos[i] = q;
          const l = lengths[i]!;
          if (l !== VARLEN) {
            q += l;
            continue;
          }
          if (s + q >= end) {
            bad = 1;
            break;
          }
          let L = src[s + q]!;
          let h = 1;
          if (L === 255) {
            if (end - (s + q) < 3) {
              bad = 1;
              break;
            }
            L = (src[s + q + 1]! << 8) | src[s + q + 2]!;
            h = 3;
          }
          q += h + L;
        }
        if (bad || s + q > end) {
          bad = 1;
          break;
        }
        recLen = q;
      }
      for (let k = 0; k < nOps; k++) {
        const b = k * STRIDE;
        const kind = code[b]!;
        const from = code[b + 1] === 1 ? hdr + code[b + 2]! : s + pos[code[b + 2]!]!;
        const inLen = code[b + 3]!;
        const outLen = code[b + 4]!;
        if (kind === KIND_COPY) {
          const pad = outLen - inLen;
          for (let i = 0; i < pad; i++) dst[d + i] = 0;
          for (let i = 0; i < inLen; i++) dst[d + pad + i] = src[from + i]!;
          d += outLen;
        } else if (kind === KIND_BITS) {
          let v = 0;
          for (let i = 0; i < inLen; i++) v = v * 256 + src[from + i]!;
          v = ((v & code[b + 5]!) >>> 0) >>> code[b + 6]!;
          for (let i = outLen - 1; i >= 0; i--) {
            dst[d + i] = v;
            v >>>= 8;
          }
          d += outLen;
        } else if (kind === KIND_UPTIME) {
          const hi = ((src[from]! << 24) | (src[from + 1]! << 16) | (src[from + 2]! << 8) | src[from + 3]!) >>> 0;
          let t: number;
          if (inLen === 4) t = exportMs - ((uptime - hi) | 0);
          else t = uptime64ToEpochMs(exportMs, uptime, hi, ((src[from + 4]! << 24) | (src[from + 5]! << 16) | (src[from + 6]! << 8) | src[from + 7]!) >>> 0);
          if (!(t >= 0)) t = 0;
          const hi8 = Math.floor(t / 4294967296);
          const lo8 = t - hi8 * 4294967296;
          dst[d] = hi8 >>> 24;
          dst[d + 1] = hi8 >>> 16;
          dst[d + 2] = hi8 >>> 8;
          dst[d + 3] = hi8;
          dst[d + 4] = lo8 >>> 24;
          dst[d + 5] = lo8 >>> 16;
          dst[d + 6] = lo8 >>> 8;
          dst[d + 7] = lo8;
          d += 8;
        } else {
          let L = src[from]!;
          let h = 1;
          if (L === 255) {
            L = (src[from + 1]! << 8) | src[from + 2]!;
            h = 3;
          }
          for (let i = 0; i < h + L; i++) dst[d + i] = src[from + i]!;
          d += h + L;
        }
      }
      s += recLen;
      n++;
    }
    st[0] = n;
    st[1] = s;
    st[2] = bad;
    return d;
  };
}
