// Writes to stdout: buffered (one write per ~64 KiB instead of one per line, for 100k-line
// dumps), and straight to the file descriptor: process.stdout would load Node's stream modules,
// a few milliseconds of every client command's start-up.
import fs from 'node:fs';

export class LineWriter {
  private chunk = '';

  constructor(
    private readonly fd = 1,
    private readonly limit = 64 * 1024,
  ) {}

  line(s: string): void {
    this.chunk += s + '\n';
    if (this.chunk.length >= this.limit) this.flush();
  }

  flush(): void {
    if (!this.chunk) return;
    const data = this.chunk;
    this.chunk = '';
    writeOut(data, this.fd);
  }
}

/** Writes `text` to stdout (or `fd`) now, whole. */
export function writeOut(text: string, fd = 1): void {
  try {
    writeAll(fd, text);
  } catch (err) {
    // reader went away (`ctsync ct list | head`): stop quietly like the C tools do
    if ((err as NodeJS.ErrnoException).code === 'EPIPE') process.exit(0);
    throw err;
  }
}

function writeAll(fd: number, data: string): void {
  const buf = Buffer.from(data);
  let off = 0;
  while (off < buf.length) {
    try {
      off += fs.writeSync(fd, buf, off);
    } catch (err) {
      // stdout may be a non-blocking pipe (e.g. under a test runner): wait and retry
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
    }
  }
}

export function printError(msg: string): void {
  process.stderr.write(`ctsync: ${msg}\n`);
}
