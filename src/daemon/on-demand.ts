// Commit on demand around a promotion's commit (the machine's guardOn/guardOff steps): installs
// the NFQUEUE rules (queue-rules.ts), binds the queue and runs OnDemandCommit on the external
// cache until released; then removes the rules first (new packets meet conntrack directly, the
// bulk is done), answers what is still queued, unbinds, and reports the counters. A hold that
// cannot start (no NFQUEUE target, the queue taken, no iptables) throws: the caller falls back
// to the drop guard.
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
    const matched = await this.rules.queuedPackets();
    await this.rules.remove();
    const counters = this.session.stop();
    const report: OnDemandReport = { ...counters, heldMs: Date.now() - this.startedAt };
    if (matched !== undefined) report.queueFull = Math.max(0, matched - counters.packets);
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

  constructor(
    private readonly cfg: OnDemandConfig,
    private readonly sources: OnDemandSources,
    private readonly log: HaLog,
    run: IptablesRunner = execaIptables(),
  ) {
    this.rules = new QueueRules({ queue: cfg.queue, exemptInterfaces: sources.exemptInterfaces }, run);
  }

  /** Binds the queue, then installs the rules (in this order: no packet waits for nobody). */
  async hold(): Promise<OnDemandHold> {
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
    try {
      await this.rules.install();
    } catch (err) {
      session.stop();
      throw err;
    }
    this.log.info(
      `ha: on-demand commit on: queue ${this.cfg.queue}, every interface but ${['lo', ...this.sources.exemptInterfaces].join(', ')}`,
    );
    return new OnDemandHold(this.rules, session, this.log, Date.now(), this.cfg.maxHoldMs);
  }

  /** Removes rules an earlier run left (start-up). */
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
