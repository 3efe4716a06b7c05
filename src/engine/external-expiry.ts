// Mode ALARM's receiving side (conntrackd's cache timer on the external cache): an external entry,
// conntrack or expectation, that the peer has not sent again for `CacheTimeout` seconds is
// dropped, silently, as conntrackd drops it. The peer sends every entry at least once per
// RefreshTime, so what stops coming is gone from its table. One timer sweeps both caches each
// second against the entries' last-update times (whole seconds, what the caches keep): an entry
// goes within a second of its timeout.
import type { EngineCaches } from './engine-caches.js';
import type { EngineClock, TimerHandle } from './ports/clock.js';

const SWEEP_MS = 1000;

export class ExternalExpiry {
  /** Entries dropped so far (conntracks and expectations). */
  expired = 0;
  private timer: TimerHandle | undefined = undefined;
  private readonly onTimer = (): void => {
    this.timer = this.clock.setTimer(SWEEP_MS, this.onTimer);
    this.sweep(Math.floor(this.clock.now() / 1000));
  };

  constructor(
    private readonly caches: EngineCaches,
    /** `CacheTimeout` in seconds. */
    readonly timeoutSec: number,
    private readonly clock: EngineClock,
  ) {}

  start(): void {
    if (this.timer === undefined) this.timer = this.clock.setTimer(SWEEP_MS, this.onTimer);
  }

  stop(): void {
    if (this.timer !== undefined) this.clock.clearTimer(this.timer);
    this.timer = undefined;
  }

  /** Seconds until an entry last updated at `updatedSec` expires (conntrackd's `[expires in Ns]`). */
  expiresIn(updatedSec: number, nowSec: number): number {
    return updatedSec + this.timeoutSec - nowSec;
  }

  /** Drops every external entry not updated for the timeout at `nowSec`; returns how many. */
  sweep(nowSec: number): number {
    const limit = nowSec - this.timeoutSec;
    // the last commit's copy takes the external entries as they were committed
    if (this.caches.adoptPending) this.caches.settle();
    const ext = this.caches.external;
    let n = 0;
    for (let h = 1; h <= ext.maxHandle; h++) {
      if (!ext.has(h) || ext.updatedOf(h) > limit) continue;
      ext.removeHandle(h);
      n++;
    }
    const expect = this.caches.externalExpect;
    if (expect.size > 0)
      for (const obj of [...expect.values()]) {
        if (obj.updated > limit) continue;
        expect.remove(obj.key);
        n++;
      }
    this.expired += n;
    return n;
  }
}
