// A failover group (docs/export.md "Failover groups"): several reliable transports behind one Exporting
// Process, of which one carries the stream at a time. It is a Transport itself: moving to another member
// is a new Transport Session, so the output queue above it announces every Template before data on the
// new member, replays what waited, and numbers from 0 (RFC 7011 §10.4 per connection).
//
// Selection is sticky: the first member (in order) that is up takes the stream and keeps it until it goes
// down; then the next member that is up takes over. It never moves back to an earlier member that is up
// again while the current one works: the current collector's Transport Session would have to be abandoned
// mid-stream with no way to tell it, and a later return to it could not continue its Sequence Numbers.
// At start the group waits up to START_GRACE_MS for the first member before taking a later one.

import type { Transport } from '../transport/transport.js';
import { failoverActive, failoverSwitches } from '../observe/metrics.js';
import { log } from '../observe/log.js';

export interface FailoverMemberTransport {
  name: string;
  transport: Transport;
}

const EVALUATE_MS = 50;
const START_GRACE_MS = 1000;

export class FailoverTransport implements Transport {
  readonly reliable = true;
  readonly refreshesTemplates = false;
  readonly maxMessage: number;
  private active = -1;
  private everActive = false;
  private startedAt = 0;
  private timer?: NodeJS.Timeout;
  private onSession: () => void = () => {};
  private readonly gauge;
  /** What a member's peer never acknowledged when it died comes back through the group (see Transport). */
  onReturned?: (messages: Buffer[]) => void;

  constructor(
    readonly output: string,
    readonly members: FailoverMemberTransport[],
  ) {
    if (members.length === 0) throw new Error(`output ${output}: a failover group needs members`);
    for (const m of members) if (!m.transport.reliable) throw new Error(`output ${output}: failover member ${m.name} is not a reliable transport`);
    this.maxMessage = Math.min(...members.map((m) => m.transport.maxMessage));
    for (const m of members) m.transport.onReturned = (messages) => this.onReturned?.(messages);
    this.gauge = failoverActive.labels({ output });
    this.gauge.set(-1);
  }

  async start(onSession: () => void): Promise<void> {
    this.onSession = onSession;
    this.startedAt = Date.now();
    for (let i = 0; i < this.members.length; i++) await this.members[i]!.transport.start(() => this.memberSession(i));
    this.timer = setInterval(() => this.evaluate(), EVALUATE_MS);
    this.timer.unref();
    this.evaluate();
  }

  /** Index of the member carrying the stream, -1 when none is up. */
  get activeMember(): number {
    return this.active;
  }

  /** A member started a Transport Session of its own (connected, reconnected). */
  private memberSession(i: number): void {
    // The active member reconnected before anyone noticed it was gone: a new session all the same.
    if (i === this.active) this.onSession();
    else this.evaluate();
  }

  private evaluate(): void {
    const cur = this.active;
    if (cur >= 0 && this.members[cur]!.transport.isUp()) return;
    let pick = -1;
    for (let i = 0; i < this.members.length; i++) {
      if (!this.members[i]!.transport.isUp()) continue;
      // Before anything was sent, the first members get a moment to connect.
      if (!this.everActive && i > 0 && Date.now() - this.startedAt < START_GRACE_MS) break;
      pick = i;
      break;
    }
    if (pick === cur) return;
    this.active = pick;
    this.gauge.set(pick);
    if (pick < 0) {
      log.warn({ output: this.output, member: this.members[cur]!.name }, 'failover group: no member is up; the queue keeps what comes');
      return;
    }
    if (this.everActive) failoverSwitches.inc({ output: this.output });
    this.everActive = true;
    log.info({ output: this.output, member: this.members[pick]!.name, from: cur >= 0 ? this.members[cur]!.name : undefined }, 'failover group: sending to member');
    this.onSession();
  }

  isUp(): boolean {
    return this.active >= 0 && this.members[this.active]!.transport.isUp();
  }

  send(message: Buffer): true | { reason: string } {
    // Never switches here (the queue above is in the middle of sending); the timer or a member's session does.
    if (!this.isUp()) return { reason: 'transport_down' };
    return this.members[this.active]!.transport.send(message);
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await Promise.allSettled(this.members.map((m) => m.transport.close()));
  }
}
