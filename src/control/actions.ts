// conntrackd's control request codes (the 4-byte native int its client writes to the UNIX
// socket), so the stock `conntrackd` client and Debian's primary-backup.sh can drive ctsync.

export const ACTION = {
  FLUSH_MASTER: 0, // -F ct: flush the kernel table
  RESYNC_MASTER: 1, // -R ct: re-read the kernel table into the internal cache
  DUMP_INTERNAL: 16, // -i ct
  DUMP_EXTERNAL: 17, // -e ct
  COMMIT: 18, // -c ct
  KILL: 20, // -k
  STATS: 21, // -s (none) / -s ct
  SEND_BULK: 22, // -B
  REQUEST_DUMP: 23, // -n
  DUMP_INT_XML: 24,
  DUMP_EXT_XML: 25,
  RESET_TIMERS: 26, // -t
  STATS_NETWORK: 28,
  STATS_CACHE: 29,
  STATS_RUNTIME: 30,
  STATS_LINK: 31,
  STATS_RSQUEUE: 32,
  FLUSH_INT_CACHE: 33, // -f internal
  FLUSH_EXT_CACHE: 34, // -f external
  STATS_PROCESS: 35,
  STATS_QUEUE: 36,
  EXP_STATS: 37,
  EXP_FLUSH_MASTER: 38,
  EXP_RESYNC_MASTER: 39,
  EXP_DUMP_INTERNAL: 40,
  EXP_DUMP_EXTERNAL: 41,
  EXP_COMMIT: 42,
  ALL_FLUSH_MASTER: 43, // -F
  ALL_RESYNC_MASTER: 44, // -R
  ALL_FLUSH_CACHE: 45, // -f
  ALL_COMMIT: 46, // -c
  EXP_DUMP_INT_XML: 47,
  EXP_DUMP_EXT_XML: 48,
} as const;

export type ActionName = keyof typeof ACTION;

const NAMES = new Map<number, ActionName>(Object.entries(ACTION).map(([k, v]) => [v, k as ActionName]));

export function actionName(code: number): ActionName | undefined {
  return NAMES.get(code);
}
