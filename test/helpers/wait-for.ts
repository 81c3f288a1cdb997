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
