// The logging surface src/ha/ needs. winston's Logger (src/log.ts) satisfies it; tests pass a
// recorder.

export interface HaLog {
  error(message: string): unknown;
  warn(message: string): unknown;
  info(message: string): unknown;
  verbose(message: string): unknown;
  debug(message: string): unknown;
}
