// The daemon's UNIX control socket. Two protocols on one socket, told apart by the first byte:
//  - conntrackd's: a 4-byte native-endian action code, answered with plain text until EOF (so the
//    stock `conntrackd` client and primary-backup.sh work unchanged);
//  - ours: one JSON request line `{"cmd": "...", "args": {...}}`, answered with JSON lines: any
//    number of `{"data": ...}` records, then `{"ok": true, "result": ...}` or
//    `{"ok": false, "error": "..."}`.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { nativeAddon } from '../native.js';

export interface ControlRequest {
  cmd: string;
  args?: Record<string, unknown>;
}

/** What a command produces: records streamed as they come, and a final result. */
export interface ControlReply {
  records?: AsyncIterable<unknown> | Iterable<unknown>;
  result?: unknown;
}

export interface ControlHandler {
  /** A conntrackd action code; returns the text the stock client prints. */
  conntrackd(action: number): Promise<string | AsyncIterable<string>>;
  json(req: ControlRequest): Promise<ControlReply>;
}

export class ControlError extends Error {}

/** Uid of the process on the other end (SO_PEERCRED), or undefined if it cannot be read. */
function peerUid(sock: net.Socket): number | undefined {
  const fd = (sock as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (fd === undefined || fd < 0) return undefined;
  try {
    return nativeAddon().peerUid(fd);
  } catch {
    return undefined;
  }
}

export class ControlServer {
  private server?: net.Server;

  constructor(
    readonly path: string,
    private readonly handler: ControlHandler,
    private readonly log: (level: 'info' | 'warn' | 'error', msg: string) => void,
    /** listen(2)'s backlog (`UNIX { Backlog }`); Node's default (511) when absent. */
    private readonly backlog?: number,
  ) {}

  async listen(): Promise<void> {
    // A socket file left by a crashed daemon blocks start-up (conntrackd's classic failure):
    // remove it only if nobody answers on it.
    if (fs.existsSync(this.path)) {
      if (await answers(this.path))
        throw new Error(`${this.path}: another daemon is running (it answers on this socket)`);
      fs.unlinkSync(this.path);
    }
    const server = net.createServer((sock) => this.serve(sock));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      const fail = (err: NodeJS.ErrnoException): void => {
        const noDir = !fs.existsSync(path.dirname(this.path));
        reject(
          new Error(
            `control socket ${this.path}: cannot listen (${err.code ?? err.message}${noDir ? ': its directory does not exist' : ''}): check Path in General > UNIX`,
          ),
        );
      };
      server.once('error', fail);
      server.listen({ path: this.path, ...(this.backlog === undefined ? {} : { backlog: this.backlog }) }, () => {
        server.off('error', fail);
        resolve();
      });
    });
    fs.chmodSync(this.path, 0o600);
  }

  close(): void {
    // the socket file is ours only once we listen on it (a failed start leaves another's alone)
    const ours = this.server?.listening === true;
    this.server?.close();
    if (!ours) return;
    try {
      fs.unlinkSync(this.path);
    } catch {
      /* already gone */
    }
  }

  private serve(sock: net.Socket): void {
    const uid = peerUid(sock);
    if (uid !== undefined && uid !== 0) {
      this.log('warn', `control: refused a client with uid ${uid} (root only)`);
      sock.end('ctsync: permission denied: the control socket is for root only\n');
      return;
    }
    let buf = Buffer.alloc(0);
    let handled = false;
    const onData = (d: Buffer): void => {
      if (handled) return;
      buf = Buffer.concat([buf, d]);
      if (buf[0] === 0x7b /* '{' */) {
        const nl = buf.indexOf(0x0a);
        if (nl < 0) {
          if (buf.length > 1 << 20) this.fail(sock, 'request line too long');
          return;
        }
        handled = true;
        void this.serveJson(sock, buf.subarray(0, nl).toString('utf8'));
      } else if (buf.length >= 4) {
        handled = true;
        void this.serveConntrackd(sock, buf.readInt32LE(0));
      }
    };
    sock.on('data', onData);
    sock.on('error', () => sock.destroy());
  }

  private fail(sock: net.Socket, error: string): void {
    this.finish(sock, JSON.stringify({ ok: false, error }) + '\n');
  }

  private finish(sock: net.Socket, last?: string): void {
    sock.end(last ?? '');
  }

  private async serveConntrackd(sock: net.Socket, action: number): Promise<void> {
    try {
      const out = await this.handler.conntrackd(action);
      if (typeof out === 'string') this.finish(sock, out);
      else {
        for await (const chunk of out) if (!sock.write(chunk)) await new Promise((r) => sock.once('drain', r));
        this.finish(sock);
      }
    } catch (err) {
      this.log('error', `control: conntrackd request ${action}: ${(err as Error).message}`);
      this.finish(sock, `${(err as Error).message}\n`);
    }
  }

  private async serveJson(sock: net.Socket, line: string): Promise<void> {
    let req: ControlRequest;
    try {
      req = JSON.parse(line) as ControlRequest;
      if (typeof req.cmd !== 'string') throw new Error('missing "cmd"');
    } catch (err) {
      this.fail(sock, `bad request: ${(err as Error).message}`);
      return;
    }
    try {
      const reply = await this.handler.json(req);
      if (reply.records) {
        let chunk = '';
        for await (const r of reply.records) {
          chunk += JSON.stringify({ data: r }) + '\n';
          if (chunk.length > 65536) {
            if (!sock.write(chunk)) await new Promise((res) => sock.once('drain', res));
            chunk = '';
          }
        }
        if (chunk) sock.write(chunk);
      }
      this.finish(sock, JSON.stringify({ ok: true, result: reply.result ?? null }) + '\n');
    } catch (err) {
      if (!(err instanceof ControlError)) this.log('error', `control: ${req.cmd}: ${(err as Error).stack ?? err}`);
      this.fail(sock, (err as Error).message);
    }
  }
}

/** Whether something listens on a UNIX socket path. */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect(path);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}
