// The decoder of each protocol.

import type { DecoderFactory } from './decoder.js';
import type { InputProtocol } from './session.js';
import { createNetflow5Decoder } from './netflow5/decode.js';
import { createNetflow9Decoder } from './netflow9/decode.js';
import { createIpfixDecoder } from './ipfix/decode.js';
import { createSflowDecoder } from './sflow/decode.js';

export const DECODERS: Record<InputProtocol, DecoderFactory> = {
  netflow5: createNetflow5Decoder,
  netflow9: createNetflow9Decoder,
  ipfix: createIpfixDecoder,
  sflow: createSflowDecoder,
};
