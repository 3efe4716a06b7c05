// The daemon's answers to control requests: conntrackd's action codes (text, for the stock client)
// and our JSON commands (for `ctsync` clients and `--json`). Both call the same operations.
import type { CommitMode, EngineCommitResult, SyncEngine } from '../engine/sync-engine.js';
import { formatCacheEntry, formatCacheExpect } from '../conntrack/format.js';
import { entryToJson } from '../conntrack/json.js';
import { ObjectState, type CacheObject, type CacheView } from '../cache/sync-cache.js';
import { ACTION, actionName } from '../control/actions.js';
import { ControlError, type ControlHandler, type ControlReply, type ControlRequest } from '../control/server.js';
import * as text from '../control/stats-text.js';
import type { Logger } from '../log.js';
import type { Entry, Expect } from '../conntrack/entry.js';
import type { ExpectCache } from '../cache/expect-cache.js';
import type { HaRuntime } from '../ha/runtime.js';
import { KeepalivedInputError } from '../ha/keepalived.js';
import { chunked, conntrackXmlLines, expectXmlLines } from './xml-dump.js';
import { processStats } from '../control/process-text.js';
import type { MetricsFigures } from '../metrics/figures.js';
import type { HealthMonitor } from './health-monitor.js';

export interface DaemonControl {
  engine: SyncEngine;
  /** The failover layer (created after the handler, hence a getter). */
  ha(): HaRuntime | undefined;
  log: Logger;
  /** Stops the daemon (after the reply went out). */
  shutdown(): void;
  eventsReceived(): number;
  eventBufferSize(): number;
  /** The health figures (metrics) behind `-s --json` and `status --json`. */
  figures(): MetricsFigures;
  /** The health monitor (`ctsync health`), once the daemon has started it. */
  health?(): HealthMonitor | undefined;
  /** Told of every commit as it ends (the metrics' tally and histogram). */
  onCommit(r: EngineCommitResult): void;
}

type StatsSection = 'general' | 'network' | 'cache' | 'runtime' | 'link' | 'rsqueue' | 'process' | 'queue' | 'expect';

const STATS_BY_ACTION: Record<number, StatsSection> = {
  [ACTION.STATS]: 'general',
  [ACTION.STATS_NETWORK]: 'network',
  [ACTION.STATS_CACHE]: 'cache',
  [ACTION.STATS_RUNTIME]: 'runtime',
  [ACTION.STATS_LINK]: 'link',
  [ACTION.STATS_RSQUEUE]: 'rsqueue',
  [ACTION.STATS_PROCESS]: 'process',
  [ACTION.STATS_QUEUE]: 'queue',
  [ACTION.EXP_STATS]: 'expect',
};

/**
 * The live (not DEAD) objects of a cache, decoded, with their age in seconds ("active since") and,
 * given `expiresIn` (Mode ALARM's external caches), the seconds left before they expire.
 */
function* liveRecords<O extends CacheObject, T>(
  objects: Iterable<O>,
  decode: (obj: O) => T,
  expiresIn?: (updatedSec: number, nowSec: number) => number,
): Generator<[T, number, number | undefined]> {
  for (const obj of objects) {
    if (obj.state === ObjectState.DEAD) continue;
    // read per record: a dump goes out in chunks, and entries the peer sends meanwhile are visited too
    const now = Math.floor(Date.now() / 1000);
    yield [decode(obj), now - obj.added, expiresIn?.(obj.updated, now)];
  }
}

function* mapped<T, U>(items: Iterable<T>, f: (item: T) => U): Generator<U> {
  for (const item of items) yield f(item);
}

/** Text lines for the stock client, written in chunks of about 64 KiB. */
async function* textChunks<T>(items: Iterable<T>, line: (item: T) => string): AsyncGenerator<string> {
  let chunk = '';
  for (const item of items) {
    chunk += line(item) + '\n';
    if (chunk.length > 65536) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk) yield chunk;
}

export class DaemonHandler implements ControlHandler {
  private committing?: Promise<EngineCommitResult>;
  private purgeTimer?: NodeJS.Timeout;
  /** Kernel flushes running now (`-s process`). */
  private flushing = 0;

  constructor(private readonly d: DaemonControl) {}

