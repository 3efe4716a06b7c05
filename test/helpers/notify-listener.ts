// A stand-in for systemd's notification socket ($NOTIFY_SOCKET): a UNIX datagram socket bound by
// a python3 child (Node has none), which reports every datagram with the sender's pid (from
// SCM_CREDENTIALS, as systemd checks NotifyAccess=main) and the time it arrived.
import { spawn, type ChildProcess } from 'node:child_process';
import readline from 'node:readline';
import { sleep } from './fakes.js';

const LISTENER = String.raw`
import json, socket, struct, sys, time
address = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\0" + address[1:] if address.startswith("@") else address)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
print(json.dumps({"bound": True}), flush=True)
while True:
    data, anc, _, _ = s.recvmsg(65536, socket.CMSG_SPACE(12))
    pid = None
    for level, kind, payload in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid = struct.unpack("iII", payload[:12])[0]
    print(json.dumps({"at": time.monotonic() * 1000, "pid": pid, "message": data.decode()}), flush=True)
`;

export interface Notification {
  /** Arrival, in ms of the listener's monotonic clock. */
  at: number;
  /** The sending process. */
  pid: number;
  /** The datagram: newline-separated VAR=value assignments. */
  message: string;
}

export class NotifyListener {
  readonly received: Notification[] = [];

  private constructor(
    readonly address: string,
    private readonly child: ChildProcess,
  ) {}

  /** Binds `address` (a path, or `@name` for an abstract one in the caller's network namespace). */
  static async bind(address: string): Promise<NotifyListener> {
    const child = spawn('python3', ['-c', LISTENER, address], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const listener = new NotifyListener(address, child);
    const lines = readline.createInterface({ input: child.stdout! });
    const bound = new Promise<void>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`notify listener exited (${code}): ${stderr}`)));
      lines.on('line', (line) => {
        const parsed = JSON.parse(line) as { bound?: true } & Notification;
        if (parsed.bound) resolve();
        else listener.received.push(parsed);
      });
    });
    await bound;
    return listener;
  }

  /** The notifications that set `variable` (e.g. 'READY'), in order. */
  with(variable: string): Notification[] {
    return this.received.filter((n) => n.message.split('\n').some((l) => l.startsWith(`${variable}=`)));
  }

  /** Waits for the first notification setting `variable`; throws after timeoutMs. */
  async waitFor(variable: string, timeoutMs = 30_000): Promise<Notification> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const found = this.with(variable)[0];
      if (found) return found;
      if (Date.now() > end)
        throw new Error(`no ${variable}= within ${timeoutMs} ms; received: ${JSON.stringify(this.received)}`);
      await sleep(20);
    }
  }

  close(): void {
    this.child.kill('SIGKILL');
  }
}

/** The value of `variable` in a notification's message. */
export function notifyValue(n: Notification, variable: string): string | undefined {
  const line = n.message.split('\n').find((l) => l.startsWith(`${variable}=`));
  return line?.slice(variable.length + 1);
}
