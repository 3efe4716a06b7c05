// Anti-replay state of one sender (docs/ftfw-protocol.md §13.4): the highest epoch accepted and,
// in it, a sliding window over the counters seen, so datagrams reordered within the window are
// fresh and each counter is accepted once. Pure: no I/O, no clock.

/** Counters tracked below the highest one seen (a multiple of 32). */
export const REPLAY_WINDOW = 1024;

/** What a (verified) epoch and counter are for this sender. */
export type Freshness = 'fresh' | 'stale' | 'replay';

export class ReplayWindow {
  private epoch: bigint | undefined;
  private highest = 0;
  /** Bit i: counter highest - i was accepted. */
  private readonly seen = new Uint32Array(REPLAY_WINDOW / 32);

  /**
   * 'fresh': never accepted (a higher epoch is a new start of the sender); 'stale': a lower epoch,
   * or a counter below the window; 'replay': accepted before. Changes nothing.
   */
  check(epoch: bigint, counter: number): Freshness {
    if (this.epoch === undefined || epoch > this.epoch) return 'fresh';
    if (epoch < this.epoch) return 'stale';
    if (counter > this.highest) return 'fresh';
    const behind = this.highest - counter;
    if (behind >= REPLAY_WINDOW) return 'stale';
    return this.bit(behind) ? 'replay' : 'fresh';
  }

  /** Records an epoch and counter that check() called fresh (and whose MAC matched). */
  accept(epoch: bigint, counter: number): void {
    if (this.epoch === undefined || epoch > this.epoch) {
      this.epoch = epoch;
      this.highest = counter;
      this.seen.fill(0);
      this.seen[0] = 1;
      return;
    }
    if (counter > this.highest) {
      this.shift(counter - this.highest);
      this.highest = counter;
      this.seen[0] |= 1;
      return;
    }
    const behind = this.highest - counter;
    this.seen[behind >>> 5] |= 1 << (behind & 31);
  }

  private bit(behind: number): boolean {
    return (this.seen[behind >>> 5] & (1 << (behind & 31))) !== 0;
  }

  /** Moves the window up by `by` counters (bit i becomes bit i + by). */
  private shift(by: number): void {
    const words = this.seen.length;
    if (by >= REPLAY_WINDOW) {
      this.seen.fill(0);
      return;
    }
    const wordShift = by >>> 5;
    const bitShift = by & 31;
    for (let w = words - 1; w >= 0; w--) {
      const src = w - wordShift;
      const lo = src >= 0 ? this.seen[src] : 0;
      const below = src - 1 >= 0 ? this.seen[src - 1] : 0;
      this.seen[w] = bitShift === 0 ? lo : (lo << bitShift) | (below >>> (32 - bitShift));
    }
  }
}