  private get engine(): SyncEngine {
    return this.d.engine;
  }

  // ------------------------------------------------------------------------- operations

  /** Live (not DEAD) entries of a cache with their age (and expiry), oldest first as the map holds them. */
  private cacheEntries(external: boolean): Generator<[Entry, number, number | undefined]> {
    const cache: CacheView = external ? this.engine.external : this.engine.internal;
    return liveRecords(cache.values(), (obj) => cache.entry(obj), this.expiresIn(external));
  }

  /** Live expectations of an expectation cache with their age (and expiry). */
  private expectEntries(external: boolean): Generator<[Expect, number, number | undefined]> {
    const cache = this.expectCache(external);
    return liveRecords(cache.values(), (obj) => cache.expect(obj), this.expiresIn(external));
  }

  /** Mode ALARM's external entries expire (engine/external-expiry.ts); the others do not. */
  private expiresIn(external: boolean): ((updatedSec: number, nowSec: number) => number) | undefined {
    const expiry = this.engine.expiry;
    return external && expiry ? (u, n) => expiry.expiresIn(u, n) : undefined;
  }

  /** The expectation cache a request names; a clear error when ExpectationSync is off. */
  private expectCache(external: boolean): ExpectCache {
    this.requireExpectations();
    return external ? this.engine.externalExpect : this.engine.internalExpect;
  }

  private requireExpectations(): void {
    if (!this.engine.expectations)
      throw new ControlError(
        'expectations are not synchronized by this daemon: set ExpectationSync on (Sync > Options) to cache, send and commit them',
      );
  }

  stats(section: StatsSection): string {
    const e = this.engine;
    switch (section) {
      case 'general':
        return text.generalStats(e);
      case 'network':
        return text.networkStats(e);
      case 'cache':
        return text.cacheStats(e);
      case 'runtime':
        return text.runtimeStats(e, this.d.eventsReceived(), this.d.eventBufferSize());
      case 'link':
        return text.linkStats(e);
      case 'rsqueue':
        return text.rsqueueStats(e);
      case 'queue':
        return text.queueStats(e);
      case 'expect':
        return this.engine.expectations ? text.expectStats(e) : '';
      case 'process':
        return processStats(process.pid, { commit: this.committing !== undefined, flush: this.flushing > 0 });
    }
  }

  /** `-c`; refused while another commit runs (conntrackd: "commit already in progress"). */
  async commit(mode: CommitMode = {}): Promise<EngineCommitResult> {
    if (this.committing) throw new ControlError('commit already in progress');
    this.cancelPurge();
    this.committing = this.runCommit(mode);
    try {
      return await this.committing;
    } finally {
      this.committing = undefined;
    }
  }

  /**
   * For a promotion: waits for a commit that is already running (a manual -c), then commits.
   * The promotion reloads the internal cache from the kernel next: no copy into it here.
   */
  async commitForPromotion(): Promise<EngineCommitResult> {
    await this.committing?.catch(() => undefined);
    return this.commit({ adopt: false });
  }

  private async runCommit(mode: CommitMode): Promise<EngineCommitResult> {
    const r = await this.engine.commit(mode);
    this.d.onCommit(r);
    const log = this.d.log;
    if (mode.what !== 'expect') {
      log.info(
        `committed ${r.committed} entries (${r.replaced} replaced), ${r.failed.length} failed, in ${r.seconds.toFixed(6)} s`,
      );
      if (r.phases)
        log.verbose(
          `commit phases (ms): ${Object.entries(r.phases)
            .map(([k, v]) => `${k} ${Math.round(v)}`)
            .join(', ')}`,
        );
      for (const f of r.failed.slice(0, 20)) log.warn(`commit: ${f.reason}: ${entryToJson(f.entry)}`);
      if (r.failed.length > 20) log.warn(`commit: ${r.failed.length - 20} more failures not shown`);
    }
    const x = r.expect;
    if (x) {
      log.info(
        `committed ${x.committed} expectations (${x.replaced} replaced), ${x.failed.length} failed, in ${x.seconds.toFixed(6)} s`,
      );
      for (const f of x.failed.slice(0, 20)) log.warn(`commit: expectation ${JSON.stringify(f.expect)}: ${f.reason}`);
      if (x.failed.length > 20) log.warn(`commit: ${x.failed.length - 20} more expectation failures not shown`);
    }
    return r;
  }

