// Commit on demand around a promotion's commit (the machine's guardOn/guardOff steps).
//
// The NFQUEUE rules (queue-rules.ts) go in at start-up (arm) and stay until shutdown (disarm):
// with --queue-bypass and nobody bound to the queue, packets pass them as if they were not
// there. A hold then only binds the queue, a netlink request: packets to the VIPs that keepalived
// has just moved are queued from the first one, where installing rules at promotion (two
// iptables-restore runs) let the first retransmissions meet an empty table. The hold runs
// OnDemandCommit on the external cache until released; then it answers what is still queued and
// unbinds (new packets pass by the bypass again) and reports the counters. Where arming failed,
// a hold installs the rules itself and removes them at release. A hold that cannot start (no
// NFQUEUE target, the queue taken, no iptables) throws: the caller falls back to the drop guard.
import type { ArenaCache } from '../cache/arena-cache.js';
import { EntryCommitter } from '../engine/entry-committer.js';
import { OnDemandCommit, type OnDemandCounters } from '../engine/on-demand-commit.js';
import type { OnDemandConfig } from '../ha/config.js';
import { systemClock } from '../engine/production/system-clock.js';
import { QueueSocket } from '../netlink/queue-socket.js';
import type { HaLog } from '../ha/log.js';
import { QueueRules, execaIptables, type IptablesRunner } from '../ha/queue-rules.js';

export interface OnDemandReport extends OnDemandCounters {
  heldMs: number;
  /** Packets the kernel accepted itself because the queue was full (rule matches minus packets read). */
  queueFull?: number;
}

export interface OnDemandSources {
  /** The external cache at the time of the hold. */
  external(): ArenaCache;
  /** CommitTimeout, and TCP window tracking (off: entries go in liberal). */
  commitTimeout?: number;
  tcpWindowTracking: boolean;
  /** Interfaces never queued: the sync link. */
  exemptInterfaces: string[];
}

export class OnDemandHold {
  private released?: Promise<OnDemandReport>;
  private readonly timer: NodeJS.Timeout;

  /** @internal made by OnDemandCommitter.hold() */
  constructor(
    private readonly rules: QueueRules,
    /** The hold installed the rules (arming had failed): it removes them at release. */
    private readonly ownsRules: boolean,
    /** The NFQUEUE rules' packet counters when the queue was bound. */
    private readonly matchedBefore: Promise<number | undefined>,
    private readonly session: OnDemandCommit,
    private readonly log: HaLog,
    private readonly startedAt: number,
    maxHoldMs: number,
  ) {
    this.timer = setTimeout(() => void this.release('max-hold'), maxHoldMs);
  }

  release(by: 'caller' | 'max-hold' = 'caller'): Promise<OnDemandReport> {
    this.released ??= this.end(by);
    return this.released;
  }

  private async end(by: 'caller' | 'max-hold'): Promise<OnDemandReport> {
    clearTimeout(this.timer);
    const [before, after] = [await this.matchedBefore, await this.rules.queuedPackets()];
    // answers what is queued and unbinds: new packets pass by the bypass from here
    const counters = this.session.stop();
    if (this.ownsRules) await this.rules.remove();
    const report: OnDemandReport = { ...counters, heldMs: Date.now() - this.startedAt };
    if (before !== undefined && after !== undefined) report.queueFull = Math.max(0, after - before - counters.packets);
    const what = `${counters.committed} entries committed on demand (${counters.existing} there already), ${counters.packets} packets queued, ${counters.unknown} of unknown flows`;
    const released = counters.rateLimited + counters.waitedTooLong + (report.queueFull ?? 0);
    const limits = released
      ? `; released without their entry: ${counters.rateLimited} over the rate, ${counters.waitedTooLong} waited too long, ${report.queueFull ?? '?'} queue full`
      : '';
    const msg = `ha: on-demand commit off after ${report.heldMs} ms${by === 'max-hold' ? ' (its maximum hold)' : ''}: ${what}${limits}`;
    if (by === 'max-hold') this.log.warn(msg);
    else this.log.info(msg);
    return report;
  }
}

export class OnDemandCommitter {
  private readonly rules: QueueRules;
  private armed = false;

  constructor(
    private readonly cfg: OnDemandConfig,
    private readonly sources: OnDemandSources,
    private readonly log: HaLog,
    run: IptablesRunner = execaIptables(),
  ) {
    this.rules = new QueueRules({ queue: cfg.queue, exemptInterfaces: sources.exemptInterfaces }, run);
  }

  /**
   * Binds the queue and starts committing on demand. Armed, that is all; else it installs the
   * rules after binding (in this order: no packet waits for nobody).
   */
  async hold(): Promise<OnDemandHold> {
    const asked = Date.now();
    const queue = new QueueSocket({
      queue: this.cfg.queue,
      copyRange: this.cfg.copyRange,
      maxLen: this.cfg.maxQueueLength,
    });
    const committer = new EntryCommitter({
      ...(this.sources.commitTimeout !== undefined ? { commitTimeout: this.sources.commitTimeout } : {}),
      liberal: !this.sources.tcpWindowTracking,
    });
    const session = new OnDemandCommit(this.sources.external(), queue, committer, systemClock, this.cfg);
    session.start();
    const ownsRules = !this.armed;
    if (ownsRules) {
      try {
        await this.rules.install();
      } catch (err) {
        session.stop();
        throw err;
      }
    }
    // off the packets' path: the counters only tell, at release, how many the full queue let by
    const matchedBefore = this.rules.queuedPackets();
    // the time from the request to packets being queued: packets to the VIPs meanwhile meet the ruleset
    this.log.info(
      `ha: on-demand commit on in ${Date.now() - asked} ms${ownsRules ? ' (rules installed now)' : ''}: queue ${this.cfg.queue}, every interface but ${['lo', ...this.sources.exemptInterfaces].join(', ')}`,
    );
    return new OnDemandHold(this.rules, ownsRules, matchedBefore, session, this.log, Date.now(), this.cfg.maxHoldMs);
  }

  /**
   * Installs the rules, idle (bypassed) until a hold binds the queue; replaces what a killed run
   * left. Failing, it warns: each hold then tries to install them itself.
   */
  async arm(): Promise<void> {
    try {
      await this.rules.install();
      this.armed = true;
      this.log.info(
        `ha: on-demand commit armed: NFQUEUE rules for queue ${this.cfg.queue} in place, bypassed while unbound`,
      );
    } catch (err) {
      this.log.warn(`ha: on-demand commit not armed (each promotion tries again): ${(err as Error).message}`);
    }
  }

  /** Removes the rules (shutdown). */
  async disarm(): Promise<void> {
    this.armed = false;
    await this.rules.remove();
  }

  /** Removes rules an earlier run left (start-up with commit on demand off). */
  async clearStale(): Promise<void> {
    await this.rules.remove();
  }
}

/** The daemon's commit on demand: the engine's external cache, the sync links exempt. */
export function onDemandCommitter(
  cfg: OnDemandConfig,
  config: {
    sync: { commitTimeout?: number; options: { tcpWindowTracking: boolean }; channels: Array<{ interface: string }> };
  },
  engine: { readonly external: ArenaCache },
  log: HaLog,
): OnDemandCommitter {
  return new OnDemandCommitter(
    cfg,
    {
      external: () => engine.external,
      ...(config.sync.commitTimeout !== undefined ? { commitTimeout: config.sync.commitTimeout } : {}),
      tcpWindowTracking: config.sync.options.tcpWindowTracking,
      exemptInterfaces: [...new Set(config.sync.channels.map((c) => c.interface))],
    },
    log,
  );
}
