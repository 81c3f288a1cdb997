// What an Exporting Process needs from a transport: send whole IPFIX messages, know whether it is up,
// and learn when a new Transport Session begins (a TCP connection, a new file), after which every
// template must be sent again before data and sequence numbers start over (RFC 7011 §10).

export interface Transport {
  /** Template Withdrawals are only sent on reliable transports (RFC 7011 §8.1). */
  readonly reliable: boolean;
  /** Templates are re-sent periodically on unreliable transports (RFC 7011 §8.4). */
  readonly refreshesTemplates: boolean;
  /** Largest IPFIX message this transport carries. */
  readonly maxMessage: number;
  start(onSession: () => void): Promise<void>;
  isUp(): boolean;
  /**
   * Sends one message (the buffer is the transport's from now on, unless `doneOnReturn`). False: it was
   * dropped, with `reason`.
   */
  send(message: Buffer): true | { reason: string };
  /**
   * send() has written the message out (or copied it) by the time it returns, so the caller may fill the
   * same buffer again (files: writeSync). Absent or false: send() keeps the buffer (a socket's queue).
   */
  readonly doneOnReturn?: boolean;
  close(): Promise<void>;
  /**
   * Set by the user (the OutputQueue) on a reliable transport that can tell which accepted messages its
   * peer never acknowledged: when a Transport Session dies, the transport hands those back — in the order
   * they were sent, the very buffers given to send() — before any new session starts. Without it, the
   * transport logs what it lost. (sctp:// only: a TCP socket cannot say what its peer acknowledged.)
   */
  onReturned?: (messages: Buffer[]) => void;
  /** Files: true when size or age says the next message belongs in a new file. */
  rotateDue?(): boolean;
  /** Files: close this file and start the next (a new Transport Session: onSession fires). */
  rotate?(): void;
}
