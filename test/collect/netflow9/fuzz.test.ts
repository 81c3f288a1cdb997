// Malformed NetFlow v9 bytes never crash the decoder and never produce malformed IPFIX records
// (fuzzDecoder in test/mapping/harness.ts: mutated corpus datagrams, every output and drop checked).

import { describe, expect, it } from 'vitest';
import { createNetflow9Decoder } from '../../../src/collect/netflow9/decode.js';
import { fuzzDecoder, mappingConfig, testRegistry } from '../../mapping/harness.js';

describe('NetFlow v9 decoder on fuzzed corpus datagrams', () => {
  it('60,000 cases: no throw, well-formed records, every drop with a known reason', () => {
    const r = fuzzDecoder('nf9', createNetflow9Decoder({ registry: testRegistry(), mapping: mappingConfig }), 60_000, 9);
    expect(r.records).toBeGreaterThan(10_000);
    expect(r.drops).toBeGreaterThan(1000);
  });
});
