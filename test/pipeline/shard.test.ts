// The shard function (src/pipeline/shard.ts): one exporter always lands on one worker, whatever its port,
// and the exporters of a loopback replay (127.0.0.x) spread over the workers.

import { describe, expect, it } from 'vitest';
import { shardOf } from '../../src/pipeline/shard.js';

describe('shardOf', () => {
  it('keeps an address on one worker, in range, for every worker count', () => {
    for (const workers of [1, 2, 3, 8]) {
      for (let i = 1; i <= 252; i++) {
        const a = `127.0.0.${i}`;
        const s = shardOf(a, workers);
        expect(s).toBeGreaterThanOrEqual(0);
        expect(s).toBeLessThan(workers);
      }
    }
    expect(shardOf('2001:db8::1', 4)).toBe(shardOf(['2001', 'db8', '', '1'].join(':'), 4));
  });

  it('spreads 252 loopback exporters over 2 and 4 workers (none gets less than a sixth of its share)', () => {
    for (const workers of [2, 4]) {
      const counts = new Array<number>(workers).fill(0);
      for (let i = 1; i <= 252; i++) counts[shardOf(`127.0.0.${i}`, workers)]!++;
      for (const c of counts) expect(c).toBeGreaterThan(252 / workers / 6);
    }
  });

  it('gives the 27 sFlow agents of the oxyflow capture (one source address each) to both of 2 workers', () => {
    // replay --map-exporters sends each original exporter from 127.0.0.2, .3, ...
    const used = new Set(Array.from({ length: 27 }, (_, i) => shardOf(`127.0.0.${i + 2}`, 2)));
    expect(used).toEqual(new Set([0, 1]));
  });
});
