// `conntrackd -s process`: conntrackd lists the child processes it forked for long operations
// ("PID=<pid> type=flush|commit|any", one line each, nothing when there are none). ctsync forks
// none: it runs those operations in the daemon itself, so it lists the ones running now in the
// same layout, each with the daemon's own pid.

/** The operations conntrackd would run in a child process, and whether each runs now. */
export interface RunningOperations {
  /** `-c` or a promotion's commit. */
  commit: boolean;
  /** `-F`, or the purge that `-t` scheduled. */
  flush: boolean;
}

export function processStats(pid: number, running: RunningOperations): string {
  return (running.flush ? `PID=${pid} type=flush\n` : '') + (running.commit ? `PID=${pid} type=commit\n` : '');
}
