// Malformed NetFlow v5 bytes never crash the decoder and never produce malformed IPFIX records
// (fuzzDecoder in test/mapping/harness.ts: mutated corpus datagrams, every output and drop checked).

import { describe, expect, it } from 'vitest';
import { createNetflow5Decoder } from '../../../src/collect/netflow5/decode.js';
import { fuzzDecoder, mappingConfig, testRegistry } from '../../mapping/harness.js';

describe('NetFlow v5 decoder on fuzzed corpus datagrams', () => {
  it('50,000 cases: no throw, well-formed records, every drop with a known reason', () => {
    const r = fuzzDecoder('nf5', createNetflow5Decoder({ registry: testRegistry(), mapping: mappingConfig }), 50_000, 5);
    expect(r.records).toBeGreaterThan(100_000);
    expect(r.drops).toBeGreaterThan(1000);
  });
});
