// Running the daemon: config, lock file, logger, engine, control socket, signals.
import { onDemandCommitter } from './on-demand.js';
import fs from 'node:fs';
import { spawn } from 'node:child_process';
import { loadConfig } from '../config/load.js';
import type { CtsyncConfig } from '../config/model.js';
import winston from 'winston';
import { createLogger, type LogFormat, type Logger } from '../log.js';
import { SyncEngine } from '../engine/sync-engine.js';
import { productionPorts } from '../engine/production/ports.js';
import { ControlServer } from '../control/server.js';
import { DaemonHandler } from './handler.js';
import { HaRuntime } from '../ha/runtime.js';
import { resolveHaConfig } from '../ha/config.js';
import { newCommitTally, tallyCommit } from '../metrics/commit-tally.js';
import { daemonFigures } from '../metrics/daemon-figures.js';
import { startMetricsEndpoint, type MetricsEndpoint } from '../metrics/endpoint.js';
import { SchedPolicy, nativeAddon } from '../native.js';
import { errnoName } from '../netlink/socket.js';
import { serviceNotifier } from './service-notify.js';
import { rereadConfig, type ReloadTargets } from './config-reload.js';
import { probeCthelperSupport } from '../netlink/cthelper-probe.js';
import { helperWarnings } from './helper-notice.js';
import { HealthMonitor } from './health-monitor.js';
import { resolveHealthConfig } from '../health/config.js';
import { UNSYNCED_TEXT } from '../health/sync-state.js';

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes the lock file (O_EXCL, holding our pid). A lock left by a dead process is taken over
 * with a warning instead of blocking start-up forever, conntrackd's classic failure after a crash.
 */
