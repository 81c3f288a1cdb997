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
