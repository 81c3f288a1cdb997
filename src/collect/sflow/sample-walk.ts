// The walk over a datagram's samples, in WebAssembly. A flow sample whose layout has an all-WebAssembly
// plan (sample-plan.ts) is decoded without leaving WebAssembly: layout, plan lookup, room in the shape's
// staging area, the plan itself, the staging counts. One call from JavaScript then decodes a run of such
// samples, where each sample had cost two calls into WebAssembly and the JavaScript between them.
//
// The walk stops at the first sample it cannot finish (any other sample format, a layout without such a
// plan, a full staging area, a length running past the datagram) and says which: decode.ts decodes that
// one the JavaScript way, with the key the walk found, and calls the walk again after it.
//
// Its state is a block of words in the plan memory per decoder: the staging counts of every shape (which
// JavaScript reads and resets), the shapes touched in the datagram, and the table of walkable plans by
// layout key (open addressing, as sample-plan.ts PlanTable).

import { FLOW_SAMPLE, FLOW_SAMPLE_EXPANDED } from './formats.js';
import { COMMUNITIES, PATH_LENGTH } from './layout.js';
import { LAYOUT, layoutFuncs } from './layout-wasm.js';
import { PLAN_DISPATCH, PLAN_TYPE } from './plan-dispatch.js';
import { PLAN_MEMORY, SLOTS_AT, takeChunk } from './plan-memory.js';
import { HASH_MULTIPLIER, HASH_SHIFT, MAX_PLANS, TABLE_SLOTS } from './sample-plan.js';
import { MAX_SHAPES, STAGE_LENGTH } from './shapes.js';
import { VariableFact } from './view.js';
import { add, and, block, br, brIf, call, callIndirect, type Code, eq, eqz, type Func, geU, get, gtS, gtU, i32, instantiate, load, loop, ltS, moduleOf, mul, ne, ret, set, shl, shrU, store, sub, be32, when } from './wasm-asm.js';

/** Shapes a decoder has at most (flow and counter shapes share the template ID range). */
const SHAPES = 2 * MAX_SHAPES + 1;

// The block, in words. Where the walk stopped: the sample's position and the layout key it found (-1: no
// layout; NOT_LAID_OUT: not looked at). Samples the walk decoded. The shapes touched in the datagram.
const W_POSITION = 0;
const W_KEY = 1;
const W_WALKED = 2;
const W_TOUCHED_COUNT = 3;
const W_TOUCHED = 16;
const W_KEYS = W_TOUCHED + SHAPES;
/** Per key: its plan's index in the thread's plan table, and the shape (<< 16). */
const W_PLANS = W_KEYS + TABLE_SLOTS;
const W_SHAPES = W_PLANS + TABLE_SLOTS;
/** Words per shape, a power of two. */
const SHAPE_WORDS = 8;
const BLOCK_WORDS = W_SHAPES + SHAPES * SHAPE_WORDS;

/** A shape's words. Whether it has records in the datagram (is in the touched list), its staged octets
 *  and records; for walkable plans, where its staging area starts in its chunk, its fixed length and its
 *  variable-length facts (bit 0 communities, bit 1 AS path). */
export const ShapeWord = { touched: 0, stagedLength: 1, stagedCount: 2, stageStart: 3, fixedLength: 4, variable: 5 } as const;

export const NOT_LAID_OUT = -2;

