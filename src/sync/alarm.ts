/**
 * `Mode ALARM` (conntrack-tools 1.4.7 sync-alarm), as a pure state machine: every change goes out
 * once, as in NOTRACK, and every entry is sent again each `RefreshTime`, so a peer that lost a
 * message, or started late, is right again after RefreshTime at worst. There are no control
 * messages: no ALIVE, no RESYNC (`-n` does nothing, as in conntrackd). A received message with any
 * flag set is ignored (conntrackd does so to survive a peer in another mode); data without flags is
 * applied whatever its sequence number, which is tracked for the counters only. The receiver's side
 * of the mode, external entries dropped after `CacheTimeout` without a refresh, is the engine's
 * (engine/external-expiry.ts).
 *
 * conntrackd arms a timer per entry, due at a random point within RefreshTime; here one timer asks
 * the owner for a bulk of its whole cache every RefreshTime (hooks.bulk('refresh')), paced as
 * NOTRACK paces a bulk. Both bound the time between two refreshes of an entry by RefreshTime and
 * a little; one timer costs nothing per entry.
 */
import type { FtFwEnv, FtFwHooks, RxVerdict } from './ftfw-types.js';
import { MSG_DATA_MAX } from './nethdr.js';
import { NoTrack } from './notrack.js';

export interface AlarmOptions {
  /** `RefreshTime` in ms (conntrackd's default: 60 s). */
  refreshMs: number;
  /** Objects per transmit pass (NoTrackOptions.maxPerPass). */
  maxPerPass?: number;
  /** Wait before the next pass when objects are left over (NoTrackOptions.passGapMs). */
  passGapMs?: number;
}

export class Alarm<O> extends NoTrack<O> {
  private refreshTimer: unknown = undefined;
  private readonly refreshMs: number;
  private readonly onRefreshCb = (): void => this.onRefresh();

  constructor(env: FtFwEnv, hooks: FtFwHooks<O>, options: AlarmOptions) {
    super(env, hooks, { alivePeriodMs: 0, maxPerPass: options.maxPerPass, passGapMs: options.passGapMs });
    this.refreshMs = options.refreshMs;
  }

  override start(): void {
    if (this.refreshTimer !== undefined) return;
    super.start();
    this.refreshTimer = this.env.setTimer(this.refreshMs, this.onRefreshCb);
  }

  override stop(): void {
    super.stop();
    if (this.refreshTimer !== undefined) this.env.clearTimer(this.refreshTimer);
    this.refreshTimer = undefined;
  }

  /** No RESYNC in ALARM: the peer's refreshes bring this node up to date within RefreshTime. */
  override requestResync(): void {}

  override receiveHeader(type: number, flags: number, seq: number): RxVerdict {
    // conntrackd ignores every message with a flag (another mode's controls), before tracking
    if (flags !== 0) return 'control';
    this.track(seq >>> 0);
    if (type > MSG_DATA_MAX) {
      this.st.badHeader++;
      return 'bad';
    }
    this.st.dataReceived++;
    return 'apply';
  }

  private onRefresh(): void {
    this.refreshTimer = this.env.setTimer(this.refreshMs, this.onRefreshCb);
    this.st.bulksRequested++;
    this.hooks.bulk?.('refresh');
  }
}
