// outputs[].exportTime (RFC 6183 §7): keep or now, absent by default (now); anything else is an error that
// names the key, the line and the nearest valid value.

import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config/load.js';

const config = (exportTime: string) => `inputs:\n  - name: in\n    listen: udp://127.0.0.1:2055\noutputs:\n  - name: out\n    url: tcp://127.0.0.1:4739\n    exportTime: ${exportTime}\n`;

describe('outputs[].exportTime', () => {
  it('keep and now are taken; without the key the output has none (now)', () => {
    expect(parseConfig(config('keep'), '/x.yaml').outputs[0]!.exportTime).toBe('keep');
    expect(parseConfig(config('now'), '/x.yaml').outputs[0]!.exportTime).toBe('now');
    expect(parseConfig('inputs:\n  - name: in\n    listen: udp://127.0.0.1:2055\noutputs:\n  - name: out\n    url: tcp://127.0.0.1:4739\n', '/x.yaml').outputs[0]!.exportTime).toBeUndefined();
  });

  it('another value names the key, the line and the nearest value', () => {
    let err: unknown;
    try {
      parseConfig(config('kep'), '/x.yaml');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).errors).toEqual(['/x.yaml:7: outputs[0].exportTime: must be keep (the incoming message\'s Export Time) or now (the time the message is built) — did you mean "keep"?']);
  });
});
