// The service manager's notification protocol (sd_notify(3)), for a `Type=notify` unit: READY=1
// once the daemon is fully started, STATUS= with the role and cache sizes, WATCHDOG=1 from the
// event loop, RELOADING=1 and READY=1 around a reload (SIGHUP), STOPPING=1 on shutdown.
// conntrackd's `Systemd` option (on by default in a build with systemd, as Debian's is) switches
// it; without $NOTIFY_SOCKET nothing is sent. The datagrams go out through the addon
// (native/sd-notify.h): Node has no UNIX datagram sockets. The protocol here does no I/O of its
// own and reads no clock: sending, timers and the clock are ports.
import { nativeAddon } from '../native.js';
import { errnoName } from '../netlink/socket.js';

/** What the service manager asked for, read from the environment it gave the daemon. */
export interface NotifyEnvironment {
  /** $NOTIFY_SOCKET: a path or an `@` abstract name. */
  socket: string;
  /** Half of $WATCHDOG_USEC (what sd_watchdog_enabled(3) advises), when the watchdog is for us. */
  watchdogIntervalMs?: number;
  /** Environment values that could not be used, each saying why. */
  warnings: string[];
}

/**
 * Reads $NOTIFY_SOCKET, $WATCHDOG_USEC and $WATCHDOG_PID as sd_notify(3) and
 * sd_watchdog_enabled(3) define them; undefined when there is no socket to notify. A watchdog
 * whose $WATCHDOG_PID names another process is not ours (a child inherited the variables).
 */
export function readNotifyEnvironment(env: NodeJS.ProcessEnv, pid: number): NotifyEnvironment | undefined {
  const socket = env.NOTIFY_SOCKET;
  if (!socket) return undefined;
  const warnings: string[] = [];
  if (!socket.startsWith('/') && !socket.startsWith('@'))
    warnings.push(`NOTIFY_SOCKET=${socket}: neither a path nor an @abstract name; the service manager is not notified`);
  const usec = env.WATCHDOG_USEC;
  const watchdogPid = env.WATCHDOG_PID;
  let watchdogIntervalMs: number | undefined;
  if (usec !== undefined && usec !== '') {
    if (!/^[0-9]+$/.test(usec) || Number(usec) === 0)
      warnings.push(`WATCHDOG_USEC=${usec}: not a positive number of microseconds; no watchdog pings`);
    else if (watchdogPid !== undefined && watchdogPid !== '' && !/^[0-9]+$/.test(watchdogPid))
      warnings.push(`WATCHDOG_PID=${watchdogPid}: not a process id; no watchdog pings`);
    else if (!watchdogPid || Number(watchdogPid) === pid)
      watchdogIntervalMs = Math.max(1, Math.floor(Number(usec) / 2000));
  }
  return { socket, ...(watchdogIntervalMs !== undefined ? { watchdogIntervalMs } : {}), warnings };
}

/** What STATUS= says: the failover role and the cache sizes. */
export interface ServiceState {
  role: string;
  internal: number;
  external: number;
}

export function statusText(s: ServiceState): string {
  return `role ${s.role}; internal cache ${s.internal} entries, external cache ${s.external} entries`;
}

export interface NotifyPorts {
  /** Sends one notification datagram: 0 or -errno. */
  send(message: string): number;
  every(ms: number, fire: () => void): unknown;
  cancel(timer: unknown): void;
  /** CLOCK_MONOTONIC in microseconds (for MONOTONIC_USEC). */
  monotonicUsec(): bigint;
}

export interface NotifyLog {
  info(message: string): void;
  warn(message: string): void;
}

/** How often STATUS= is refreshed between role changes, so the cache sizes stay current. */
export const STATUS_REFRESH_MS = 10_000;

export class ServiceNotifier {
  private readonly timers: unknown[] = [];
  private stopped = false;

  constructor(
    private readonly env: NotifyEnvironment,
    private readonly ports: NotifyPorts,
    private readonly log: NotifyLog,
    private readonly state: () => ServiceState,
    private readonly statusRefreshMs = STATUS_REFRESH_MS,
  ) {
    for (const w of env.warnings) log.warn(`systemd: ${w}`);
  }

  /**
   * Starts the watchdog pings (if the service manager asked for them): from a timer on the event
   * loop, so a loop that is stuck stops them and the service manager restarts the daemon.
   */
  startWatchdog(): void {
    const ms = this.env.watchdogIntervalMs;
    if (ms === undefined || this.stopped) return;
    this.timers.push(this.ports.every(ms, () => this.send('WATCHDOG=1')));
    this.log.info(`systemd: watchdog pings every ${ms} ms`);
  }

  /** The daemon is fully started: READY=1 with the first status, then the status kept current. */
  ready(): void {
    if (this.stopped) return;
    this.send(`READY=1\nSTATUS=${statusText(this.state())}`);
    this.timers.push(this.ports.every(this.statusRefreshMs, () => this.updateStatus()));
  }

  /** STATUS= now (on a role change; also every statusRefreshMs after READY). */
  updateStatus(): void {
    if (!this.stopped) this.send(`STATUS=${statusText(this.state())}`);
  }

  /** A reload (SIGHUP) has begun: RELOADING=1 with the time it began, as Type=notify-reload wants. */
  reloading(): void {
    if (!this.stopped) this.send(`RELOADING=1\nMONOTONIC_USEC=${this.ports.monotonicUsec()}`);
  }

  /** The reload is over: READY=1 again, with the status. */
  reloaded(): void {
    if (!this.stopped) this.send(`READY=1\nSTATUS=${statusText(this.state())}`);
  }

  /** Shutdown has begun: STOPPING=1, and nothing more is sent. */
  stopping(): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of this.timers.splice(0)) this.ports.cancel(t);
    this.send('STOPPING=1\nSTATUS=stopping');
  }

  private send(message: string): void {
    const r = this.ports.send(message);
    if (r < 0)
      this.log.warn(
        `systemd: cannot notify ${this.env.socket} (${errnoName(-r)}): ${message.split('\n')[0]} not delivered`,
      );
  }
}

/**
 * The daemon's notifier: undefined when `Systemd` is off or the service manager gave no socket
 * (then nothing is sent). The timers are unref'd: they never keep a stopping daemon alive.
 */
export function serviceNotifier(
  enabled: boolean,
  log: NotifyLog,
  state: () => ServiceState,
  env: NodeJS.ProcessEnv = process.env,
): ServiceNotifier | undefined {
  const target = readNotifyEnvironment(env, process.pid);
  if (!target) return undefined;
  if (!enabled) {
    log.info(`systemd: Systemd is off in General: NOTIFY_SOCKET=${target.socket} is not notified`);
    return undefined;
  }
  if (!target.socket.startsWith('/') && !target.socket.startsWith('@')) {
    for (const w of target.warnings) log.warn(`systemd: ${w}`);
    return undefined;
  }
  const addon = nativeAddon();
  return new ServiceNotifier(
    target,
    {
      send: (message) => addon.sdNotify(target.socket, message),
      every: (ms, fire) => setInterval(fire, ms).unref(),
      cancel: (timer) => clearInterval(timer as NodeJS.Timeout),
      // libuv's hrtime is CLOCK_MONOTONIC, the clock systemd compares MONOTONIC_USEC with
      monotonicUsec: () => process.hrtime.bigint() / 1000n,
    },
    log,
    state,
  );
}
