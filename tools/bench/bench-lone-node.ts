// For the benchmarks of one daemon without a peer (bench-cli.ts, bench-idle-rss.ts): a fresh
// network namespace (ctsync-TAG-PID-RANDOM) with a veth pair, 192.0.2.1 on sync0 and nobody on
// the other end, and a temporary directory; both removed, with every process left in the
// namespace, on exit, failure or interrupt.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

/** Runs `ip ...args`; throws with its stderr if it fails. */
export function ip(...args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr.trim()}`);
}

/** The namespace and directory; `interface` is the sync link's name (sync0). */
export function loneNode(tag: string): { ns: string; dir: string; interface: string } {
  if (process.getuid?.() !== 0) {
    console.error('run as root (a network namespace is created)');
    process.exit(1);
  }
  const ns = `ctsync-${tag}-${process.pid}-${randomBytes(3).toString('hex')}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `ctsync-${tag}-`));
  process.on('exit', () => {
    for (const pid of spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' })
      .stdout.split(/\s+/)
      .filter(Boolean)) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    spawnSync('ip', ['netns', 'del', ns]);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => process.exit(130));
  ip('netns', 'add', ns);
  ip('-n', ns, 'link', 'set', 'lo', 'up');
  // both ends in the namespace: the daemon's sync link, where nobody answers
  ip('-n', ns, 'link', 'add', 'sync0', 'type', 'veth', 'peer', 'name', 'sync1');
  ip('-n', ns, 'addr', 'add', '192.0.2.1/24', 'dev', 'sync0');
  ip('-n', ns, 'link', 'set', 'sync0', 'up');
  ip('-n', ns, 'link', 'set', 'sync1', 'up');
  return { ns, dir, interface: 'sync0' };
}
