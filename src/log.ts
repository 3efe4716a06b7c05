// Logging with winston: console, file, or both, with levels (conntrackd has no verbose mode).
import { spawn, type ChildProcess } from 'node:child_process';
import winston from 'winston';
import Transport from 'winston-transport';

const FACILITY: Record<string, number> = { daemon: 3, local0: 16, local1: 17, local2: 18, local3: 19, local4: 20, local5: 21, local6: 22, local7: 23 };
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
      this.child = spawn('logger', ['--prio-prefix', '-t', 'ctsync', '--id=' + process.pid], { stdio: ['pipe', 'ignore', 'ignore'] });
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

export interface LogOptions {
  level?: LogLevel;
  /** Syslog facility (conntrackd's Syslog), through the system's `logger`. */
  syslog?: string;
  /** Log file path (conntrackd's LogFile). */
  file?: string;
  /** Also log to stderr (foreground runs). */
  console?: boolean;
}

export type Logger = winston.Logger;

export function createLogger(opts: LogOptions): Logger {
  const line = winston.format.printf(({ timestamp, level, message }) => `[${timestamp}] (${level}) ${message}`);
  const transports: winston.transport[] = [];
  if (opts.console ?? true) transports.push(new winston.transports.Console({ stderrLevels: ['error', 'warn', 'info', 'verbose', 'debug'] }));
  if (opts.file) transports.push(new winston.transports.File({ filename: opts.file }));
  if (opts.syslog) transports.push(new SyslogTransport(opts.syslog));
  return winston.createLogger({
    level: opts.level ?? 'info',
    format: winston.format.combine(winston.format.timestamp(), line),
    transports,
  });
}

/** A logger that drops everything (tests, one-shot commands). */
export function silentLogger(): Logger {
  return winston.createLogger({ silent: true, transports: [new winston.transports.Console({ silent: true })] });
}
