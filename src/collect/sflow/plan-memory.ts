// The memory the sFlow decoders of a thread decode in: one WebAssembly memory holding the datagram being
// decoded, where layoutOf found its parts, the datagram's clock, the areas the thread's UDP receivers put
// datagrams in, and the staging areas of record shapes.
// The compiled plans (sample-plan.ts) write most of a record with WebAssembly loads and stores, which need
// the datagram and the record in the one memory they address; measured here, 40 four-octet moves took
// 21-24 ns in WebAssembly against 71-90 ns through DataViews.
//
// The memory never grows: growing would detach its ArrayBuffer, and with it every Buffer handed downstream.
// Its size is reserved address space; only the pages written are ever resident. Staging chunks beyond it
// are ordinary Buffers, and shapes staged there are written by the JavaScript plans alone.

import { setUint53 } from '../../util/octets.js';

/** Octets of the datagram area: any UDP payload fits. */
export const DATAGRAM_LENGTH = 65536;
/** layoutOf's slots (Int32, native order) and the clock (big-endian octets, as in a record). */
export const SLOTS_AT = DATAGRAM_LENGTH;
export const MAX_SLOTS = 32;
/** observationTimeMilliseconds (8 octets) then the agent's uptime (4 octets) of the datagram. */
export const CLOCK_AT = SLOTS_AT + 4 * MAX_SLOTS;
export const CLOCK_TIME = 0;
export const CLOCK_UPTIME = 8;
const PAGE = 65536;
/** Octets of one staging chunk (shapes.ts cuts it into areas). */
export const CHUNK_OCTETS = 1 << 20;
/**
 * Receive areas, from the third page: a UDP receiver of the thread (collect/listener.ts) puts the datagrams
 * it reads in one, and the sFlow decoder decodes them where they lie, where it would copy any other datagram
 * to its datagram area first (that copy was 10-18 % of the decoder's time per sample). One per receiver.
 */
export const RECEIVE_AREA_OCTETS = 256 * 1024;
const RECEIVE_AREAS = 32;
const RECEIVE_AT = 2 * PAGE;
const RECEIVE_END = RECEIVE_AT + RECEIVE_AREAS * RECEIVE_AREA_OCTETS;
/** Staging chunks start after the receive areas. */
const CHUNKS_AT = RECEIVE_END;
/** Chunks the memory holds (134 MiB of address space with the pages before them): two per decoder with
 *  WebAssembly plans (its staging and its walk, sample-walk.ts). */
const CHUNKS = 126;

export interface PlanMemory {
  /** Null when this runtime has no WebAssembly: the decoders then use ordinary Buffers and JS plans. */
  readonly memory: WebAssembly.Memory | null;
  /** The whole memory, octets and DataView: decoders read datagrams through these at their offsets. */
  readonly bytes: Buffer;
  readonly view: DataView;
  readonly slots: Int32Array;
}

function create(): PlanMemory {
  let memory: WebAssembly.Memory | null = null;
  try {
    const pages = (CHUNKS_AT + CHUNKS * CHUNK_OCTETS) / PAGE;
    memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
  } catch {
    memory = null;
  }
  const buffer = memory ? memory.buffer : new ArrayBuffer(RECEIVE_AT);
  return {
    memory,
    bytes: Buffer.from(buffer),
    view: new DataView(buffer),
    slots: new Int32Array(buffer, SLOTS_AT, MAX_SLOTS),
  };
}

/** The thread's plan memory (one datagram is decoded at a time per thread). */
export const PLAN_MEMORY: PlanMemory = create();
/** The clock's own view (setUint53 writes at an offset of a view). */
const clockView = new DataView(PLAN_MEMORY.bytes.buffer, CLOCK_AT, 12);
let chunksTaken = 0;
/** Which receive areas a receiver holds. */
const receiveTaken = new Uint8Array(RECEIVE_AREAS);

/** The arrival time last written to the clock. */
let clockTime = -1;

/** Writes the datagram's arrival time (epoch ms, below 2^53) and the agent's uptime where plans read them.
 *  The datagrams of a receive batch share their arrival time: it is written once per batch. */
export function setClock(timeMs: number, uptime: number): void {
  if (timeMs !== clockTime) {
    clockTime = timeMs;
    setUint53(clockView, CLOCK_TIME, timeMs);
  }
  clockView.setUint32(CLOCK_UPTIME, uptime);
}

/** A staging chunk: in the plan memory while it lasts (`address` its offset there), else a Buffer of its own
 *  (`address` -1). Zeroed either way. */
export function takeChunk(): { chunk: Buffer; address: number } {
  if (PLAN_MEMORY.memory && chunksTaken < CHUNKS) {
    const address = CHUNKS_AT + CHUNK_OCTETS * chunksTaken++;
    return { chunk: Buffer.from(PLAN_MEMORY.memory.buffer, address, CHUNK_OCTETS), address };
  }
  return { chunk: Buffer.alloc(CHUNK_OCTETS), address: -1 };
}

/** A receive area for a receiver of this thread, until releaseReceiveArea; null when all are taken or the
 *  runtime has no WebAssembly (the receiver then uses a buffer of its own, and the decoder copies). */
export function takeReceiveArea(): Buffer | null {
  if (!PLAN_MEMORY.memory) return null;
  const i = receiveTaken.indexOf(0);
  if (i < 0) return null;
  receiveTaken[i] = 1;
  return Buffer.from(PLAN_MEMORY.memory.buffer, RECEIVE_AT + i * RECEIVE_AREA_OCTETS, RECEIVE_AREA_OCTETS);
}

/** The receiver of `area` (from takeReceiveArea) is closed and writes no more. */
export function releaseReceiveArea(area: Buffer): void {
  receiveTaken[(area.byteOffset - RECEIVE_AT) / RECEIVE_AREA_OCTETS] = 0;
}

/** The batch being handed on, when it lies in a receive area (readingReceiveArea), its offset in the
 *  memory and its length (read once: a Buffer's byteOffset is a call). */
let areaBatch: Uint8Array | null = null;
let areaBatchAt = 0;
let areaBatchLength = 0;

/**
 * A reader (pipeline/datagram-batch.ts) starts handing on the datagrams of `batch`, or ends (null). Only the
 * datagrams of a batch found in a receive area here are decoded in place: the check is made once per batch
 * (reading a Buffer's .buffer is a call, ~20 ns).
 */
export function readingReceiveArea(batch: Uint8Array | null): void {
  areaBatch = batch !== null && batch.buffer === PLAN_MEMORY.memory?.buffer && batch.byteOffset >= RECEIVE_AT && batch.byteOffset + batch.length <= RECEIVE_END ? batch : null;
  areaBatchAt = areaBatch ? areaBatch.byteOffset : 0;
  areaBatchLength = areaBatch ? areaBatch.length : 0;
}

/** Where the datagram bytes[start, end) lies in the plan memory when it is in a receive area, else -1.
 *  Only there is a datagram decoded in place: nothing but its receiver writes an area, never while a
 *  decoder reads it. */
export function receivedAt(bytes: Uint8Array, start: number, end: number): number {
  return bytes === areaBatch && start >= 0 && start <= end && end <= areaBatchLength ? areaBatchAt + start : -1;
}
