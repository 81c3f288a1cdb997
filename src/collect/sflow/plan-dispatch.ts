// One call site for every plan. A call from JavaScript into WebAssembly is cheap when the call site always
// reaches the same function, and several times dearer when it reaches many (measured here: 40 moves took
// 24 ns called through one function, 73-83 ns round robin over 67 functions from one call site, 52 ns
// through this dispatcher). So each plan's function goes into a table of the thread, and the decoder calls
// one exported function, run(index, position), which calls the plan at `index` inside WebAssembly.

import { PLAN_MEMORY } from './plan-memory.js';
import { callIndirect, get, moduleOf, type Signature } from './wasm-asm.js';

/** The table's size at first and at most (plans of every decoder of the thread). */
const FIRST_SIZE = 256;
const MAX_SIZE = 1 << 16;

export interface PlanDispatch {
  /** Calls the plan at `index` with the record's position; returns where the record ends. */
  readonly run: (index: number, position: number) => number;
  /** Puts a plan's function into the table: its index, or -1 when the table is full. */
  add(write: (position: number) => number): number;
  /** The table, for other modules calling plans (sample-walk.ts); a plan's signature is PLAN_TYPE. */
  readonly table: WebAssembly.Table;
}

/** A plan's signature: (position) → end. */
export const PLAN_TYPE: Signature = { params: 1, results: 1 };

function create(): PlanDispatch | null {
  if (!PLAN_MEMORY.memory) return null;
  const table = new WebAssembly.Table({ element: 'anyfunc', initial: FIRST_SIZE, maximum: MAX_SIZE });
  // run(index, position): the plan's type, (position) → end, is type 1.
  const octets = moduleOf([{ params: 2, locals: 0, results: 1, body: callIndirect(1, get(0), get(1)), name: 'run' }], { table: true }, [PLAN_TYPE]);
  const run = new WebAssembly.Instance(new WebAssembly.Module(octets), { m: { t: table } }).exports.run as (index: number, position: number) => number;
  let used = 0;
  return {
    run,
    table,
    add(write) {
      if (used === table.length) {
        if (used >= MAX_SIZE) return -1;
        table.grow(used);
      }
      table.set(used, write);
      return used++;
    },
  };
}

/** The thread's dispatcher; null without WebAssembly. */
export const PLAN_DISPATCH: PlanDispatch | null = create();
