// RFC 7011 wire constants.

export const IPFIX_VERSION = 10;
export const NETFLOW_V9_VERSION = 9;
export const NETFLOW_V5_VERSION = 5;

/** Message Header: version, length, export time, sequence number, observation domain id. */
export const MESSAGE_HEADER_LENGTH = 16;
/** Set Header: set id, length. */
export const SET_HEADER_LENGTH = 4;

export const TEMPLATE_SET_ID = 2;
export const OPTIONS_TEMPLATE_SET_ID = 3;
/** Set IDs 4..255 are reserved; 256 and above are Data Sets named by their Template ID. */
export const MIN_DATA_SET_ID = 256;

/** Field length that announces a variable-length Information Element (RFC 7011 §7). */
export const VARLEN = 0xffff;
/** High bit of the Information Element identifier: an Enterprise Number follows. */
export const ENTERPRISE_BIT = 0x8000;

/** Largest IPFIX Message: the length field is 16 bits. */
export const MAX_MESSAGE_LENGTH = 0xffff;

/** RFC 5103 reverse-direction Private Enterprise Number. */
export const REVERSE_PEN = 29305;
