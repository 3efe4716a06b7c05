// A copy-on-write view of the whole root file system, in a mount namespace of its own, for tests
// that install packages: what dpkg does inside (files, diversions of /usr/sbin/conntrackd) lands
// in a tmpfs that vanishes with the namespace, so tests running at the same time keep seeing the
// machine's own programs. One process (`sleep`) holds the namespace; commands enter it with
// nsenter and chroot.
import { execa } from 'execa';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

// The overlay's lower layer is `/` alone, without the mounts on it: these get their own.
const MOUNT_SCRIPT = `set -e
mount -t tmpfs tmpfs "$1"
mkdir "$1/upper" "$1/work" "$1/root"
mount -t overlay overlay -o "lowerdir=/,upperdir=$1/upper,workdir=$1/work" "$1/root"
mount -t proc proc "$1/root/proc"
mount --rbind /dev "$1/root/dev"
mount -t tmpfs tmpfs "$1/root/run"
echo ready
exec sleep infinity`;

export interface RunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export class RootOverlay {
  private constructor(
    private readonly holder: ChildProcess,
    private readonly mountPoint: string,
  ) {}

  /** Mounts the overlay; resolves once it is ready (or rejects with the mount's error). */
  static async create(): Promise<RootOverlay> {
    const mountPoint = fs.mkdtempSync(path.join(os.tmpdir(), 'ctsync-overlay-'));
    const holder = spawn(
      'unshare',
      ['--mount', '--propagation', 'private', 'sh', '-c', MOUNT_SCRIPT, 'sh', mountPoint],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    holder.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const ready = await new Promise<boolean>((resolve) => {
      holder.stdout?.on('data', (d: Buffer) => {
        if (d.toString().includes('ready')) resolve(true);
      });
      holder.on('exit', () => resolve(false));
      holder.on('error', () => resolve(false));
    });
    const overlay = new RootOverlay(holder, mountPoint);
    if (!ready) {
      await overlay.destroy();
      throw new Error(`root overlay at ${mountPoint} could not be mounted: ${stderr.trim() || 'unshare failed'}`);
    }
    return overlay;
  }

  /** Runs a command inside the overlay as root (never rejects: look at exitCode). */
  async run(command: string, args: string[], env: Record<string, string> = {}): Promise<RunResult> {
    const pid = String(this.holder.pid);
    const chrootArgs = ['-t', pid, '-m', '--', 'chroot', path.join(this.mountPoint, 'root'), command, ...args];
    const r = await execa('nsenter', chrootArgs, {
      reject: false,
      timeout: 300_000,
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C.UTF-8', ...env },
      extendEnv: false,
    });
    return { exitCode: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr };
  }

  /** Ends the namespace (its mounts and the tmpfs go with it) and removes the mount point. */
  async destroy(): Promise<void> {
    if (this.holder.exitCode === null && this.holder.signalCode === null) {
      const exited = new Promise((resolve) => this.holder.once('exit', resolve));
      this.holder.kill('SIGKILL');
      await exited;
    }
    // not recursive: outside the namespace the mount point is an empty folder
    fs.rmdirSync(this.mountPoint);
  }
}
