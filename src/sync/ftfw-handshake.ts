// FT-FW's HELLO handshake, sender side: we say HELLO on every message until a HELLO_BACK arrives,
// answer a peer's HELLO with HELLO_BACK, and (S1) replay what went out during the HELLO phase
// once the handshake is complete, holding every entry sent until the linger time is over.
import { RECORD, type QNode } from './ftfw-queue.js';
import { FtFwPart } from './ftfw-part.js';
import { FTFW_FLAG, type HelloState } from './ftfw-types.js';

// module-local copies (see ftfw-types.ts)
const { NACK: K_NACK, RESYNC: K_RESYNC } = RECORD;
const { HELLO: F_HELLO, HELLO_BACK: F_HELLO_BACK } = FTFW_FLAG;

/** S1: the linger may be extended up to this many times its nominal length (heavy loss). */
const LINGER_MAX_EXTRA = 4;

export class FtFwHandshake<O> extends FtFwPart<O> {
  state: HelloState = 'init';
  /** A HELLO was received: the next message carries HELLO_BACK. */
  private sayHelloBack = false;
  /** A RESYNC waiting for our handshake and linger (S1). */
  private resyncPending = false;
  /** S1: entries are still held until lingerUntil after the handshake. */
  private lingerActive = false;
  private lingerUntil = 0;
  /** When we last saw a gap in the peer's sequence (S1: the linger waits for a quiet time). */
  private lastGapAt = -Infinity;
  /** S5: range of our seqs sent with HELLO. */
  helloLo = 0;
  helloHi = 0;
  helloRange = false;
  /** S6: a bulk was requested while we were saying HELLO (its entries get replayed anyway). */
  private bulkInHello = false;

  /** The HELLO bits of the message about to be transmitted with `seq`. */
  flagsFor(seq: number): number {
    let flags = 0;
    if (this.state !== 'done') {
      this.state = 'say';
      flags = F_HELLO;
      if (!this.helloRange) {
        this.helloRange = true;
        this.helloLo = seq;
      }
      this.helloHi = seq;
    }
    if (this.sayHelloBack) {
      flags |= F_HELLO_BACK;
      this.sayHelloBack = false;
    }
    return flags;
  }

  /** S1: entries transmitted while this is true are held (not released by ACKs, no S2/S3). */
  get holding(): boolean {
    return this.opts.replayHelloPhase && (this.state !== 'done' || this.lingerActive);
  }

  /** S1: entries sent are held until the linger time after the handshake is over (maybeEndLinger). */
  get lingering(): boolean {
    return this.lingerActive;
  }

  /** The HELLO bits of a received message (looked at before its sequence number). */
  received(flags: number, now: number): void {
    if ((flags & F_HELLO) !== 0) this.sayHelloBack = true;
    if ((flags & F_HELLO_BACK) !== 0 && this.state === 'say') this.complete(now);
  }

  /** The peer's sequence had a gap. */
  gapSeen(now: number): void {
    this.lastGapAt = now;
  }

  /** A bulk pass starts (S6: one started in the HELLO phase makes the start-up bulk moot). */
  bulkPassStarted(): void {
    if (this.state !== 'done') this.bulkInHello = true;
  }

  /**
   * `conntrackd -n`: ask the peer for its whole internal cache. Outside conntrackdCompat the
   * RESYNC is held back until our HELLO handshake is complete (a HELLO-flagged message is never
   * NACKed by a stock receiver) and the linger time is over (a stock peer discards its resend
   * queue at every HELLO it receives, late duplicates of ours included: its bulk must start
   * after the last of them); several requests before that collapse into one.
   */
  requestResync(): void {
    if (
      !this.opts.conntrackdCompat &&
      (this.state !== 'done' || (this.lingerActive && this.env.now() < this.lingerUntil))
    ) {
      this.resyncPending = true;
      return;
    }
    this.q.queueCtl(K_RESYNC, 0, 0);
  }

  private complete(now: number): void {
    this.state = 'done';
    if (this.opts.replayHelloPhase) {
      this.lingerActive = this.opts.lingerMs > 0;
      this.lingerUntil = now + this.opts.lingerMs;
      // S1: everything still in the resend queue was sent with HELLO: send it again, now
      // sequence-checked by the peer.
      let n = this.q.rs.head;
      while (n !== null) {
        const next = n.next;
        if (n.helloSent) {
          this.q.requeue(n);
          this.st.helloReplays++;
        }
        n = next;
      }
    }
    if (this.resyncPending && !this.lingerActive) {
      this.resyncPending = false;
      this.q.queueCtl(K_RESYNC, 0, 0);
    }
    // S6: a bulk asked for during the HELLO phase is being replayed already.
    if (this.opts.bulkOnStartup && !this.bulkInHello) this.notices.bulk('startup');
    this.notices.handshake();
  }

  /**
   * S1/S5: the linger ends `helloLingerPeriods` after the handshake, but not before the peer's
   * reports are complete: a regression report (S5) may be among its lost messages. So it also
   * waits until a message from the peer arrived after that time (`lastRxAt`), no gap was seen in
   * the peer's sequence for two periods and every NACK of ours has been acknowledged (the peer
   * resends what we NACKed before it acknowledges the NACK); at most LINGER_MAX_EXTRA times longer.
   */
  maybeEndLinger(now: number, lastRxAt: number): void {
    if (!this.lingerActive || now < this.lingerUntil) return;
    if (this.resyncPending) {
      // late HELLO duplicates of ours have drained: a stock peer's bulk is safe now
      this.resyncPending = false;
      this.q.queueCtl(K_RESYNC, 0, 0);
    }
    if (now < this.lingerUntil + LINGER_MAX_EXTRA * this.opts.lingerMs) {
      if (lastRxAt < this.lingerUntil) return; // silence proves nothing: hear from the peer
      if (now - this.lastGapAt < 2 * this.opts.alivePeriodMs) return;
      // (only reached for a few seconds at start-up: the scan may cost O(queue))
      for (const l of [this.q.txCtl, this.q.rs]) {
        for (let n = l.head; n !== null; n = n.next) if (n.kind === K_NACK && !n.acked) return;
      }
    }
    this.endLinger();
  }

  /**
   * S1: end of the linger time: HELLO-phase entries are replayed a second time (insurance for a
   * regression we did not see), acknowledged ones are released, the rest follow the normal rules.
   */
  private endLinger(): void {
    this.lingerActive = false;
    const q = this.q;
    let n: QNode<O> | null = q.rs.head;
    while (n !== null) {
      const next: QNode<O> | null = n.next;
      if (n.held) {
        n.held = false;
        if (n.helloSent) {
          n.helloSent = false;
          q.requeue(n);
          this.st.helloReplays++;
        } else if (n.acked) {
          q.dropNode(n, 'acked');
        }
      }
      n = next;
    }
    for (const l of [q.txCtl, q.txObj]) {
      for (n = l.head; n !== null; n = n.next) {
        n.held = false;
        n.helloSent = false;
        n.acked = false;
      }
    }
    if (this.resyncPending) {
      this.resyncPending = false;
      q.queueCtl(K_RESYNC, 0, 0);
    }
  }
}