  flushCaches(which: 'internal' | 'external' | 'both'): { internal?: number; external?: number } {
    if (this.committing && which !== 'internal')
      throw new ControlError('cannot flush the external cache while a commit is running');
    if (which !== 'external') this.cancelPurge();
    return this.engine.flushCaches(which);
  }

  /**
   * `-F`: empty the kernel table, sparing what the Filter ignores (local management flows);
   * `expect` (or both) also empties the expectation table, as conntrackd does (all of it).
   */
  async flushKernel(what: 'ct' | 'expect' | 'both' = 'ct'): Promise<number> {
    this.flushing++; // for -s process
    try {
      let deleted = 0;
      if (what !== 'expect') deleted += await this.flushKernelConntrack();
      if (what !== 'ct') {
        await this.engine.kernel.flushExpect();
        // our own flush's events are filtered in the kernel, as for conntracks
        if (this.engine.expectations) this.engine.forgetInternalExpectations();
        this.d.log.info('kernel expectation table flushed');
      }
      return deleted;
    } finally {
      this.flushing--;
    }
  }

  private async flushKernelConntrack(): Promise<number> {
    const doomed: Entry[] = [];
    await this.engine.kernel.dump({}, (e) => {
      if (this.engine.replicates(e)) doomed.push(e);
    });
    const r = await this.engine.kernel.delete(doomed);
    // our own deletions' events are filtered in the kernel: drop them from the cache ourselves
    this.engine.forgetInternal(doomed);
    this.d.log.info(`kernel table flushed: ${r.deleted} entries deleted`);
    return r.deleted;
  }

  /** `-t`: flush the kernel table and the internal cache after PurgeTimeout (unless cancelled). */
  schedulePurge(): number {
    const seconds = this.engine.config.sync.purgeTimeout;
    if (this.purgeTimer) return seconds;
    this.purgeTimer = setTimeout(() => {
      this.purgeTimer = undefined;
      this.flushKernel()
        .then(() => this.engine.flushCaches('internal'))
        .catch((err) => this.d.log.error(`scheduled purge failed: ${(err as Error).message}`));
    }, seconds * 1000);
    this.d.log.info(`kernel table purge scheduled in ${seconds} s`);
    return seconds;
  }

  private cancelPurge(): void {
    if (!this.purgeTimer) return;
    clearTimeout(this.purgeTimer);
    this.purgeTimer = undefined;
    this.d.log.info('scheduled kernel table purge cancelled');
  }

  // ------------------------------------------------------------------------- conntrackd protocol