export function takeLock(path: string, log: Logger): () => void {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = fs.openSync(path, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
      fs.writeSync(fd, `${process.pid}\n`);
      fs.closeSync(fd);
      return () => {
        try {
          fs.unlinkSync(path);
        } catch {
          /* gone already */
        }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST')
        throw new Error(`lock file ${path}: ${(err as Error).message}`, { cause: err });
      const pid = Number(fs.readFileSync(path, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 0 && pidAlive(pid))
        throw new Error(`lock file ${path} is held by a running daemon (pid ${pid}); stop it with -k`, { cause: err });
      log.warn(`lock file ${path} was left by a process that is gone${pid ? ` (pid ${pid})` : ''}: taking it over`);
      fs.unlinkSync(path);
    }
  }
  throw new Error(`lock file ${path}: could not be taken`);
}

/** node-cron jobs from the `schedules` section (stopped with the process). node-cron is loaded only for them. */
async function scheduleJobs(
  config: CtsyncConfig,
  engine: SyncEngine,
  handler: DaemonHandler,
  log: Logger,
): Promise<void> {
  const s = config.schedules;
  if (!s?.consistencyCheck && !s?.statsLog) return;
  const { default: cron } = await import('node-cron');
  if (s?.consistencyCheck) {
    cron.schedule(
      s.consistencyCheck,
      () => {
        engine.checkConsistency().catch((err) => log.error(`consistency check failed: ${(err as Error).message}`));
      },
      { name: 'consistency-check', noOverlap: true },
    );
  }
  if (s?.statsLog) {
    cron.schedule(s.statsLog, () => log.info(`stats: ${JSON.stringify(handler.counters())}`), {
      name: 'stats-log',
      noOverlap: true,
    });
  }
}

export interface DaemonOptions {
  configPath: string;
  logLevel?: 'error' | 'warn' | 'info' | 'verbose' | 'debug';
  /** `--log-format`: text (default) or JSON lines. */
  logFormat?: LogFormat;
  /** Log to stderr as well (foreground). */
  console: boolean;
  /** Started by `-d`: stderr goes to the parent only until start-up is done. */
  background?: boolean;
}

/**
 * V8 hands work to helper threads, which keep the default policy. With the main thread
 * real-time (Scheduler), a busy main thread can leave them no CPU:
 * - the garbage collector then waits for them busily (cppgc's incremental sweeping re-posts
 *   itself until the concurrent sweeper is done). Two such daemons on a 2-CPU host spun for a
 *   second at a time, until the kernel's RT throttling let the helpers run;
 * - the optimizing compiler's jobs wait for a CPU while the code they would replace runs on,
 *   unoptimized, for as long as the main thread is busy: a resync after a deoptimization ran
 *   100k stores in baseline code (perf), ~20% slower end to end.
 * With a real-time Scheduler the daemon therefore collects garbage and compiles on the main
 * thread only: V8 flags that must be given at start. Without them, the daemon restarts itself
 * with them (execv, same pid) before it opens anything.
 */
export const REALTIME_V8_FLAGS = ['--single-threaded-gc', '--no-concurrent-recompilation'];

/** node's arguments to run this process again with those flags; undefined when it has them. */
export function argvWithRealtimeFlags(execArgv: readonly string[], argv: readonly string[]): string[] | undefined {
  const missing = REALTIME_V8_FLAGS.filter((f) => !execArgv.includes(f));
  if (missing.length === 0) return undefined;
  return [argv[0], ...missing, ...execArgv, ...argv.slice(1)];
}

/**
 * Runs the daemon until it is stopped. A failure to start rejects, for the command line to print
 * (stderr); started by -d, the parent is also told the reason after FAILED_MARK.
 */
export async function runDaemon(opts: DaemonOptions): Promise<void> {
  // started by -d: once the parent has gone, a write to our stderr must not kill us (EPIPE)
  if (opts.background) process.stderr.on('error', () => undefined);
  try {
    await startDaemon(opts);
  } catch (err) {
    if (opts.background) process.stderr.write(`${FAILED_MARK} ${oneLine((err as Error).message)}\n`);
    throw err;
  }
}

const oneLine = (text: string): string => text.replace(/\s*\n\s*/g, '; ');

// eslint-disable-next-line max-lines-per-function -- listed exception, to be split
async function startDaemon(opts: DaemonOptions): Promise<void> {
  const { config, warnings } = await loadConfig(opts.configPath, { keyFiles: true });
  let execvError: number | undefined;
  const again = config.general.scheduler ? argvWithRealtimeFlags(process.execArgv, process.argv) : undefined;
  if (again) execvError = nativeAddon().execv(process.execPath, again); // returns only on failure
  const log = createLogger({
    level: opts.logLevel ?? config.log?.level,
    format: opts.logFormat,
    console: opts.console,
    file: config.general.logFile || undefined,
    syslog: config.general.syslog || undefined,
  });
  for (const w of warnings) log.warn(w);
  if (config.helpers) for (const w of helperWarnings(config.helpers, probeCthelperSupport())) log.warn(w);
  if (execvError !== undefined)
    log.warn(
      `could not restart with ${REALTIME_V8_FLAGS.join(' ')} (${errnoName(-execvError)}): with the real-time Scheduler, garbage collection may stall the main thread and optimized code come late`,
    );
  let release: (() => void) | undefined;
  let engine: SyncEngine | undefined;
  let channel: ReloadTargets | undefined;
  let server: ControlServer | undefined;
  let ha: HaRuntime | undefined;
  let metrics: MetricsEndpoint | undefined;
  let health: HealthMonitor | undefined;
  const commits = newCommitTally();
  let stopping = false;
  // sd_notify (conntrackd's Systemd): READY once started, STATUS, WATCHDOG, STOPPING
  const notifier = serviceNotifier(config.general.systemd, log, () => ({
    role: ha?.status().role ?? 'starting',
    internal: engine?.internal.size ?? 0,
    external: engine?.external.size ?? 0,
  }));
  notifier?.startWatchdog();
  const shutdown = (why: string): void => {
    if (stopping) return;
    stopping = true;
    notifier?.stopping();
    log.info(`---- shutdown (${why}) ----`);
    server?.close();
    metrics?.close();
    // let a running failover step finish (bounded), then stop the engine
    const haDone = ha ? Promise.race([ha.stop(), new Promise((r) => setTimeout(r, 5000))]) : Promise.resolve();
    void haDone.finally(() => {
      health?.stop();
      engine?.stop();
      release?.();
      log.on('finish', () => process.exit(0));
      log.end();
      setTimeout(() => process.exit(0), 1000).unref();
    });
  };
  // a bug must leave a trace in the log (a background daemon has no stderr) and no lock file
  // behind, during start-up too
  const fatal = (err: Error): void => {
    log.error(`fatal: ${err.stack ?? err}`);
    release?.();
    log.on('finish', () => process.exit(70));
    log.end();
    setTimeout(() => process.exit(70), 500).unref();
  };
  try {
    release = takeLock(config.general.lockFile, log);
    process.on('uncaughtException', fatal);
    const ports = productionPorts(config, log);
    channel = ports.authentication;
    engine = new SyncEngine(config, log, ports);
    const eng = engine;
    const handler = new DaemonHandler({
      engine: eng,
      log,
      shutdown: () => shutdown('kill request'),
      ha: () => ha,
      eventsReceived: () => eng.eventsReceived,
      eventBufferSize: () => eng.eventBufferSize,
      figures: () => daemonFigures(eng, ha, commits),
      health: () => health,
      onCommit: (r) => {
        tallyCommit(commits, r);
        metrics?.observeCommit(r.seconds + (r.expect?.seconds ?? 0));
      },
    });
    server = new ControlServer(
      config.general.unix.path,
      handler,
      (level, msg) => log.log(level, msg),
      config.general.unix.backlog,
    );
    await server.listen();
    // before the engine starts: a bad address fails the start before anything is logged as running
    if (config.metrics)
      metrics = await startMetricsEndpoint(config.metrics, () => daemonFigures(eng, ha, commits), log);
    // before the engine starts: it hears the peer from then on
    health = new HealthMonitor(resolveHealthConfig(config.health), eng, () => ha, log);
    const monitor = health;
    await engine.start();
    monitor.start();
    await applyScheduler(config, log);
    // the failover layer: keepalived (notify / FIFO) and manual promote/demote drive it
    const haConfig = resolveHaConfig(config.ha ?? { track: {} }, config.hooks);
    const onDemand = onDemandCommitter(haConfig.onDemand, config, eng, log);
    ha = new HaRuntime(
      haConfig,
      {
        commit: () => {
          // keepalived chose this node although its external cache is incomplete (the other
          // node is gone, or the gate is not in keepalived's configuration): say so, commit anyway
          const sync = monitor.syncStatus();
          if (sync.tracked && !sync.synced)
            log.warn(
              `promoted while unsynced: ${UNSYNCED_TEXT[sync.reason ?? 'start-up']}; committing the ${eng.external.size} entries the external cache holds`,
            );
          return handler.commitForPromotion();
        },
        // After a commit the internal cache already holds the committed flows, and the reload
        // that follows replaces it from the kernel (and purges what is gone): flushing it first
        // would leave nothing to bulk-send if that reload failed. Only the external cache goes.
        flushCaches: () => handler.flushCaches('external'),
        schedulePurge: () => handler.schedulePurge(),
        reloadInternal: (send) => eng.reloadInternal(send),
        bulkSend: () => eng.bulkSend(),
        requestResync: () => eng.requestResync(),
      },
      log,
      {
        onTransition: () => notifier?.updateStatus(),
        ...(haConfig.onDemand.enabled ? { onDemand } : {}),
      },
    );
    await ha.start();
    // a run with commit on demand on may have been killed during a promotion: its rules go too
    if (!haConfig.onDemand.enabled) await onDemand.clearStale();
    await scheduleJobs(config, eng, handler, log);
  } catch (err) {
    process.off('uncaughtException', fatal);
    health?.stop();
    server?.close();
    metrics?.close();
    engine?.stop();
    release?.();
    await logStartFailure(log, err as Error);
    throw err;
  }
  // systemd's ExecReload: re-read and check the file, apply the authentication settings; the log
  // names what a restart would change
  process.on('SIGHUP', () => {
    notifier?.reloading();
    void rereadConfig(opts.configPath, config, log, channel).finally(() => notifier?.reloaded());
  });
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  log.info(`ctsync running (pid ${process.pid}), control socket ${config.general.unix.path}`);
  // the sync channel is bound and the internal cache loaded from the kernel (engine.start)
  notifier?.ready();
  if (opts.background) {
    // the parent stops reading our stderr once we say we are ready: log to the file only from
    // now on, then say it
    for (const t of log.transports.filter((t) => t instanceof winston.transports.Console)) log.remove(t);
    process.stderr.write(`${READY_MARK}\n`);
  }
}

/** What a background daemon writes on stderr once it is fully started (see runDaemon). */
const READY_MARK = 'ctsync-daemon-ready';
/** What a background daemon writes on stderr, followed by the reason, when it cannot start. */
const FAILED_MARK = 'ctsync-daemon-failed:';

/**
 * Says why the daemon cannot start, once in each place: the log file and syslog get it here;
 * stderr gets it from the command line, which prints the error (so not from the console
 * transport as well). The log is closed (written out) before the caller exits.
 */
async function logStartFailure(log: Logger, err: Error): Promise<void> {
  for (const t of log.transports.filter((t) => t instanceof winston.transports.Console)) log.remove(t);
  // winston complains on stderr about a message with no transport to go to
  if (log.transports.length > 0) log.error(`cannot start: ${oneLine(err.message)}`);
  await new Promise<void>((resolve) => {
    log.on('finish', resolve);
    log.end();
    setTimeout(resolve, 1000).unref();
  });
}

/**
 * `-d`: starts the daemon in the background and returns once it has fully started, so a
 * start-up error (bad config, port in use) is reported to the caller, not lost in a log. The
 * child says so on stderr (after it stopped logging there), then the pipe is closed.
 */
export async function startInBackground(argv: string[], config: CtsyncConfig): Promise<void> {
  // the child would restart itself with the flags (runDaemon): give them at once
  const flags = config.general.scheduler ? REALTIME_V8_FLAGS.filter((f) => !process.execArgv.includes(f)) : [];
  const child = spawn(process.execPath, [...flags, ...argv], { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const ready = new Promise<void>((resolve) => {
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (stderr.includes(READY_MARK)) resolve();
    });
  });
  const exited = new Promise<number>((resolve) => child.once('exit', (code) => resolve(code ?? 1)));
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), 30_000)));
  const state = await Promise.race([ready.then(() => 'ready' as const), exited, timeout]);
  clearTimeout(timer);
  if (state === 'timeout')
    throw new Error(`the daemon did not finish starting within 30 s (control socket ${config.general.unix.path})`);
  if (state !== 'ready') {
    // the child's reason, on one line (before it, its stderr has its log lines)
    const failed = stderr.split('\n').find((l) => l.startsWith(FAILED_MARK));
    if (failed) throw new Error(failed.slice(FAILED_MARK.length).trim());
    throw new Error(`the daemon exited during start-up (code ${state})${stderr ? `:\n${stderr.trim()}` : ''}`);
  }
  child.stderr!.destroy();
  child.unref();
}

/**
 * conntrackd's `Scheduler { Type FIFO|RR  Priority N }`, for the main thread: it runs the event
 * and sync loop, which is what must not wait behind other load. Only that thread: with every
 * Node thread real-time (GC helpers, libuv's pool, the commit workers) a 2-CPU machine
 * livelocked. Threads created before the switch keep the default (libuv's pool is started
 * here for that); the commit workers, started on demand later, return to the default policy
 * themselves (commit-worker.ts). A refusal (no
 * CAP_SYS_NICE, RT throttling in a container) is a warning: the daemon works without it.
 */
async function applyScheduler(config: CtsyncConfig, log: Logger): Promise<void> {
  const s = config.general.scheduler;
  if (!s) return;
  await fs.promises.stat('/'); // starts libuv's thread pool, if nothing has yet
  const r = nativeAddon().setThreadScheduler(s.type === 'fifo' ? SchedPolicy.FIFO : SchedPolicy.RR, s.priority);
  const what = `Scheduler ${s.type.toUpperCase()} priority ${s.priority}`;
  if (r < 0) log.warn(`${what} not applied: ${errnoName(-r)} (the daemon runs at the default policy)`);
  else log.info(`${what} applied to the main thread (the event and sync loop; worker threads keep the default policy)`);
}
