// inputs[].receive: how a UDP input reads its socket — auto (the recvmmsg addon when it is built, else
// node:dgram), recvmmsg (the addon or fail) or dgram; anything else is an error that names the key, the
// line and the nearest valid value.

import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config/load.js';

const config = (receive?: string) => `inputs:\n  - name: in\n    listen: udp://127.0.0.1:2055\n${receive !== undefined ? `    receive: ${receive}\n` : ''}outputs:\n  - name: out\n    url: tcp://127.0.0.1:4739\n`;

describe('inputs[].receive', () => {
  it('auto, recvmmsg and dgram are taken; auto without the key', () => {
    expect(parseConfig(config(), '/x.yaml').inputs[0]!.receive).toBe('auto');
    for (const r of ['auto', 'recvmmsg', 'dgram']) expect(parseConfig(config(r), '/x.yaml').inputs[0]!.receive).toBe(r);
  });

  it('another value names the key, the line and the nearest value', () => {
    let err: unknown;
    try {
      parseConfig(config('recvmsg'), '/x.yaml');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).errors).toEqual(['/x.yaml:4: inputs[0].receive: must be one of auto, recvmmsg, dgram (auto: recvmmsg when the addon is built, else dgram) — did you mean "recvmmsg"?']);
  });
});
