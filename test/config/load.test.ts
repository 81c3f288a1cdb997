import { describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseConfig, loadConfig, DEFAULT_CONFIG_PATH } from '../../src/config/load.js';
import { configErrors } from '../helpers/config-errors.js';

const errorsOf = (text: string): string[] => configErrors(text);

describe('config', () => {
  it('applies the documented defaults', () => {
    const c = parseConfig('inputs:\n  - name: r\n    listen: udp://127.0.0.1:2055\noutputs:\n  - name: c\n    url: tcp://127.0.0.1:4739\n', 'gw.yaml');
    expect(c.inputs[0]).toEqual({ name: 'r', listen: 'udp://127.0.0.1:2055', protocol: 'auto', sessionTimeout: 300, templateTimeout: 1800, pendingTimeout: 10, pendingLimit: 256, receiveBuffer: 32 << 20, receive: 'auto' });
    expect(c.outputs[0]).toMatchObject({ templateRefresh: 60, mtu: 1500, flushInterval: 50, reconnectMin: 1, reconnectMax: 30, rotate: { maxBytes: 64 << 20, interval: 300, keep: 0 } });
    expect(c.metrics).toBe('127.0.0.1:9464');
    expect(c.mapping.netflow9Enterprise).toBe(4294967294);
    expect(c.mapping.netflow9HighEnterprise).toBe(4294967295);
    expect(c.mapping.sflow).toEqual({ enterprise: 4294967293, keepOuterFlow: false, scaleCounts: false, headerSection: false });
  });

  it('takes the sFlow mapping switches and the well-known port of a forced protocol', () => {
    const c = parseConfig(
      'inputs:\n  - name: s\n    listen: udp://0.0.0.0\n    protocol: sflow\n  - name: i\n    listen: udp://[::1]\n    protocol: ipfix\noutputs:\n  - name: o\n    url: file:x.ipfix\n' +
        'mapping:\n  sflow:\n    enterprise: 64500\n    keepOuterFlow: true\n    scaleCounts: true\n    headerSection: true\n',
      '/tmp/gw.yaml',
    );
    expect(c.inputs.map((i) => i.listen)).toEqual(['udp://0.0.0.0:6343', 'udp://[::1]:4739']);
    expect(c.mapping.sflow).toEqual({ enterprise: 64500, keepOuterFlow: true, scaleCounts: true, headerSection: true });
    const errs = errorsOf('inputs:\n  - name: a\n    listen: udp://0.0.0.0\noutputs:\n  - name: o\n    url: file:x.ipfix\nmapping:\n  sflow:\n    scaleCount: yes\n    headerSection: 1\n');
    expect(errs.some((e) => e.startsWith('gw.yaml:3: inputs[0].listen: "udp://0.0.0.0" is not a listen URL'))).toBe(true);
    expect(errs).toContain('gw.yaml:9: mapping.sflow.scaleCount: unknown key — did you mean "scaleCounts"?');
    expect(errs).toContain('gw.yaml:10: mapping.sflow.headerSection: must be true or false');
  });

  it('names file, line and key, and suggests the misspelt key', () => {
    const errs = errorsOf('inputs:\n  - name: r\n    listen: udp://127.0.0.1:2055\n    sesionTimeout: 30\noutputs:\n  - name: c\n    url: htp://x:1\n');
    expect(errs).toContain('gw.yaml:4: inputs[0].sesionTimeout: unknown key — did you mean "sessionTimeout"?');
    expect(errs.find((e) => e.startsWith('gw.yaml:7: outputs[0].url: unsupported scheme "htp"'))).toMatch(/did you mean "http|udp|tcp/);
  });

  it('checks types, ranges, required keys and unique names', () => {
    const errs = errorsOf('inputs:\n  - name: a\n    listen: udp://127.0.0.1:99999\n    protocol: netflow10\n    sessionTimeout: -1\n  - name: a\n    listen: udp://[::1]:2055\noutputs:\n  - url: file:///tmp/x.ipfix\n');
    expect(errs).toContain('gw.yaml:3: inputs[0].listen: "udp://127.0.0.1:99999" is not a listen URL — use udp://HOST:PORT, tcp://HOST:PORT or tls://HOST:PORT (IPv6: udp://[ADDR]:PORT); the port may be left out when protocol names the format');
    expect(errs.some((e) => e.startsWith('gw.yaml:4: inputs[0].protocol: must be one of') && e.includes('did you mean "netflow5"'))).toBe(true);
    expect(errs).toContain('gw.yaml:5: inputs[0].sessionTimeout: must be an integer from 1 to 604800 (got -1)');
    expect(errs.some((e) => e.includes('inputs: name "a" is used twice'))).toBe(true);
    expect(errs).toContain('gw.yaml:9: outputs[0].name: is required');
  });

  it('reports YAML syntax errors with a line', () => {
    expect(errorsOf('inputs:\n  - name: [unclosed\n')[0]).toMatch(/^gw\.yaml:\d+: YAML syntax/);
  });

  it('loads the embedded default and every example', () => {
    const d = loadConfig();
    expect(d.source).toBe(DEFAULT_CONFIG_PATH);
    expect(d.outputs[0]!.url).toMatch(/^file:data\//);
    const dir = resolve(import.meta.dirname, '../../config/examples');
    for (const f of readdirSync(dir)) expect(() => loadConfig(resolve(dir, f))).not.toThrow();
  });
});
