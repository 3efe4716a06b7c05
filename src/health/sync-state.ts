// Whether the external cache is known complete ("synced"): what keepalived asks before it lets
// this node become the master (`ctsync health --sync`, the track file). Pure: the daemon tells it
// what happened, with FT-FW's RESYNC count and the time.
//
// The rule. FT-FW has no end-of-bulk marker, but ctsync knows when the peer's answer to one of
// its RESYNCs has arrived whole (sync/resync-watch.ts: the first ACK covering the RESYNC, with no
// gap in the peer's sequence since it went out). The external cache is complete once a *clean*
// answer arrives to a RESYNC transmitted *after* the last event that made it incomplete:
//  - start-up: the cache starts empty;
//  - the peer restarted: its new incarnation may hold other flows, and what it sent before is moot;
//  - the external cache was flushed (`-f`, or a promotion, which empties it after the commit);
//  - an answer arrived with gaps (some of the peer's table may be missing for good).
// A RESYNC's answer carries its epoch (RESYNCs transmitted when it went out, itself included), so
// "transmitted after the event" is `epoch > RESYNCs transmitted at the event`.
// Between such an answer and the next event, every change on the peer reaches us through FT-FW's
// reliable delivery; a loss it cannot repair shows as an unclean answer or a peer restart.

export type UnsyncedReason = 'start-up' | 'peer-restart' | 'external-flushed' | 'answer-unclean';

export interface SyncStatus {
  /** False when the sync mode gives no way to know (NOTRACK): then `synced` says nothing. */
  tracked: boolean;
  synced: boolean;
  /** Why not synced (absent when synced). */
  reason?: UnsyncedReason;
  /** Since when the state holds (ms since the epoch). */
  since: number;
}

export const UNSYNCED_TEXT: Record<UnsyncedReason, string> = {
  'start-up': 'no complete copy of the peer table since start-up',
  'peer-restart': 'the peer restarted and its new table has not arrived whole yet',
  'external-flushed': 'the external cache was emptied and the peer table has not arrived whole since',
  'answer-unclean': "the peer's answer to our resync arrived with gaps",
};

export class SyncTracker {
  private synced = false;
  private reason: UnsyncedReason | undefined = 'start-up';
  private since: number;
  /** RESYNCs transmitted when the cache last became incomplete. */
  private invalidEpoch: number;
  /** When the owner should ask the peer for its table (again), if still unsynced. */
  private nextAskAt: number;

  constructor(
    now: number,
    resyncEpoch: number,
    /** NOTRACK: no answer to a RESYNC is ever known complete. */
    readonly tracked: boolean,
    /** How long an answer may take before the peer is asked again (ms). */
    private readonly retryMs: number,
    /** Whether the owner asks the peer for its table while unsynced (StartupResync on). */
    private readonly asks = true,
  ) {
    this.since = now;
    this.invalidEpoch = resyncEpoch;
    this.nextAskAt = now;
  }

  /**
   * The external cache became incomplete. `ftfwAsks`: FT-FW requests a RESYNC itself for this
   * event (a peer restart, an unclean answer), so the owner waits `retryMs` before asking.
   */
  invalidate(reason: UnsyncedReason, now: number, resyncEpoch: number, ftfwAsks = false): void {
    if (this.synced || this.reason !== reason) this.since = now;
    this.synced = false;
    this.reason = reason;
    this.invalidEpoch = resyncEpoch;
    this.nextAskAt = ftfwAsks ? now + this.retryMs : now;
  }

  /** The peer's answer to our RESYNC number `epoch` arrived (clean: whole). True if now synced. */
  answer(epoch: number, clean: boolean, now: number, resyncEpoch: number): boolean {
    if (epoch <= this.invalidEpoch) return false;
    if (!clean) {
      // even when synced: we asked, and cannot tell whether all of the peer table is here
      this.invalidate('answer-unclean', now, resyncEpoch, true);
      return false;
    }
    if (this.synced) return false;
    this.synced = true;
    this.reason = undefined;
    this.since = now;
    return true;
  }

  /** Whether the owner should ask the peer for its table now (then it calls asked()). */
  resyncDue(now: number): boolean {
    return this.asks && this.tracked && !this.synced && now >= this.nextAskAt;
  }

  asked(now: number): void {
    this.nextAskAt = now + this.retryMs;
  }

  status(): SyncStatus {
    return {
      tracked: this.tracked,
      synced: this.synced,
      ...(this.reason !== undefined && !this.synced ? { reason: this.reason } : {}),
      since: this.since,
    };
  }
}
