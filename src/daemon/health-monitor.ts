// The daemon's health: every periodSeconds it reads its counters into a sample, runs the pure
// evaluator (health/evaluator.ts), logs each finding when it starts and when it ends, writes the
// track file keepalived reads, and asks the peer for its table while the external cache is
// incomplete (health/sync-state.ts). The cache audit (health/audit.ts) runs on its own period,
// on a netlink socket of its own, and a confirmed difference is repaired by the consistency check.
import fs from 'node:fs';
import path from 'node:path';
import { ConntrackClient } from '../netlink/conntrack-client.js';
import { flowKey } from '../conntrack/key.js';
import type { Entry } from '../conntrack/entry.js';
import { ObjectState } from '../cache/sync-cache.js';
import type { SyncEngine } from '../engine/sync-engine.js';
import type { HaRuntime } from '../ha/runtime.js';
import type { Logger } from '../log.js';
import { HEALTH_CHECKS } from '../health/checks/index.js';
import type { HealthConfig } from '../health/config.js';
import { HealthEvaluator, type Evaluation } from '../health/evaluator.js';
import type { AuditResult, Finding, HealthSample } from '../health/finding.js';
import { runAudit, type AuditPorts } from '../health/audit.js';
import { SyncTracker, UNSYNCED_TEXT, type SyncStatus } from '../health/sync-state.js';
import { syncGate, trackFileValue, type SyncGate } from '../health/sync-gate.js';
import { formatEntry } from '../conntrack/format.js';

/** What `ctsync health` gets. */
export interface HealthReport {
  status: Evaluation['status'];
  findings: Finding[];
  sync: SyncStatus & { gate: SyncGate };
  audit?: AuditResult;
}

/** Sentinel thrown to cut a kernel dump short. */
const ENOUGH = Symbol('enough');

export class HealthMonitor {
  private readonly evaluator: HealthEvaluator;
  private readonly tracker: SyncTracker;
  private audit?: AuditResult;
  private auditing = false;
  private tickTimer?: NodeJS.Timeout;
  private auditTimer?: NodeJS.Timeout;
  private trackValue?: string;
  private readonly lookups = new ConntrackClient();

  constructor(
    private readonly cfg: HealthConfig,
    private readonly engine: SyncEngine,
    private readonly ha: () => HaRuntime | undefined,
    private readonly log: Logger,
  ) {
    this.evaluator = new HealthEvaluator(HEALTH_CHECKS, cfg.thresholds);
    const tracked = engine.config.sync.mode === 'ftfw';
    // StartupResync is the setting that lets this node ask the peer for its table on its own
    const asks = engine.config.sync.startupResync;
    this.tracker = new SyncTracker(Date.now(), engine.ftfw.resyncEpoch, tracked, cfg.resyncRetrySeconds * 1000, asks);
    if (tracked && !asks)
      log.info(
        'StartupResync is off: the daemon does not ask the peer for its table, and counts as unsynced until a resync (-n) is answered whole',
      );
    engine.syncObserver = {
      peerStarted: (firstContact) =>
        // FT-FW asks a restarted peer for its table itself (R2); at first contact we are unsynced already
        this.invalidate(firstContact ? 'start-up' : 'peer-restart', true),
      peerAnswered: (epoch, clean) => {
        const was = this.tracker.status();
        if (this.tracker.answer(epoch, clean, Date.now(), this.engine.ftfw.resyncEpoch))
          this.log.info("synced: the peer's table has arrived whole (answer to our resync)");
        else if (was.synced && !this.tracker.status().synced)
          this.log.warn(`unsynced: ${UNSYNCED_TEXT['answer-unclean']}`);
        this.tick();
      },
      // a flush is the owner's act (`-f`, or a promotion's): asking the peer at once would refill
      // the cache behind the `-n` that conntrackd's scripts send when they want it; ask only
      // after resyncRetrySeconds if nobody has
      externalFlushed: () => this.invalidate('external-flushed', true),
    };
  }

  /** Starts the timers; the track file says "unsynced" from now on until the cache is complete. */
  start(): void {
    this.writeTrackFile();
    this.tick();
    this.tickTimer = setInterval(() => this.tick(), this.cfg.periodSeconds * 1000);
    this.tickTimer.unref();
    if (this.cfg.audit.periodSeconds > 0) {
      this.auditTimer = setInterval(() => void this.runAudit(), this.cfg.audit.periodSeconds * 1000);
      this.auditTimer.unref();
    }
  }

  /** Stops the timers; the track file says "unsynced": a stopped daemon keeps nothing in sync. */
  stop(): void {
    clearInterval(this.tickTimer);
    clearInterval(this.auditTimer);
    this.lookups.close();
    this.writeTrackFile(false);
  }

  /** A fresh evaluation (what `ctsync health` asks for). */
  report(): HealthReport {
    const ev = this.tick();
    const sync = this.tracker.status();
    return {
      status: ev.status,
      findings: ev.findings,
      sync: { ...sync, gate: this.gate() },
      ...(this.audit ? { audit: this.audit } : {}),
    };
  }

  /** Whether the external cache is known complete; logged by the daemon at a promotion. */
  syncStatus(): SyncStatus {
    return this.tracker.status();
  }

  private gate(): SyncGate {
    return syncGate(this.tracker.status(), this.ha()?.status().role);
  }

