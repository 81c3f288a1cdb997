// A small WebAssembly assembler (WebAssembly core specification, binary format): instructions as octet
// arrays put together by functions named after them, and a module of i32 functions over one imported
// memory. Enough for the sFlow decoder's generated code (plan-wasm.ts, layout-wasm.ts); no validation here,
// the runtime validates every module it compiles.

export type Code = number[];

/** Unsigned LEB128. */
export function leb(n: number): Code {
  const out: Code = [];
  do {
    let b = n & 0x7f;
    n = Math.floor(n / 128);
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

/** Signed LEB128 of a 32-bit integer. */
export function sleb(n: number): Code {
  const out: Code = [];
  n |= 0;
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

const I32 = 0x7f;
const VOID = 0x40;

export const i32 = (n: number): Code => [0x41, ...sleb(n)];
export const get = (local: number): Code => [0x20, ...leb(local)];
export const set = (local: number, value: Code): Code => [...value, 0x21, ...leb(local)];
export const tee = (local: number, value: Code): Code => [...value, 0x22, ...leb(local)];

const binary = (opcode: number) => (a: Code, b: Code): Code => [...a, ...b, opcode];
export const eq = binary(0x46);
export const ne = binary(0x47);
export const ltS = binary(0x48);
export const ltU = binary(0x49);
export const gtS = binary(0x4a);
export const gtU = binary(0x4b);
export const leU = binary(0x4d);
export const geU = binary(0x4f);
export const add = binary(0x6a);
export const sub = binary(0x6b);
export const mul = binary(0x6c);
export const and = binary(0x71);
export const or = binary(0x72);
export const shl = binary(0x74);
export const shrU = binary(0x76);
export const rotl = binary(0x77);
export const rotr = binary(0x78);
export const eqz = (a: Code): Code => [...a, 0x45];
/** a if cond, else b (both evaluated). */
export const select = (cond: Code, a: Code, b: Code): Code => [...a, ...b, ...cond, 0x1b];

/** Memory access: native (little-endian) order, at `address` + `offset`; alignment hints are 1 octet. */
export const load = (width: 1 | 2 | 4, address: Code, offset = 0): Code => [...address, width === 4 ? 0x28 : width === 2 ? 0x2f : 0x2d, 0, ...leb(offset)];
export const store = (width: 1 | 2 | 4, address: Code, value: Code, offset = 0): Code => [...address, ...value, width === 4 ? 0x36 : width === 2 ? 0x3b : 0x3a, 0, ...leb(offset)];

/** `value` with its four octets in reverse order (WebAssembly has no byte swap), through the scratch local `t`. */
export const swap32 = (value: Code, t: number): Code => or(rotl(and(tee(t, value), i32(0xff00ff00)), i32(8)), rotr(and(get(t), i32(0x00ff00ff)), i32(8)));

/** The low two octets of `value` in reverse order, through the scratch local `t`. */
export const swap16 = (value: Code, t: number): Code => or(shl(tee(t, value), i32(8)), and(shrU(get(t), i32(8)), i32(0xff)));

/** A big-endian 32-bit value at `address` + `offset`, byte-swapped through the scratch local `t`. */
export const be32 = (address: Code, offset: number, t: number): Code => swap32(load(4, address, offset), t);

/** A big-endian 16-bit value at `address` + `offset`: its two octets. */
export const be16 = (address: Code, offset: number): Code => or(shl(load(1, address, offset), i32(8)), load(1, address, offset + 1));

/** Control: `if` without a value, with an optional `else`. */
export const when = (cond: Code, then: Code, otherwise?: Code): Code => [...cond, 0x04, VOID, ...then, ...(otherwise ? [0x05, ...otherwise] : []), 0x0b];
export const block = (body: Code): Code => [0x02, VOID, ...body, 0x0b];
export const loop = (body: Code): Code => [0x03, VOID, ...body, 0x0b];
export const br = (depth: number): Code => [0x0c, ...leb(depth)];
export const brIf = (depth: number, cond: Code): Code => [...cond, 0x0d, ...leb(depth)];
export const ret = (value: Code): Code => [...value, 0x0f];
export const call = (fn: number, ...args: Code[]): Code => [...args.flat(), 0x10, ...leb(fn)];
/** A call through table 0 to the function at `index`, whose signature is type `type`. */
export const callIndirect = (type: number, index: Code, ...args: Code[]): Code => [...args.flat(), ...index, 0x11, ...leb(type), 0x00];
export const drop = (value: Code): Code => [...value, 0x1a];

export interface Func {
  /** i32 parameters, then i32 locals beyond them. */
  params: number;
  locals: number;
  /** 0 or 1 i32 result. */
  results: 0 | 1;
  body: Code;
  /** Exported under this name, if any. */
  name?: string;
}

function name(s: string): Code {
  return [s.length, ...Buffer.from(s, 'ascii')];
}

/** A function signature: i32 parameters, 0 or 1 i32 result. */
export interface Signature {
  params: number;
  results: 0 | 1;
}

const typeOf = (f: Signature): Code => [0x60, ...leb(f.params), ...new Array<number>(f.params).fill(I32), f.results, ...(f.results ? [I32] : [])];

/** What a module imports: the memory as m.m, a table of functions as m.t; neither with bounds asked. */
export interface Imports {
  memory?: boolean;
  table?: boolean;
}

/**
 * A module of `funcs` (index = position; function i has type i) with `imports`. `types`: more signatures,
 * types funcs.length on, for callIndirect.
 */
export function moduleOf(funcs: readonly Func[], imports: Imports = { memory: true }, types: readonly Signature[] = []): Uint8Array<ArrayBuffer> {
  // Parts laid end to end once at the end: spreading each function body into its section, and the
  // sections into the module, was half the time a plan took to make (measured at start-up, where the
  // decoder makes one plan per layout while still interpreted).
  const parts: Code[] = [[0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0]];
  const section = (id: number, content: Code[]) => parts.push([id, ...leb(lengthOf(content))], ...content);
  const signatures = [...funcs, ...types];
  section(1, [leb(signatures.length), ...signatures.map(typeOf)]);
  section(2, [
    [(imports.memory ? 1 : 0) + (imports.table ? 1 : 0)],
    imports.memory ? [...name('m'), ...name('m'), 0x02, 0x00, 0] : [],
    imports.table ? [...name('m'), ...name('t'), 0x01, 0x70, 0x00, 0] : [],
  ]);
  section(3, [leb(funcs.length), ...funcs.map((_, i) => leb(i))]);
  const exported = funcs.flatMap((f, i) => (f.name ? [[...name(f.name), 0x00, ...leb(i)]] : []));
  section(7, [leb(exported.length), ...exported]);
  const bodies = funcs.flatMap((f) => {
    const locals = f.locals > 0 ? [1, ...leb(f.locals), I32] : [0];
    return [leb(locals.length + f.body.length + 1), locals, f.body, [0x0b]];
  });
  section(10, [leb(funcs.length), ...bodies]);
  const octets = new Uint8Array(lengthOf(parts));
  let at = 0;
  for (const part of parts) {
    octets.set(part, at);
    at += part.length;
  }
  return octets;
}

function lengthOf(parts: readonly Code[]): number {
  let n = 0;
  for (const part of parts) n += part.length;
  return n;
}

/** The module's exports, its memory (and table) given; null when there is no memory (no WebAssembly here). */
export function instantiate(octets: Uint8Array<ArrayBuffer>, memory: WebAssembly.Memory | null, table?: WebAssembly.Table): WebAssembly.Exports | null {
  if (!memory) return null;
  return new WebAssembly.Instance(new WebAssembly.Module(octets), { m: table ? { m: memory, t: table } : { m: memory } }).exports;
}
