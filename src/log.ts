// Logging with winston: console, file, or both, with levels (conntrackd has no verbose mode).
import winston from 'winston';

export type LogLevel = 'error' | 'warn' | 'info' | 'verbose' | 'debug';

export interface LogOptions {
  level?: LogLevel;
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