  // eslint-disable-next-line max-lines-per-function -- listed exception, to be split
  async conntrackd(action: number): Promise<string | AsyncIterable<string>> {
    const name = actionName(action);
    this.d.log.verbose(`control: conntrackd request ${name ?? action}`);
    switch (action) {
      case ACTION.DUMP_INTERNAL:
      case ACTION.DUMP_EXTERNAL: {
        const external = action === ACTION.DUMP_EXTERNAL;
        return textChunks(this.cacheEntries(external), ([entry, age, expires]) =>
          formatCacheEntry(entry, age, external, expires),
        );
      }
      // conntrackd answers these with nothing, whatever they did (its log tells)
      case ACTION.COMMIT:
        await this.commit({ what: 'ct' });
        return '';
      case ACTION.ALL_COMMIT:
        await this.commit();
        return '';
      case ACTION.EXP_COMMIT:
        if (this.engine.expectations) await this.commit({ what: 'expect' });
        return '';
      case ACTION.EXP_FLUSH_MASTER:
        await this.flushKernel('expect');
        return '';
      case ACTION.EXP_RESYNC_MASTER:
        await this.engine.reloadInternal(false, 'expect');
        return '';
      case ACTION.FLUSH_INT_CACHE:
        this.flushCaches('internal');
        return '';
      case ACTION.FLUSH_EXT_CACHE:
        this.flushCaches('external');
        return '';
      case ACTION.ALL_FLUSH_CACHE:
        this.flushCaches('both');
        return '';
      case ACTION.FLUSH_MASTER:
        await this.flushKernel('ct');
        return '';
      case ACTION.ALL_FLUSH_MASTER:
        await this.flushKernel(this.engine.expectations ? 'both' : 'ct');
        return '';
      case ACTION.RESYNC_MASTER:
        await this.engine.reloadInternal(false, 'ct');
        return '';
      case ACTION.ALL_RESYNC_MASTER:
        await this.engine.reloadInternal(false);
        return '';
      case ACTION.SEND_BULK:
        this.engine.bulkSend();
        return '';
      case ACTION.REQUEST_DUMP:
        this.engine.requestResync();
        return '';
      case ACTION.RESET_TIMERS:
        this.schedulePurge();
        return '';
      case ACTION.KILL:
        setImmediate(() => this.d.shutdown());
        return '';
      case ACTION.EXP_DUMP_INTERNAL:
      case ACTION.EXP_DUMP_EXTERNAL: {
        if (!this.engine.expectations) return '';
        return textChunks(this.expectEntries(action === ACTION.EXP_DUMP_EXTERNAL), ([x, age, expires]) =>
          formatCacheExpect(x, age, expires),
        );
      }
      case ACTION.DUMP_INT_XML:
      case ACTION.DUMP_EXT_XML:
        return chunked(this.xmlLines(action === ACTION.DUMP_EXT_XML, 'ct'));
      case ACTION.EXP_DUMP_INT_XML:
      case ACTION.EXP_DUMP_EXT_XML:
        // as conntrackd: nothing when expectations are not synchronized
        if (!this.engine.expectations) return '';
        return chunked(this.xmlLines(action === ACTION.EXP_DUMP_EXT_XML, 'expect'));
      default: {
        const section = STATS_BY_ACTION[action];
        if (section) return this.stats(section);
        throw new ControlError(`ctsync: unknown conntrackd request ${action}`);
      }
    }
  }

  // ------------------------------------------------------------------------- JSON protocol

  // eslint-disable-next-line max-lines-per-function -- listed exception, to be split
  async json(req: ControlRequest): Promise<ControlReply> {
    const args = req.args ?? {};
    this.d.log.verbose(`control: ${req.cmd}`);
    switch (req.cmd) {
      case 'dump':
      case 'dump-text':
        return { records: this.dumpRecords(args, req.cmd === 'dump-text') };
      case 'stats': {
        const section = (args.section as StatsSection | undefined) ?? 'general';
        return { result: { text: this.stats(section), counters: this.counters() } };
      }
      case 'commit': {
        const what = (args.what as CommitMode['what']) ?? 'both';
        if (what === 'expect') this.requireExpectations();
        return { result: await this.commit({ what }) };
      }
      case 'flush-cache':
        return { result: this.flushCaches((args.which as 'internal' | 'external' | undefined) ?? 'both') };
      case 'flush-kernel': {
        const what = (args.what as 'ct' | 'expect' | 'both' | undefined) ?? (this.engine.expectations ? 'both' : 'ct');
        return { result: { deleted: await this.flushKernel(what) } };
      }
      case 'reload-internal': {
        const what = (args.what as 'ct' | 'expect' | 'both' | undefined) ?? 'both';
        if (what === 'expect') this.requireExpectations();
        return { result: { entries: await this.engine.reloadInternal(false, what) } };
      }
      case 'bulk':
        return { result: { queued: this.engine.bulkSend() } };
      case 'request-resync':
        this.engine.requestResync();
        return { result: {} };
      case 'purge':
        return { result: { inSeconds: this.schedulePurge() } };
      case 'kill':
        setImmediate(() => this.d.shutdown());
        return { result: {} };
      case 'status':
        return { result: this.status() };
      case 'health': {
        const monitor = this.d.health?.();
        if (!monitor) throw new ControlError('the health monitor is not running yet');
        return { result: monitor.report() };
      }
      case 'notify': {
        const ha = this.requireHa();
        const argv = Array.isArray(args.argv) ? args.argv.map(String) : [];
        try {
          return { result: ha.notify(argv) };
        } catch (err) {
          if (err instanceof KeepalivedInputError) throw new ControlError(err.message);
          throw err;
        }
      }
      case 'promote':
      case 'demote': {
        const ha = this.requireHa();
        const target = req.cmd === 'promote' ? 'active' : 'backup';
        const outcome = await ha.request(target, `ctsync ${req.cmd}${args.force ? ' --force' : ''}`, {
          force: args.force === true,
        });
        if (outcome.outcome === 'refused') throw new ControlError(`${req.cmd} refused: ${outcome.why}`);
        return { result: { outcome, status: ha.status() } };
      }
      default:
        throw new ControlError(`unknown command '${req.cmd}'`);
    }
  }

