// What the stack's public API throws or rejects with.

export type SctpErrorCode = 'init-failed' | 'aborted' | 'comm-lost' | 'closed';

export class SctpError extends Error {
  constructor(
    readonly code: SctpErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'SctpError';
  }
}
