// Reader for keepalived's notify FIFO (`vrrp_notify_fifo` / `notify_fifo`), the only channel on
// which keepalived reports state changes in order (docs/conntrackd-compat.md §2.2, §3.2).
//
// How keepalived (2.2.7, vrrp/notify fifo_open) uses the path: mkfifo(0644) unless it exists,
// then open(O_RDWR | O_NONBLOCK), and at exit unlink it — but only if it created it. Hence:
// * We open the FIFO O_RDWR | O_NONBLOCK too. Opening never blocks (no thread-pool thread stuck
//   in open(2) waiting for a writer), and since we count as a writer ourselves, read() never
//   returns EOF when keepalived closes or restarts: no busy reopen loop while keepalived is down.
//   The fd is read through a net.Socket (libuv pipe handle: epoll, no blocking reads).
// * When keepalived recreates the FIFO (it created it, exited, unlinked it, started again),
//   our fd refers to the old, orphaned inode. A periodic stat of the path (checkIntervalMs)
//   notices the missing path or the new inode and reopens.
// * With `create` (default) we mkfifo the path ourselves when it is missing. keepalived then finds
//   it (EEXIST), uses it and never unlinks it: the inode stays the same across keepalived restarts
//   and nothing is lost in between. We never unlink it either: keepalived may hold it open, and a
//   new inode would orphan keepalived's writes until keepalived restarts.
// * Errors (ENOENT without `create`, not a FIFO, EACCES...) retry with exponential backoff.
// * Lines are split on '\n' across reads; a partial line left when the FIFO is reopened (or an
//   EOF, should one happen) is dropped and counted. keepalived writes each line with one write(2)
//   (< PIPE_BUF, atomic), so partial or garbled lines only appear with a second reader on the
//   same FIFO (docs/conntrackd-compat.md §3.3, e.g. a `notify_fifo_script` configured for the FIFO ctsync reads):
//   don't configure one.
import fs from 'node:fs';
import net from 'node:net';
import type { HaLog } from './log.js';

export interface FifoTimers {
  setTimer(ms: number, cb: () => void): unknown;
  clearTimer(handle: unknown): void;
}

const realTimers: FifoTimers = {
  setTimer: (ms, cb) => setTimeout(cb, ms),
  clearTimer: (h) => clearTimeout(h as NodeJS.Timeout),
};

/** Splits a byte stream into '\n'-terminated lines; bounded memory. */
export class LineSplitter {
  private parts: Buffer[] = [];
  private size = 0;
  /** Inside an over-long line: drop bytes until the next newline. */
  private skipping = false;
  overlong = 0;

  constructor(
    private readonly onLine: (line: string) => void,
    private readonly maxLineBytes = 4096,
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      if (nl < 0) break;
      if (this.skipping) {
        this.skipping = false;
      } else {
        const piece = chunk.subarray(start, nl);
        const line = this.size === 0 ? piece : Buffer.concat([...this.parts, piece]);
        this.parts = [];
        this.size = 0;
        if (line.length > this.maxLineBytes) this.overlong++;
        else this.onLine(line.toString('utf8'));
      }
      start = nl + 1;
    }
    if (start >= chunk.length || this.skipping) return;
    const rest = chunk.subarray(start);
    if (this.size + rest.length > this.maxLineBytes) {
      this.parts = [];
      this.size = 0;
      this.skipping = true;
      this.overlong++;
      return;
    }
    this.parts.push(Buffer.from(rest)); // copy: the chunk's memory may be reused
    this.size += rest.length;
  }

  /** Bytes of an unfinished line. */
  get pendingBytes(): number {
    return this.size;
  }

  /** Drops an unfinished line; returns its length (0 if there was none). */
  reset(): number {
    const n = this.size;
    this.parts = [];
    this.size = 0;
    this.skipping = false;
    return n;
  }
}

