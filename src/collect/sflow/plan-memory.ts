// The memory the sFlow decoders of a thread decode in: one WebAssembly memory holding the datagram being
// decoded, where layoutOf found its parts, the datagram's clock, and the staging areas of record shapes.
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
/** Staging chunks start on the second page. */
const CHUNKS_AT = 2 * PAGE;
/** Chunks the memory holds (128 MiB of address space with the first two pages): the first chunk of 126
 *  decoders, or 126 x 128 shapes. A decoder takes its first when it makes its first shape. */
const CHUNKS = 126;

export interface PlanMemory {
  /** Null when this runtime has no WebAssembly: the decoders then use ordinary Buffers and JS plans. */
  readonly memory: WebAssembly.Memory | null;
  readonly datagram: Buffer;
  readonly datagramView: DataView;
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
  const buffer = memory ? memory.buffer : new ArrayBuffer(CHUNKS_AT);
  return {
    memory,
    datagram: Buffer.from(buffer, 0, DATAGRAM_LENGTH),
    datagramView: new DataView(buffer, 0, DATAGRAM_LENGTH),
    slots: new Int32Array(buffer, SLOTS_AT, MAX_SLOTS),
  };
}

/** The thread's plan memory (one datagram is decoded at a time per thread). */
export const PLAN_MEMORY: PlanMemory = create();
/** The clock's view: the datagram's DataView does not reach it. */
const clockView = new DataView(PLAN_MEMORY.datagram.buffer, CLOCK_AT, 12);
let chunksTaken = 0;

/** Writes the datagram's arrival time (epoch ms, below 2^53) and the agent's uptime where plans read them. */
export function setClock(timeMs: number, uptime: number): void {
  setUint53(clockView, CLOCK_TIME, timeMs);
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
