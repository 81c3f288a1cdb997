// Mapping tables are data: editing a YAML entry (in a temporary copy of mappings/) changes the output,
// and a mistake in a table is reported with its file, line and key.

import { afterAll, describe, expect, it } from 'vitest';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createNetflow5Decoder } from '../../src/collect/netflow5/decode.js';
import { createNetflow9Decoder } from '../../src/collect/netflow9/decode.js';
import { loadNetflow5Table, parseNetflow5Table } from '../../src/mapping/netflow5-table.js';
import { buildNetflow9Table, loadNetflow9Table } from '../../src/mapping/netflow9-table.js';
import { MappingError, MappingSource } from '../../src/mapping/source.js';
import { udpPayloads } from '../../src/util/pcap.js';
import { tempDir } from '../helpers/tools.js';
import { allRows, corpus, mappingConfig, mappingsDir, RecordingContext, testRegistry } from './harness.js';

const reg = testRegistry();
const tmp = tempDir('ipfix-mediator-mapping-');
afterAll(() => tmp.cleanup());
let copies = 0;

/** A copy of mappings/ with `edit` applied to one file; returns the directory. */
function editedMappings(file: string, edit: (text: string) => string): string {
  const dir = join(tmp.dir, `m${copies++}`);
  cpSync(mappingsDir, dir, { recursive: true });
  const path = join(dir, file);
  const before = readFileSync(path, 'utf8');
  const after = edit(before);
  if (after === before) throw new Error(`edit of ${file} changed nothing`);
  writeFileSync(path, after);
  return dir;
}

function decode(file: string, dir: string, v: 5 | 9) {
  const options = { registry: reg, mapping: { ...mappingConfig, dir } };
  const d = v === 5 ? createNetflow5Decoder(options) : createNetflow9Decoder(options);
  const ctx = new RecordingContext();
  for (const p of udpPayloads(resolve(corpus, file))) d(ctx, p.payload, p.src, p.srcPort);
  return ctx;
}

