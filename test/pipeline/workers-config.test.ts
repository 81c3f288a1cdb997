// The top-level `workers` key (src/config/load.ts): an integer from 0 to 64, its default, and errors that
// name the key and the line.

import { describe, expect, it } from 'vitest';
import { DEFAULT_WORKERS, parseConfig } from '../../src/config/load.js';
import { configErrors } from '../helpers/config-errors.js';

const base = `inputs:
  - name: in
    listen: udp://127.0.0.1:2055
outputs:
  - name: out
    url: udp://127.0.0.1:4739
`;

describe('config workers', () => {
  it('takes 0 to 64 and defaults to DEFAULT_WORKERS', () => {
    expect(parseConfig(base, 'gw.yaml').workers).toBe(DEFAULT_WORKERS);
    for (const n of [0, 1, 2, 64]) expect(parseConfig(`${base}workers: ${n}\n`, 'gw.yaml').workers).toBe(n);
  });

  it.each([
    ['-1', '-1'],
    ['65', '65'],
    ['1.5', '1.5'],
    ['two', '"two"'],
  ])('refuses workers: %s naming the key and its line', (value, shown) => {
    expect(configErrors(`${base}workers: ${value}\n`)).toEqual([`gw.yaml:7: workers: must be an integer from 0 to 64 (got ${shown})`]);
  });

  it('suggests workers for a misspelt key', () => {
    expect(configErrors(`${base}worker: 2\n`)).toEqual(['gw.yaml:7: worker: unknown key — did you mean "workers"?']);
  });
});
