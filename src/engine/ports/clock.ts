// The engine's clock and timers: wall-clock time, one-shot timers and "the next loop turn".
// Production: Date.now, setTimeout, setImmediate (production/system-clock.ts); tests: a fake
// clock that moves only when told.

/** A timer's handle: only ever passed back to clearTimer. */
export type TimerHandle = unknown;

export interface EngineClock {
  /** Wall-clock milliseconds since the Unix epoch. */
  now(): number;
  /** Milliseconds from an arbitrary origin that never goes back (durations). */
  monotonic(): number;
  /** Runs `cb` once after `ms` milliseconds. */
  setTimer(ms: number, cb: () => void): TimerHandle;
  clearTimer(handle: TimerHandle): void;
  /**
   * Runs `cb` on the next turn of the event loop, after the I/O that is ready now (what the
   * kernel and the peer sent meanwhile): one transmit pass per turn packs what a batch queued.
   */
  nextTurn(cb: () => void): void;
}