export interface FifoReaderOptions {
  path: string;
  /** Called for each complete line, in order, without its '\n'. Exceptions are logged. */
  onLine(line: string): void;
  log: HaLog;
  /** mkfifo the path when it is missing. Default true. */
  create?: boolean;
  /** How often the path is checked for a new inode / removal. Default 1000. */
  checkIntervalMs?: number;
  /** Backoff between failed opens. Default 100 → 5000. */
  retryMinMs?: number;
  retryMaxMs?: number;
  /** Longer lines are dropped. Default 4096. */
  maxLineBytes?: number;
  /** Creates the FIFO. Default: `mkfifo -m 0600 path`. */
  mkfifo?: (path: string) => Promise<void>;
  timers?: FifoTimers;
  /** Called after each successful open (tests, status). */
  onOpen?: (info: { ino: number; dev: number; created: boolean }) => void;
}

export interface FifoReaderStats {
  opens: number;
  /** Reopens because the path vanished or got a new inode, or the read side ended. */
  reopens: number;
  lines: number;
  /** Partial lines dropped on reopen. */
  partialDropped: number;
  overlong: number;
  created: number;
  lastError?: string;
  /** Inode of the FIFO being read. */
  ino?: number;
}

async function defaultMkfifo(path: string): Promise<void> {
  // loaded here, not with the daemon: execa is ~130 modules and ~3 MB of heap
  const { execa } = await import('execa');
  await execa('mkfifo', ['-m', '0600', path], { stdin: 'ignore' });
}

function openFd(path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    fs.open(path, fs.constants.O_RDWR | fs.constants.O_NONBLOCK, (err, fd) => (err ? reject(err) : resolve(fd)));
  });
}

function fstat(fd: number): Promise<fs.Stats> {
  return new Promise((resolve, reject) => fs.fstat(fd, (err, st) => (err ? reject(err) : resolve(st))));
}

function closeFd(fd: number): void {
  fs.close(fd, () => undefined);
}

type StatLike = { ino: number; dev: number; isFIFO(): boolean };

export class NotifyFifoReader {
  private readonly o: Required<Omit<FifoReaderOptions, 'onOpen'>> & Pick<FifoReaderOptions, 'onOpen'>;
  private readonly splitter: LineSplitter;
  private socket?: net.Socket;
  private ident?: { ino: number; dev: number };
  private checkTimer: unknown;
  private retryTimer: unknown;
  private retryMs: number;
  private running = false;
  private opening = false;
  /** Last error text logged, so a retry loop logs each distinct problem once. */
  private lastLogged?: string;
  private readonly counts: Omit<FifoReaderStats, 'overlong'> = {
    opens: 0,
    reopens: 0,
    lines: 0,
    partialDropped: 0,
    created: 0,
  };

  constructor(opts: FifoReaderOptions) {
    this.o = {
      create: true,
      checkIntervalMs: 1000,
      retryMinMs: 100,
      retryMaxMs: 5000,
      maxLineBytes: 4096,
      mkfifo: defaultMkfifo,
      timers: realTimers,
      ...opts,
    };
    this.retryMs = this.o.retryMinMs;
    this.splitter = new LineSplitter((line) => {
      this.counts.lines++;
      try {
        this.o.onLine(line);
      } catch (err) {
        this.o.log.error(`ha: fifo ${this.o.path}: line handler failed: ${(err as Error).message}`);
      }
    }, this.o.maxLineBytes);
  }

  get stats(): FifoReaderStats {
    return { ...this.counts, overlong: this.splitter.overlong };
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    void this.open();
  }

  /** Stops reading and closes the FIFO (never removes it). */
  async stop(): Promise<void> {
    this.running = false;
    this.o.timers.clearTimer(this.checkTimer);
    this.o.timers.clearTimer(this.retryTimer);
    await this.closeSocket();
  }

