import { seqAfter } from './seq.js';

/**
 * Tells a receiver whose sequence tracking has been pushed out of the peer's range (one message
 * far ahead, forged or corrupt, makes every real message look "before": conntrackd drops them
 * forever) from one that merely sees late duplicates.
 *
 * Late duplicates drain within the network's reordering bound. A peer that keeps talking while
 * every one of its messages is dropped, for longer than that bound plus two ALIVE periods (a
 * live peer sends at least one message per period), with sequence numbers that move forward,
 * is a peer whose sequence we no longer follow: the receiver should take its sequence as new.
 *
 * Pure: the receiver reports each accepted and each dropped message with the time.
 */
export class StallDetector {
  private drops = 0;
  private firstDropAt = 0;
  private firstDropSeq = 0;

  /**
   * @param windowMs how long every message must have been dropped
   * @param minDrops how many messages at least (one per ALIVE period over the window)
   */
  constructor(
    private readonly windowMs: number,
    private readonly minDrops: number,
  ) {}

  /** A message was accepted: the receiver follows the peer. */
  accepted(): void {
    this.drops = 0;
  }

  /** A message was dropped as "before"; true when the receiver should resynchronize on `seq`. */
  dropped(seq: number, now: number): boolean {
    if (this.drops === 0) {
      this.firstDropAt = now;
      this.firstDropSeq = seq;
    }
    this.drops++;
    if (this.drops < this.minDrops || now - this.firstDropAt < this.windowMs || !seqAfter(seq, this.firstDropSeq))
      return false;
    this.drops = 0;
    return true;
  }
}
