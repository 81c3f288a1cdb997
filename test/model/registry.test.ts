import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync, copyFileSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadRegistry, DEFAULT_MAPPINGS_DIR } from '../../src/model/registry.js';

describe('IE registry', () => {
  const reg = loadRegistry();

  it('holds the IANA facts', () => {
    expect(reg.get(0, 1)).toMatchObject({ name: 'octetDeltaCount', dataType: 'unsigned64', semantics: 'deltaCounter', units: 'octets' });
    expect(reg.get(0, 152)).toMatchObject({ name: 'flowStartMilliseconds', dataType: 'dateTimeMilliseconds' });
    expect(reg.byName('originalObservationDomainId')).toMatchObject({ id: 405, dataType: 'unsigned32' });
    expect(reg.byName('sourceIPv6Address')?.id).toBe(27);
    expect(reg.get(0, 30000)).toBeUndefined();
    expect([...reg.all()].filter((e) => e.enterprise === 0).length).toBe(460);
    // mappings/sflow-elements.yaml: the sFlow facts no IANA element describes, under their default PEN.
    expect([...reg.all()].filter((e) => e.enterprise === 4294967293).length).toBe(39);
    expect(reg.byName('sflowDiscardReason')).toMatchObject({ id: 5, enterprise: 4294967293, dataType: 'unsigned32' });
  });

  it('derives RFC 5103 reverse elements under PEN 29305', () => {
    expect(reg.get(29305, 1)).toMatchObject({ name: 'reverseOctetDeltaCount', enterprise: 29305, dataType: 'unsigned64' });
    expect(reg.byName('reverseSourceIPv4Address')).toMatchObject({ id: 8, enterprise: 29305 });
  });

  it('adds vendor element files and rejects a bad data type', () => {
    const dir = mkdtempSync(join(tmpdir(), 'reg-'));
    copyFileSync(join(DEFAULT_MAPPINGS_DIR, 'iana-elements.yaml'), join(dir, 'iana-elements.yaml'));
    writeFileSync(join(dir, 'acme-elements.yaml'), 'enterprise: 99999\nelements:\n  - { id: 7, name: acmeWidget, type: unsigned16 }\n');
    expect(loadRegistry(dir).get(99999, 7)).toMatchObject({ name: 'acmeWidget', dataType: 'unsigned16' });
    const bad = mkdtempSync(join(tmpdir(), 'reg-'));
    writeFileSync(join(bad, 'x-elements.yaml'), 'enterprise: 1\nelements:\n  - { id: 7, name: w, type: int }\n');
    expect(() => loadRegistry(bad)).toThrow(/not an RFC 7012 abstract data type/);
  });

  it('mappings/iana-elements.yaml is exactly what scripts/gen-registry.mjs makes of the IANA registry', () => {
    const root = resolve(DEFAULT_MAPPINGS_DIR, '..');
    const out = join(mkdtempSync(join(tmpdir(), 'gen-')), 'iana-elements.yaml');
    execFileSync(process.execPath, [join(root, 'scripts/gen-registry.mjs'), resolve(root, '../shared/registry/iana-elements.xml'), out], { stdio: 'ignore', timeout: 20000 });
    expect(readFileSync(out, 'utf8')).toBe(readFileSync(join(DEFAULT_MAPPINGS_DIR, 'iana-elements.yaml'), 'utf8'));
  });

  it('keeps semantics, units and a non-current status where IANA gives them', () => {
    expect(reg.get(0, 7)).toEqual({ id: 7, enterprise: 0, name: 'sourceTransportPort', dataType: 'unsigned16', semantics: 'identifier' });
    expect(reg.get(0, 104)).toMatchObject({ name: 'layer2packetSectionData', status: 'deprecated' });
    expect(reg.get(0, 156)).toMatchObject({ dataType: 'dateTimeNanoseconds', units: 'nanoseconds' });
  });
});