  /** conntrackd's XML lines of a cache (`-x`). */
  private xmlLines(external: boolean, kind: 'ct' | 'expect'): AsyncIterable<string> | Iterable<string> {
    if (kind === 'expect') return expectXmlLines(this.expectCache(external));
    const e = this.engine;
    return conntrackXmlLines(external ? e.external : e.internal, external, external ? undefined : e.kernel);
  }

  /** `-i` / `-e` records: JSON objects, or conntrackd's text lines (`asText`; XML with format 'xml'). */
  private dumpRecords(args: Record<string, unknown>, asText: boolean): AsyncIterable<unknown> | Iterable<unknown> {
    const external = args.cache === 'external';
    if (asText && args.format === 'xml') return this.xmlLines(external, args.kind === 'expect' ? 'expect' : 'ct');
    if (args.kind === 'expect') {
      const expects = this.expectEntries(external);
      return mapped(expects, ([x, activeSeconds, expiresInSeconds]) =>
        asText
          ? formatCacheExpect(x, activeSeconds, expiresInSeconds)
          : { ...x, activeSeconds, ...(expiresInSeconds === undefined ? {} : { expiresInSeconds }) },
      );
    }
    const entries = this.cacheEntries(external);
    return mapped(entries, ([e, activeSeconds, expiresInSeconds]) =>
      asText
        ? formatCacheEntry(e, activeSeconds, external, expiresInSeconds)
        : { ...e, activeSeconds, ...(expiresInSeconds === undefined ? {} : { expiresInSeconds }) },
    );
  }

  private requireHa(): HaRuntime {
    const ha = this.d.ha();
    if (!ha) throw new ControlError('the failover layer is not running');
    return ha;
  }

  status(): Record<string, unknown> {
    const e = this.engine;
    return {
      pid: process.pid,
      uptimeSeconds: Math.floor((Date.now() - e.startedAt) / 1000),
      ha: this.d.ha()?.status(),
      internal: e.internal.size,
      external: e.external.size,
      ...(e.expectations ? { internalExpect: e.internalExpect.size, externalExpect: e.externalExpect.size } : {}),
      channel: e.channel.description,
      peer: { hello: e.ftfw.stats().hello, lastSeqReceived: e.ftfw.stats().lastSeqReceived },
      metrics: this.d.figures(),
    };
  }

  counters(): Record<string, unknown> {
    const e = this.engine;
    return {
      internal: { active: e.internal.size, limit: e.internal.limit, ...e.internal.counters },
      external: { active: e.external.size, limit: e.external.limit, ...e.external.counters },
      ...(e.expectations
        ? {
            internalExpect: {
              active: e.internalExpect.size,
              limit: e.internalExpect.limit,
              ...e.internalExpect.counters,
            },
            externalExpect: {
              active: e.externalExpect.size,
              limit: e.externalExpect.limit,
              ...e.externalExpect.counters,
            },
          }
        : { expectMessagesIgnored: e.expectMessagesIgnored }),
      // what an operator must act on, as -s says it (empty when all is well)
      warnings: text.cacheFullLines(e, 'both'),
      channel: e.channel.stats,
      malformed: e.malformed,
      ftfw: e.ftfw.stats(),
      overruns: e.overruns,
      resyncs: e.resyncs,
      ownEvents: e.ownEvents,
      unusable: e.unusable,
      staleRemoved: e.staleRemoved,
      metrics: this.d.figures(),
      // the process's memory (process.memoryUsage: rss, JS heap, external and array buffers) and
      // the caches' arenas, which live outside the JS heap
      memory: {
        ...process.memoryUsage(),
        internalArena: e.internal.arenaStats(),
        externalArena: e.external.arenaStats(),
      },
    };
  }
}
