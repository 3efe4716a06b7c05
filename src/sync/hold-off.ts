/**
 * Spacing for an action that an event from the network triggers and that costs a lot: a bulk
 * send, or a resync asked of the peer, because the peer (re)started or our receive state had to
 * be reset. The first event after a quiet time is acted on at once (a real restart gets its bulk
 * without delay); events that follow within the hold-off are deferred to its end and collapse
 * into one action; the hold-off doubles with every action inside a storm, up to `maxMs`, and
 * falls back to `baseMs` after a quiet time of twice the current hold-off. Eight forged bytes then
 * buy one bulk, and a flood of them buys one per `maxMs`.
 *
 * Pure: the caller passes the time in (FT-FW's injected clock) and arms its own timer.
 */
export class HoldOff {
  private level = 0;
  private lastActedAt = -Infinity;

  constructor(
    private readonly baseMs: number,
    private readonly maxMs: number,
  ) {
    if (!(baseMs >= 0 && maxMs >= baseMs))
      throw new RangeError(`hold-off: need 0 <= base (${baseMs}) <= max (${maxMs})`);
  }

  /** The current hold-off after an action, in ms. */
  get currentMs(): number {
    return Math.min(this.maxMs, this.baseMs * 2 ** this.level);
  }

  /**
   * How long an event at `now` must wait before its action: 0 means act now (the action is then
   * recorded as taken at `now`); otherwise call again at `now + result` (or later).
   */
  admit(now: number): number {
    const wait = this.lastActedAt + this.currentMs - now;
    if (wait > 0) return wait;
    if (now - this.lastActedAt >= 2 * this.currentMs) this.level = 0;
    else if (this.currentMs < this.maxMs) this.level++;
    this.lastActedAt = now;
    return 0;
  }
}
