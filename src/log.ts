// Logging with winston: console, file, or both, with levels (conntrackd has no verbose mode), as
// text or JSON lines.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import winston from 'winston';
import Transport from 'winston-transport';
import { LogRateLimiter, type RateLimitClock, type RateLimitOptions } from './log-rate-limit.js';

const FACILITY: Record<string, number> = {
  daemon: 3,
  local0: 16,
  local1: 17,
  local2: 18,
  local3: 19,
  local4: 20,
  local5: 21,
  local6: 22,
  local7: 23,
};
const SEVERITY: Record<string, number> = { error: 3, warn: 4, info: 6, verbose: 7, debug: 7 };

/**
 * Syslog through util-linux `logger`, kept running and fed one line per message with a `<PRI>`
 * prefix (Node has no UNIX datagram sockets for /dev/log).
 */
class SyslogTransport extends Transport {
  private child?: ChildProcess;

  constructor(private readonly facility: string) {
    super();
  }

  private writer(): ChildProcess {
    if (!this.child || this.child.exitCode !== null) {
      this.child = spawn('logger', ['--prio-prefix', '-t', 'ctsync', '--id=' + process.pid], {
        stdio: ['pipe', 'ignore', 'ignore'],
      });
      this.child.on('error', () => undefined); // no logger installed: syslog is best effort
      this.child.stdin!.on('error', () => undefined);
      this.child.unref();
    }
    return this.child;
  }

  override log(info: { level: string; message: unknown }, next: () => void): void {
    const pri = (FACILITY[this.facility] ?? 3) * 8 + (SEVERITY[info.level] ?? 6);
    this.writer().stdin!.write(`<${pri}>${String(info.message).replace(/\n/g, ' ')}\n`);
    next();
  }

  override close(): void {
    this.child?.stdin?.end();
  }
}

export type LogLevel = 'error' | 'warn' | 'info' | 'verbose' | 'debug';
/** `text`: `[timestamp] (level) message`; `json`: one object per line, for log shippers. */
export type LogFormat = 'text' | 'json';

export interface LogOptions {
  level?: LogLevel;
  /** Syslog facility (conntrackd's Syslog), through the system's `logger`. */
  syslog?: string;
  /** Log file path (conntrackd's LogFile). */
  file?: string;
  /** Of the console and file lines (syslog gets the message alone); default text. */
  format?: LogFormat;
  /** Also log to stderr (foreground runs). */
  console?: boolean;
  /** Rate limiting per kind of message (log-rate-limit.ts); false: every message is written. */
  rateLimit?: RateLimitOptions | false;
  /** The limiter's clock and timers (tests); default the real ones. */
  clock?: RateLimitClock;
}

const realClock: RateLimitClock = {
  now: () => Date.now(),
  // unref'd: a pending summary does not keep a finished process alive (the log's end flushes it)
  setTimer: (ms, fire) => setTimeout(fire, ms).unref(),
  clearTimer: (h) => clearTimeout(h as NodeJS.Timeout),
};

/** Marks the limiter's own summary lines, which pass it. */
const SUMMARY = Symbol('rate-limit summary');

export type Logger = winston.Logger;

export function createLogger(opts: LogOptions): Logger {
  const line = winston.format.printf(({ timestamp, level, message }) => `[${timestamp}] (${level}) ${message}`);
  if (opts.file) checkLogFile(opts.file);
  const transports: winston.transport[] = [];
  if (opts.console ?? true)
    transports.push(new winston.transports.Console({ stderrLevels: ['error', 'warn', 'info', 'verbose', 'debug'] }));
  if (opts.file) transports.push(new winston.transports.File({ filename: opts.file }));
  if (opts.syslog) transports.push(new SyslogTransport(opts.syslog));
  // One limiter for the whole log, as a format ahead of the others: every call site and every
  // transport is covered, and a message is judged before any work is spent on it.
  let limiter: LogRateLimiter | undefined;
  const rateLimited = winston.format((info) => {
    if (!limiter || (info as { [SUMMARY]?: boolean })[SUMMARY] || !logger.isLevelEnabled(info.level)) return info;
    return limiter.admit(info.level, String(info.message)) ? info : false;
  });
  const logger = winston.createLogger({
    level: opts.level ?? 'info',
    format: winston.format.combine(
      rateLimited(),
      winston.format.timestamp(),
      // winston's json: {"level":…,"message":…,"timestamp":…} on one line, newlines escaped
      opts.format === 'json' ? winston.format.json() : line,
    ),
    transports,
  });
  if (opts.rateLimit !== false) {
    const summaries = new LogRateLimiter(
      opts.clock ?? realClock,
      (level, message) => logger.log({ level, message, [SUMMARY]: true }),
      opts.rateLimit,
    );
    limiter = summaries;
    // the counts of windows still open go out before the log closes
    const end = logger.end.bind(logger) as (...args: unknown[]) => winston.Logger;
    logger.end = ((...args: unknown[]) => {
      if (!logger.writableEnded) summaries.flush();
      return end(...args);
    }) as typeof logger.end;
  }
  return logger;
}

/**
 * Opens the log file once (creating its directory, as winston's File transport would): one that
 * cannot be written is an error here. winston would only emit an error later, or, for a
 * directory, write nowhere without a word.
 */
function checkLogFile(file: string): void {
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.closeSync(fs.openSync(file, 'a'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    const why =
      code === 'ENOTDIR' || code === 'EEXIST'
        ? ': a part of its path is not a directory'
        : code === 'EISDIR'
          ? ': it is a directory'
          : '';
    throw new Error(`log file ${file} cannot be written (${code}${why}): check LogFile in General`, { cause: err });
  }
}

/** A logger that drops everything (tests, one-shot commands). */
export function silentLogger(): Logger {
  return winston.createLogger({ silent: true, transports: [new winston.transports.Console({ silent: true })] });
}
