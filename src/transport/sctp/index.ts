// The SCTP stack's wire-format layer and lower layers (RFC 9260, RFC 3758, RFC 6951). Self-contained:
// nothing here imports from the rest of the project.

export * from './wire.js';
export * from './crc32c.js';
export * from './parameter.js';
export * from './error-cause.js';
export * from './chunk.js';
export * from './packet.js';
export * from './lower-layer.js';
export * from './udp-encap.js';
export * from './lossy-link.js';
export * from './raw-ip.js';
export * from './kernel-sctp.js';
// the protocol machine (RFC 9260 §4-§9, RFC 3758) and its parts
export * from './serial.js';
export * from './rto.js';
export * from './congestion.js';
export * from './send-tracker.js';
export * from './receive-tracker.js';
export * from './reassembly.js';
export * from './timer.js';
export * from './virtual-clock.js';
export * from './cookie.js';
export * from './handshake.js';
export * from './sctp-error.js';
export * from './association.js';
export * from './endpoint.js';