/** walk(), calling plans through the table by signature `planType`. */
function walk(planType: number): Func {
  const [BLOCK, P, N, I, SAMPLES, FORMAT, LENGTH, S, END, KEY, H, FOUND, PLAN, SHAPE, NEED, START, STAGED, T] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17];
  const word = (w: number): Code => load(4, get(BLOCK), 4 * w);
  const setWord = (w: number, value: Code): Code => store(4, get(BLOCK), value, 4 * w);
  const shapeWord = (w: number): Code => load(4, get(SHAPE), 4 * (W_SHAPES + w));
  const setShapeWord = (w: number, value: Code): Code => store(4, get(SHAPE), value, 4 * (W_SHAPES + w));
  const stop = (key: Code): Code => [...setWord(W_POSITION, get(P)), ...setWord(W_KEY, key), ...ret(get(I))];
  const slot = (n: number): Code => load(4, i32(SLOTS_AT + 4 * n));
  const body: Code = [
    ...block(
      loop([
        ...brIf(1, geU(get(I), get(SAMPLES))),
        ...when(ltS(sub(get(N), get(P)), i32(8)), stop(i32(NOT_LAID_OUT))),
        ...set(FORMAT, be32(get(P), 0, T)),
        ...set(LENGTH, be32(get(P), 4, T)),
        ...set(S, add(get(P), i32(8))),
        ...when(gtU(get(LENGTH), sub(get(N), get(S))), stop(i32(NOT_LAID_OUT))),
        ...set(END, add(get(S), get(LENGTH))),
        ...when(and(ne(get(FORMAT), i32(FLOW_SAMPLE)), ne(get(FORMAT), i32(FLOW_SAMPLE_EXPANDED))), stop(i32(NOT_LAID_OUT))),
        ...set(KEY, call(LAYOUT, get(S), get(END), eq(get(FORMAT), i32(FLOW_SAMPLE_EXPANDED)))),
        ...when(ltS(get(KEY), i32(0)), stop(get(KEY))),
        // sample-plan.ts PlanTable's probe.
        ...set(H, shrU(mul(get(KEY), i32(HASH_MULTIPLIER)), i32(HASH_SHIFT))),
        ...block(
          loop([
            ...set(FOUND, load(4, add(get(BLOCK), shl(get(H), i32(2))), 4 * W_KEYS)),
            ...brIf(1, eq(get(FOUND), get(KEY))),
            ...when(eq(get(FOUND), i32(-1)), stop(get(KEY))),
            ...set(H, and(add(get(H), i32(1)), i32(TABLE_SLOTS - 1))),
            ...br(0),
          ]),
        ),
        ...set(PLAN, load(4, add(get(BLOCK), shl(get(H), i32(2))), 4 * W_PLANS)),
        ...set(SHAPE, add(get(BLOCK), shl(shrU(get(PLAN), i32(16)), i32(5)))),
        // Room for the record, counted as layout.ts variableOctets does.
        ...set(NEED, shapeWord(ShapeWord.fixedLength)),
        ...when(ne(and(shapeWord(ShapeWord.variable), i32(1)), i32(0)), set(NEED, add(get(NEED), add(i32(8), shl(be32(slot(COMMUNITIES), 0, T), i32(2)))))),
        ...when(ne(and(shapeWord(ShapeWord.variable), i32(2)), i32(0)), set(NEED, add(get(NEED), add(i32(3), shl(slot(PATH_LENGTH), i32(2)))))),
        ...set(STAGED, shapeWord(ShapeWord.stagedLength)),
        ...when(gtS(add(get(STAGED), get(NEED)), i32(STAGE_LENGTH)), stop(get(KEY))),
        ...when(eqz(shapeWord(ShapeWord.touched)), [
          ...setShapeWord(ShapeWord.touched, i32(1)),
          ...store(4, add(get(BLOCK), shl(word(W_TOUCHED_COUNT), i32(2))), shrU(get(PLAN), i32(16)), 4 * W_TOUCHED),
          ...setWord(W_TOUCHED_COUNT, add(word(W_TOUCHED_COUNT), i32(1))),
        ]),
        ...set(START, shapeWord(ShapeWord.stageStart)),
        ...setShapeWord(ShapeWord.stagedLength, sub(callIndirect(planType, and(get(PLAN), i32(0xffff)), add(get(START), get(STAGED))), get(START))),
        ...setShapeWord(ShapeWord.stagedCount, add(shapeWord(ShapeWord.stagedCount), i32(1))),
        ...setWord(W_WALKED, add(word(W_WALKED), i32(1))),
        ...set(P, get(END)),
        ...set(I, add(get(I), i32(1))),
        ...br(0),
      ]),
    ),
    ...setWord(W_POSITION, get(P)),
    ...get(I),
  ];
  return { params: 5, locals: 13, results: 1, body, name: 'walk' };
}

/** walk(block, p, n, i, samples): decodes samples i.. from position p of the n-octet datagram until one it
 *  cannot finish or the last; returns that sample's number (samples when none stopped it). */
type WalkFn = (block: number, p: number, n: number, i: number, samples: number) => number;

/** layoutOf in WebAssembly (layout-wasm.ts): (s, end, expanded 0/1) → key or -1. */
type LayoutFn = (s: number, end: number, expanded: number) => number;

/** The module's exports: the walk, and layout for the samples decoded in JavaScript; null without
 *  WebAssembly. */
const exported = ((): { walk: WalkFn; layout: LayoutFn } | null => {
  if (!PLAN_DISPATCH) return null;
  // layoutOf's functions, then the walk; the plan signature is the type after them.
  const layout = layoutFuncs();
  const funcs = [...layout, walk(layout.length + 1)];
  const exports = instantiate(moduleOf(funcs, { memory: true, table: true }, [PLAN_TYPE]), PLAN_MEMORY.memory, PLAN_DISPATCH.table);
  return exports ? { walk: exports.walk as WalkFn, layout: exports.layout as LayoutFn } : null;
})();
const walkFn = exported?.walk ?? null;
export const layoutWasm: LayoutFn | null = exported?.layout ?? null;