  private invalidate(reason: Parameters<SyncTracker['invalidate']>[0], ftfwAsks: boolean): void {
    const was = this.tracker.status();
    this.tracker.invalidate(reason, Date.now(), this.engine.ftfw.resyncEpoch, ftfwAsks);
    if (was.synced) this.log.warn(`unsynced: ${UNSYNCED_TEXT[reason]}`);
    this.tick();
  }

  private tick(): Evaluation {
    const now = Date.now();
    if (this.tracker.resyncDue(now)) {
      this.tracker.asked(now);
      this.log.verbose('asking the peer for its table (the external cache is incomplete)');
      this.engine.requestResync();
    }
    const ev = this.evaluator.evaluate(this.sample(now));
    for (const f of ev.started)
      this.log.log(f.severity === 'failed' ? 'error' : 'warn', `health: ${f.name}: ${f.message}`);
    for (const f of ev.ended)
      this.log.info(`health: ${f.name} ended (it had held for ${Math.round((now - f.since) / 1000)} s)`);
    this.writeTrackFile();
    return ev;
  }

  private sample(now: number): HealthSample {
    const e = this.engine;
    const f = e.ftfw.stats();
    return {
      at: now,
      startedAt: e.startedAt,
      peerLastRxAt: e.ftfw.peerLastRxAt,
      unservableNacks: f.unservableNacks,
      peerBulksUnclean: f.peerBulksUnclean,
      resendQueue: { length: f.rsQueueLen, capacity: e.config.sync.resendQueueSize },
      evicted: f.rsEvicted,
      overruns: e.overruns,
      ...(this.audit ? { audit: this.audit } : {}),
      sync: this.tracker.status(),
    };
  }

  /** Writes the track file when its value changes (atomically: keepalived may read it any time). */
  private writeTrackFile(pass = this.gate().pass): void {
    const t = this.cfg.trackFile;
    if (!t) return;
    const value = trackFileValue({ pass, why: '' }, t.weight);
    if (value === this.trackValue) return;
    try {
      fs.mkdirSync(path.dirname(t.path), { recursive: true });
      const tmp = `${t.path}.tmp`;
      fs.writeFileSync(tmp, value);
      fs.renameSync(tmp, t.path);
      this.trackValue = value;
      this.log.info(`track file ${t.path}: ${value.trim()} (${pass ? 'may be master' : 'unsynced'})`);
    } catch (err) {
      this.log.error(`track file ${t.path} not written: ${(err as Error).message}`);
    }
  }

  /** One audit run; a confirmed difference is repaired from the kernel (and sent to the peer). */
  async runAudit(): Promise<AuditResult | undefined> {
    if (this.auditing) return undefined;
    this.auditing = true;
    try {
      const out = await runAudit(this.cfg.audit, this.auditPorts());
      const { examples, ...result } = out;
      this.audit = result;
      if (examples.length > 0) {
        for (const x of examples)
          this.log.warn(
            `audit: ${x.where === 'kernel' ? 'in the internal cache, not in the kernel' : 'in the kernel, not in the internal cache'}: ${formatEntry(x.entry)}`,
          );
        await this.engine.checkConsistency();
      }
      this.tick();
      return result;
    } catch (err) {
      this.log.error(`audit failed: ${(err as Error).message}`);
      return undefined;
    } finally {
      this.auditing = false;
    }
  }

  private auditPorts(): AuditPorts {
    const internal = this.engine.internal;
    const liveInternal = (e: Entry): boolean => {
      const h = internal.handleOfKey(flowKey(e));
      return h !== 0 && internal.stateOf(h) !== ObjectState.DEAD;
    };
    return {
      kernelHas: async (e) => (await this.lookups.get(e)) !== undefined,
      kernelFirst: (n) => kernelFirst(n),
      internalSample: (n) => randomLive(this.engine, n),
      internalHas: liveInternal,
      replicates: (e) => this.engine.replicates(e),
      sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
      now: () => Date.now(),
    };
  }
}

/** Up to n live internal entries at random handles (a bounded number of tries). */
function randomLive(engine: SyncEngine, n: number): Entry[] {
  const c = engine.internal;
  const out: Entry[] = [];
  const seen = new Set<number>();
  const max = c.maxHandle;
  if (max === 0 || n === 0) return out;
  // when the sample is most of the cache, take every live entry
  if (n >= c.size) {
    for (let h = 1; h <= max; h++) if (c.has(h) && c.stateOf(h) !== ObjectState.DEAD) out.push(c.entryOf(h));
    return out;
  }
  for (let tries = 0; tries < 4 * n && out.length < n; tries++) {
    const h = 1 + Math.floor(Math.random() * max);
    if (seen.has(h) || !c.has(h) || c.stateOf(h) === ObjectState.DEAD) continue;
    seen.add(h);
    out.push(c.entryOf(h));
  }
  return out;
}

/** The first n entries of a kernel dump, on a socket of its own that is closed mid-dump. */
async function kernelFirst(n: number): Promise<Entry[]> {
  const client = new ConntrackClient();
  const out: Entry[] = [];
  try {
    await client.dump({}, (e) => {
      out.push(e);
      if (out.length >= n) throw ENOUGH;
    });
  } catch (err) {
    if (err !== ENOUGH) throw err;
  } finally {
    client.close();
  }
  return out;
}
