// The arrival time of the datagram being decoded. A receive path that takes datagrams in batches (the
// recvmmsg addon, a worker's batch from the main thread: pipeline/datagram-batch.ts) reads the clock once
// per batch and gives every datagram of it that time: they were all waiting when the batch was read, so
// the batch's read time is as close to their arrival as the time of each one's decode, which comes later.
// Reading the clock per datagram cost the sFlow decoder 4 % of its time per sample (Date.now() is ~90 ns
// here), and the session table read it again for every datagram. Outside a batch (node:dgram's one event
// per datagram, tests, replay) the clock is read when asked.

/** The batch's time in epoch milliseconds, or 0 outside a batch (in an array: a double in a module
 *  variable would be boxed anew on every assignment). */
const batch = new Float64Array(1);

/** Starts a batch: its datagrams arrived by now. */
export function startBatch(): void {
  batch[0] = Date.now();
}

export function endBatch(): void {
  batch[0] = 0;
}

/** The arrival time (epoch ms) of the datagram being decoded. */
export function arrivalMs(): number {
  return batch[0] !== 0 ? batch[0]! : Date.now();
}