describe('a mapping change is an edit of YAML', () => {
  it('v5: pointing srcaddr at another IE changes the output element, value unchanged', () => {
    const dir = editedMappings('netflow-v5.yaml', (t) => t.replace('ie: sourceIPv4Address', 'ie: postNATSourceIPv4Address'));
    const ctx = decode('nf5/akvorado__nfv5.pcap', dir, 5);
    expect(ctx.records[0]!.template.fields[0]).toEqual({ id: 225, enterprise: 0, length: 4 });
    const [r] = allRows(reg, ctx);
    expect(r!.postNATSourceIPv4Address).toBe('161.202.212.212'); // tshark's srcaddr of the first record
    expect(r!.sourceIPv4Address).toBeUndefined();
  });

  it('v5: removing the ie of a header field takes it out of every record', () => {
    const dir = editedMappings('netflow-v5.yaml', (t) => t.replace(/ie: engineType \}/, '}'));
    const ctx = decode('nf5/akvorado__nfv5.pcap', dir, 5);
    expect(ctx.records[0]!.template.fields.some((f) => f.id === 38)).toBe(false);
    expect(allRows(reg, ctx)[0]!.engineId).toBe(3);
  });

  it('v5: outLength widens a field (ingressInterface to its full 4 octets)', () => {
    const dir = editedMappings('netflow-v5.yaml', (t) => t.replace('length: 2, ie: ingressInterface }', 'length: 2, ie: ingressInterface, outLength: 4 }'));
    const ctx = decode('nf5/akvorado__nfv5.pcap', dir, 5);
    expect(ctx.records[0]!.template.fields[3]).toEqual({ id: 10, enterprise: 0, length: 4 });
    expect(allRows(reg, ctx)[0]!.ingressInterface).toBe(117);
  });

  it('v9: removing an IANA-aligned id from the table sends that type to the PEN', () => {
    const dir = editedMappings('netflow-v9.yaml', (t) => t.replace(/\n\s+- flowId\s+#.*\n/, '\n'));
    const ctx = decode('nf9/logstash-dat__cisco_asa.pcap', dir, 9);
    expect(ctx.records[0]!.template.fields[0]).toEqual({ id: 148, enterprise: 4294967294, length: 4 });
    expect(allRows(reg, ctx)[0]!['4294967294/148']).toBe('00002134'); // flowId 8500
  });

  it('v9: a vendor table entry maps an NSEL type; without it the type stays under the high PEN', () => {
    const dir = editedMappings('netflow-v9-cisco.yaml', (t) => t.replace(/.*type: 40005.*\n/, ''));
    const ctx = decode('nf9/logstash-dat__cisco_asa.pcap', dir, 9);
    const fields = ctx.records[0]!.template.fields;
    expect(fields.some((f) => f.id === 233 && f.enterprise === 0)).toBe(false);
    expect(fields).toContainEqual({ id: 40005 - 32768, enterprise: 4294967295, length: 1 });
  });

  it('v9: a new vendor file is picked up (mappings/netflow-v9-*.yaml)', () => {
    const dir = editedMappings('netflow-v9-cisco.yaml', (t) => t + '  - { type: 33002, name: NF_F_FW_EXT_EVENT, ie: flowEndReason, length: 1 }\n');
    // 33002 is 2 octets in the ASA capture: a length-1 entry does not apply, the PEN rule still does
    const ctx = decode('nf9/logstash-dat__cisco_asa.pcap', dir, 9);
    expect(ctx.records[0]!.template.fields).toContainEqual({ id: 33002 - 32768, enterprise: 4294967295, length: 2 });
    writeFileSync(join(dir, 'netflow-v9-local.yaml'), 'format: netflow-v9\nvendor: local\nfields:\n  - { type: 33002, ie: tcpWindowSize }\n');
    const ctx2 = decode('nf9/logstash-dat__cisco_asa.pcap', dir, 9);
    expect(ctx2.records[0]!.template.fields).toContainEqual({ id: 186, enterprise: 0, length: 2 });
    expect(allRows(reg, ctx2)[0]!.tcpWindowSize).toBe(2025);
  });

  it('v9: the unmapped-type PENs come from the configuration', () => {
    const options = { registry: reg, mapping: { ...mappingConfig, netflow9Enterprise: 64512, netflow9HighEnterprise: 64513 } };
    const t = loadNetflow9Table(reg, options.mapping);
    expect(t.mapField(5000, 2)?.spec).toEqual({ id: 5000, enterprise: 64512, length: 2 });
    expect(t.mapField(33000, 12)?.spec).toEqual({ id: 232, enterprise: 64513, length: 12 });
  });
});

describe('mapping table errors name the file, the line and the key', () => {
  const v5Text = readFileSync(join(mappingsDir, 'netflow-v5.yaml'), 'utf8');
  const v9Text = readFileSync(join(mappingsDir, 'netflow-v9.yaml'), 'utf8');
  const lineOf = (text: string, needle: string) => text.split('\n').findIndex((l) => l.includes(needle)) + 1;

  const v5Error = (text: string): MappingError => {
    try {
      parseNetflow5Table(reg, new MappingSource('netflow-v5.yaml', text));
    } catch (e) {
      return e as MappingError;
    }
    throw new Error('no error');
  };

  it('an unknown element name', () => {
    const e = v5Error(v5Text.replace('ie: destinationIPv4Address', 'ie: destinationIPv4Adress'));
    expect(e).toBeInstanceOf(MappingError);
    expect(e.line).toBe(lineOf(v5Text, 'field: dstaddr'));
    expect(e.key).toBe('fields[1].ie');
    expect(e.message).toContain('unknown Information Element "destinationIPv4Adress"');
    expect(e.message).toMatch(/^netflow-v5\.yaml:\d+: fields\[1\]\.ie: /);
  });

  it('a length the element type cannot have', () => {
    const e = v5Error(v5Text.replace('offset: 8,  length: 4, ie: ipNextHopIPv4Address', 'offset: 8,  length: 2, ie: ipNextHopIPv4Address'));
    expect(e.key).toBe('fields[2].ie');
    expect(e.message).toContain('ipNextHopIPv4Address is ipv4Address: 2 octets is not a valid encoding');
  });

  it('overlapping fields, a misspelt key, a YAML syntax error', () => {
    expect(v5Error(v5Text.replace('offset: 4,  length: 4', 'offset: 2,  length: 4')).message).toContain('overlaps');
    expect(v5Error(v5Text.replace('transform: uptime-to-epoch-ms }', 'transfrom: uptime-to-epoch-ms }')).key).toBe('fields[7].transfrom');
    const syntax = v5Error(v5Text.replace('fields:\n', 'fields:\n  - { field: x, offset: 0\n'));
    expect(syntax.key).toBe('(yaml)');
  });

  it('a v9 type mapped in two tables', () => {
    const base = new MappingSource('netflow-v9.yaml', v9Text);
    const vendor = new MappingSource('netflow-v9-x.yaml', 'format: netflow-v9\nvendor: x\nfields:\n  - { type: 22, ie: flowStartSeconds }\n');
    expect(() => buildNetflow9Table(reg, mappingConfig, base, [vendor])).toThrow(
      new RegExp(`^netflow-v9-x\\.yaml:4: fields\\[0\\]\\.type: type 22 is already mapped at netflow-v9\\.yaml:${lineOf(v9Text, 'type: 22')}$`),
    );
  });

  it('loads the shipped tables without error', () => {
    expect(loadNetflow5Table(reg, mappingsDir).fields.length).toBe(22);
    expect(loadNetflow9Table(reg, mappingConfig).files.map((f) => f.split('/').pop())).toEqual(['netflow-v9.yaml', 'netflow-v9-cisco.yaml', 'netflow-v9-ntop.yaml']);
  });
});
