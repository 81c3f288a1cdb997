// WebAssembly for the moves of a compiled flow-sample plan (sample-plan.ts): a fact read as it stands from
// the datagram (or the clock) and stored into the record, maybe cut to its low octets, led by zeros, or
// masked; and constants. Both sides are big-endian octets, and a move keeps octets in order, so no value is
// ever byte-swapped: a load and a store each, with a mask swapped once when the plan is made. Anything that
// computes (a comparison, a sum, a product) stays in the JavaScript part of the plan.
//
// The module has one function of one parameter, the record's address in the plan memory, which it imports.

import { PLAN_MEMORY } from './plan-memory.js';
import { add, and, type Code, type Func, get, i32, instantiate, load, moduleOf, set, store } from './wasm-asm.js';

/** A fact moved into a record column of `length` octets at `to` (from the record's start). */
export type Move =
  /** `width` octets at `base` + `offset` of the datagram, read as a big-endian number and masked. */
  | { kind: 'read'; base: number; offset: number; width: 1 | 2 | 4; mask: number }
  /** The column's octets copied from `base` + `offset` of the datagram, or from `offset` of the memory when
   *  `base` is -1 (the clock). */
  | { kind: 'copy'; base: number; offset: number }
  | { kind: 'constant'; value: number };

export interface PlacedMove {
  move: Move;
  to: number;
  length: number;
}

/** The value whose little-endian octets are `v`'s `width` big-endian ones: what a wasm load of them gives. */
function swapped(v: number, width: number): number {
  let r = 0;
  for (let i = 0; i < width; i++) r |= ((v >>> (8 * (width - 1 - i))) & 0xff) << (8 * i);
  return r | 0;
}

/** The function for `moves`: the base slots they read (indexes into PLAN_MEMORY.slots) each loaded once
 *  into a local; local 0 is the record's address. */
function func(moves: readonly PlacedMove[], slotsAt: number): Func {
  const bases = [...new Set(moves.flatMap(({ move }) => (move.kind === 'constant' || move.base < 0 ? [] : [move.base])))];
  const local = (slot: number) => 1 + bases.indexOf(slot);
  const code: Code = bases.flatMap((slot) => set(local(slot), load(4, i32(slotsAt + 4 * slot))));
  const d = get(0);
  // A load at `offset` from a base slot, or of an absolute address (base -1: the clock). Offsets in the
  // instruction are unsigned: one before its base (the EtherType before the IP header) is added first.
  const read = (base: number, offset: number, width: 1 | 2 | 4): Code => {
    if (base < 0) return load(width, i32(offset));
    return offset >= 0 ? load(width, get(local(base)), offset) : load(width, add(get(local(base)), i32(offset)));
  };
  // Zeros for `n` octets at `to`, in the widest stores that fit.
  const zeros = (to: number, n: number) => {
    for (const w of [4, 2, 1] as const) while (n >= w) {
      code.push(...store(w, d, i32(0), to));
      to += w;
      n -= w;
    }
  };
  for (const { move, to, length } of moves) {
    if (move.kind === 'copy') {
      let k = 0;
      for (const w of [4, 2, 1] as const) for (; length - k >= w; k += w) code.push(...store(w, d, read(move.base, move.offset + k, w), to + k));
      continue;
    }
    // A number: its low octets when the column is narrower, zeros first when it is wider.
    const width = move.kind === 'constant' ? 4 : move.width;
    const stored = Math.min(length, width) as 1 | 2 | 4;
    zeros(to, length - stored);
    const at = to + length - stored;
    if (move.kind === 'constant') {
      code.push(...store(stored, d, i32(swapped(move.value, stored)), at));
      continue;
    }
    const full = stored === 4 ? 0xffffffff : (1 << (8 * stored)) - 1;
    const mask = (move.mask & full) >>> 0;
    const value = read(move.base, move.offset + width - stored, stored);
    code.push(...store(stored, d, mask === full ? value : and(value, i32(swapped(mask, stored))), at));
  }
  return { params: 1, locals: bases.length, results: 0, body: code, name: 'w' };
}

/** The module's octets: imports the memory as m.m, exports the function as w. */
export function moduleOctets(moves: readonly PlacedMove[], slotsAt: number): Uint8Array<ArrayBuffer> {
  return moduleOf([func(moves, slotsAt)]);
}

/** The moves as a function of the record's address, or null without WebAssembly. */
export function compileMoves(moves: readonly PlacedMove[], slotsAt: number): ((address: number) => void) | null {
  const exports = instantiate(moduleOctets(moves, slotsAt), PLAN_MEMORY.memory);
  return exports ? (exports.w as (address: number) => void) : null;
}
