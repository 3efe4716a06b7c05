// How the tools and tests run keepalived: in the foreground, logging to the console, VRRP only,
// with pid files of their own (so it never meets the host's keepalived).

export interface KeepalivedPidFiles {
  main: string;
  vrrp: string;
  checkers: string;
}

/** keepalived's arguments for configuration `conf`. */
export function keepalivedArgs(conf: string, pid: KeepalivedPidFiles): string[] {
  return ['-n', '-l', '-D', '-G', '-P', '-f', conf, '-p', pid.main, '-r', pid.vrrp, '-c', pid.checkers];
}