/**
 * One decoder's staging counts and walkable plans. Without WebAssembly (or past the plan memory's chunks)
 * the words are an ordinary array and `walk` is null: the decoder then walks in JavaScript alone.
 */
export class SampleWalk {
  /** The block's words: staging counts per shape at shapeAt(k) + ShapeWord. */
  readonly words: Int32Array;
  private readonly block: number;
  private readonly fn: WalkFn | null;
  private plans = 0;

  constructor(wasm: boolean) {
    const taken = wasm && walkFn ? takeChunk() : null;
    this.block = taken === null ? -1 : taken.address;
    this.fn = this.block < 0 ? null : walkFn;
    this.words = this.block < 0 ? new Int32Array(BLOCK_WORDS) : new Int32Array(PLAN_MEMORY.memory!.buffer, this.block, BLOCK_WORDS);
    this.words.fill(-1, W_KEYS, W_KEYS + TABLE_SLOTS);
  }

  /** Whether walk() decodes samples (else every sample is the caller's). */
  get walks(): boolean {
    return this.fn !== null;
  }

  /** Decodes samples i.. at p of the n-octet datagram as far as it can: the number of the sample it
   *  stopped at (samples when none); position(), stoppedKey() and walked() say more. */
  walk(p: number, n: number, i: number, samples: number): number {
    return this.fn!(this.block, p, n, i, samples);
  }

  /** Where the sample the walk stopped at starts (the datagram's end when it finished). */
  position(): number {
    return this.words[W_POSITION]!;
  }

  /** The layout key the walk found for the sample it stopped at, -1 for none, NOT_LAID_OUT when it did not
   *  look. layoutOf's slots are that sample's. */
  stoppedKey(): number {
    return this.words[W_KEY]!;
  }

  /** Samples walked since the last call, and resets the count. */
  walked(): number {
    const n = this.words[W_WALKED]!;
    this.words[W_WALKED] = 0;
    return n;
  }

  /** The first word of shape k's words. */
  shapeAt(k: number): number {
    return W_SHAPES + k * SHAPE_WORDS;
  }

  /** Adds shape k to the datagram's touched shapes unless it is there. */
  touch(k: number): void {
    const at = this.shapeAt(k) + ShapeWord.touched;
    if (this.words[at] !== 0) return;
    this.words[at] = 1;
    this.words[W_TOUCHED + this.words[W_TOUCHED_COUNT]!++] = k;
  }

  touchedCount(): number {
    return this.words[W_TOUCHED_COUNT]!;
  }

  /** The i-th shape touched in the datagram. */
  touched(i: number): number {
    return this.words[W_TOUCHED + i]!;
  }

  /** Forgets the touched shapes and their staging counts. */
  untouchAll(): void {
    const w = this.words;
    for (let i = 0; i < w[W_TOUCHED_COUNT]!; i++) {
      const at = this.shapeAt(w[W_TOUCHED + i]!);
      w[at + ShapeWord.touched] = w[at + ShapeWord.stagedLength] = w[at + ShapeWord.stagedCount] = 0;
    }
    w[W_TOUCHED_COUNT] = 0;
  }

  /**
   * Lets the walk decode layout `key` with the all-WebAssembly plan at `index` (plan-dispatch.ts) into
   * shape k, whose area starts at `stageStart` of its chunk and whose records have `fixedLength` octets
   * and the variable-length `facts`.
   */
  addPlan(key: number, index: number, k: number, stageStart: number, fixedLength: number, facts: Int32Array): void {
    if (this.fn === null || this.plans >= MAX_PLANS) return;
    const w = this.words;
    let h = Math.imul(key, HASH_MULTIPLIER) >>> HASH_SHIFT;
    while (w[W_KEYS + h] !== -1) {
      if (w[W_KEYS + h] === key) return;
      h = (h + 1) & (TABLE_SLOTS - 1);
    }
    const at = this.shapeAt(k);
    w[at + ShapeWord.stageStart] = stageStart;
    w[at + ShapeWord.fixedLength] = fixedLength;
    let variable = 0;
    for (const fact of facts) variable |= fact === VariableFact.communities ? 1 : fact === VariableFact.asPath ? 2 : 0;
    w[at + ShapeWord.variable] = variable;
    w[W_PLANS + h] = index | (k << 16);
    w[W_KEYS + h] = key;
    this.plans++;
  }
}