  private async open(): Promise<void> {
    if (!this.running || this.opening) return;
    this.opening = true;
    const path = this.o.path;
    let fd: number | undefined;
    try {
      let created = false;
      let st: StatLike | undefined;
      try {
        st = await fs.promises.stat(path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        if (!this.o.create)
          throw Object.assign(new Error(`${path} does not exist (yet); waiting for keepalived to create it`), {
            code: 'ENOENT',
          });
        try {
          await this.o.mkfifo(path);
          created = true;
          this.counts.created++;
          this.o.log.info(`ha: fifo: created ${path}`);
        } catch (mkErr) {
          // keepalived may have made it meanwhile; the stat below tells
          if (!fs.existsSync(path))
            throw new Error(`could not create ${path}: ${(mkErr as Error).message}`, { cause: mkErr });
        }
        st = await fs.promises.stat(path);
      }
      if (!st.isFIFO()) throw new Error(`${path} is not a FIFO`);
      fd = await openFd(path);
      const fst = await fstat(fd);
      if (!fst.isFIFO()) throw new Error(`${path} is not a FIFO`);
      if (!this.running) {
        closeFd(fd);
        return;
      }
      this.attach(fd, fst);
      fd = undefined;
      this.retryMs = this.o.retryMinMs;
      this.lastLogged = undefined;
      this.counts.opens++;
      this.counts.ino = fst.ino;
      this.o.log.info(`ha: fifo: reading ${path} (inode ${fst.ino})`);
      this.o.onOpen?.({ ino: fst.ino, dev: fst.dev, created });
      this.scheduleCheck();
    } catch (err) {
      if (fd !== undefined) closeFd(fd);
      const msg = (err as Error).message;
      this.counts.lastError = msg;
      if (msg !== this.lastLogged) {
        this.lastLogged = msg;
        this.o.log.warn(`ha: fifo: ${msg}; retrying`);
      }
      this.scheduleRetry();
    } finally {
      this.opening = false;
    }
  }

  private attach(fd: number, st: StatLike): void {
    this.ident = { ino: st.ino, dev: st.dev };
    const sock = new net.Socket({ fd, readable: true, writable: false });
    this.socket = sock;
    sock.on('data', (chunk: Buffer) => this.splitter.push(chunk));
    sock.on('error', (err) => {
      if (this.socket !== sock) return;
      this.counts.lastError = err.message;
      this.o.log.warn(`ha: fifo: read error on ${this.o.path}: ${err.message}`);
    });
    sock.on('close', () => {
      if (this.socket !== sock) return; // closed by us
      this.socket = undefined;
      this.reopen('the read side ended');
    });
  }

  private closeSocket(): Promise<void> {
    const sock = this.socket;
    this.socket = undefined;
    this.ident = undefined;
    this.dropPartial();
    if (!sock || sock.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      sock.once('close', () => resolve());
      sock.destroy();
    });
  }

  private dropPartial(): void {
    const n = this.splitter.reset();
    if (n > 0) {
      this.counts.partialDropped++;
      this.o.log.warn(
        `ha: fifo: dropped an unfinished line of ${n} bytes (was another process reading ${this.o.path}?)`,
      );
    }
  }

  private reopen(why: string): void {
    if (!this.running) return;
    this.counts.reopens++;
    this.o.log.info(`ha: fifo: reopening ${this.o.path}: ${why}`);
    this.o.timers.clearTimer(this.checkTimer);
    void this.closeSocket().then(() => this.open());
  }

  private scheduleRetry(): void {
    if (!this.running) return;
    const ms = this.retryMs;
    this.retryMs = Math.min(this.o.retryMaxMs, this.retryMs * 2);
    this.retryTimer = this.o.timers.setTimer(ms, () => void this.open());
  }

  private scheduleCheck(): void {
    if (!this.running) return;
    this.checkTimer = this.o.timers.setTimer(this.o.checkIntervalMs, () => void this.check());
  }

  /** Is the path still the FIFO we read? */
  private async check(): Promise<void> {
    const sock = this.socket;
    const ident = this.ident;
    if (!this.running || !sock || !ident) return;
    let why: string | undefined;
    try {
      const st = await fs.promises.stat(this.o.path);
      if (st.ino !== ident.ino || st.dev !== ident.dev)
        why = `${this.o.path} was replaced (inode ${ident.ino} → ${st.ino})`;
    } catch (err) {
      why = `${this.o.path} is gone (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`;
    }
    // reopened meanwhile (the read side closed): the new FIFO has its own check loop
    if (!this.running || this.socket !== sock) return;
    if (why) this.reopen(why);
    else this.scheduleCheck();
  }
}
