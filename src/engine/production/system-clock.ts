// The engine's clock in production: Date.now, performance.now, setTimeout, setImmediate.
import type { EngineClock, TimerHandle } from '../ports/clock.js';

export const systemClock: EngineClock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  setTimer: (ms: number, cb: () => void): TimerHandle => setTimeout(cb, ms),
  clearTimer: (handle: TimerHandle): void => clearTimeout(handle as NodeJS.Timeout | undefined),
  nextTurn: (cb: () => void): void => {
    setImmediate(cb);
  },
};
