// Client side of the control socket (our JSON protocol; see server.ts).
import net from 'node:net';
import type { ControlRequest } from './server.js';

export class ControlClientError extends Error {}

/**
 * Sends one request; `onRecord` gets each streamed record; resolves with the final result.
 * Rejects with a clear message when the daemon is not running or refuses the request.
 */
export function controlRequest(path: string, req: ControlRequest, onRecord?: (r: unknown) => void): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(path);
    let rest = '';
    let done = false;
    const finish = (err: Error | undefined, result?: unknown): void => {
      if (done) return;
      done = true;
      sock.destroy();
      if (err) reject(err);
      else resolve(result);
    };
    sock.on('connect', () => sock.write(JSON.stringify(req) + '\n'));
    sock.on('error', (err: NodeJS.ErrnoException) => {
      const why =
        err.code === 'ENOENT' || err.code === 'ECONNREFUSED'
          ? `no daemon is listening on ${path} (is ctsync running with this configuration?)`
          : err.code === 'EACCES'
            ? `permission denied on ${path}: run as root`
            : err.message;
      finish(new ControlClientError(why));
    });
    sock.on('data', (d: Buffer) => {
      rest += d.toString();
      let nl: number;
      while ((nl = rest.indexOf('\n')) >= 0) {
        const line = rest.slice(0, nl);
        rest = rest.slice(nl + 1);
        let msg: { data?: unknown; ok?: boolean; result?: unknown; error?: string };
        try {
          msg = JSON.parse(line);
        } catch {
          // the daemon refused us before speaking JSON (e.g. a non-root client)
          finish(new ControlClientError(line.replace(/^ctsync: /, '')));
          return;
        }
        if ('data' in msg) onRecord?.(msg.data);
        else if (msg.ok) finish(undefined, msg.result);
        else finish(new ControlClientError(msg.error ?? 'request failed'));
      }
    });
    sock.on('end', () => {
      if (rest.trim()) finish(new ControlClientError(rest.trim().replace(/^ctsync: /, '')));
      else finish(new ControlClientError('the daemon closed the connection without an answer'));
    });
  });
}
