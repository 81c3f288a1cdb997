// Waiting, bounded, for a value that arrives asynchronously (a packet on a socket, a line in a file).

/** Resolves with `f()` as soon as it is not undefined (checked every 5 ms); rejects after `ms`, naming `what`. */
export function waitFor<T>(what: string, f: () => T | undefined, ms = 5000): Promise<T> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const tick = () => {
      const v = f();
      if (v !== undefined) return resolve(v);
      if (Date.now() - t0 > ms) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(tick, 5);
    };
    tick();
  });
}

/**
 * Polls `cond` every 10 ms until it holds; throws after `ms`, naming `what` and whatever `explain` adds
 * (e.g. what a peer has printed so far).
 */
export async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 15_000, explain?: () => string): Promise<void> {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}${explain ? `. ${explain()}` : ''}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
