// Traffic for the failover lab: long-lived TCP connections and one UDP flow through the gateways.
//
//   node dist/tools/lab/traffic.js server --addr 198.51.100.10 [--tcp-port 7000] [--udp-port 7001]
//   node dist/tools/lab/traffic.js client --server 198.51.100.10 --bind 192.0.2.10 [--connections 4]
//        [--interval 50] [--gap 150] [--stall 8000]
//
// The server echoes whatever it receives (TCP and UDP). The client opens N TCP connections and sends
// an 8-byte sequence number on each one every --interval ms (and on the UDP flow), checks that the
// echoed stream is exactly what it sent, and reports on stdout, one JSON object per line:
//   {"ev":"connected","t":…,"conn":1,"local":"192.0.2.10:40000"}
//   {"ev":"gap","t":…,"conn":1,"from":…,"to":…,"ms":…}   data resumed after more than --gap ms of silence
//   {"ev":"lost","t":…,"conn":1,"reason":"reset"|"timeout"|"closed"|"error …","lastRx":…}
//   {"ev":"status","t":…,"conns":[…],"udp":{…}}          every 500 ms
//   {"ev":"final",…}                                     after "stop" on stdin, then it exits
// A connection that receives nothing for --stall ms is declared lost ("timeout") and destroyed: a
// gateway that does not know the connection drops its packets silently, so TCP would otherwise keep
// retransmitting for many minutes. Times are Date.now() milliseconds (one clock for all namespaces).
// The server reports accepted/closed/reset connections the same way ("accept", "close").
import net from 'node:net';
import dgram from 'node:dgram';
import readline from 'node:readline';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';

export interface Gap {
  from: number;
  to: number;
  ms: number;
}

export interface ConnReport {
  conn: number;
  local?: string;
  tx: number;
  rx: number;
  lastRx: number;
  gaps: Gap[];
  lost?: { t: number; reason: string };
  /** Echoed bytes that differ from what was sent (must stay 0: TCP does not corrupt). */
  mismatches: number;
}

export interface UdpReport {
  tx: number;
  rx: number;
  lastRx: number;
  gaps: Gap[];
  error?: string;
}

export type ClientEvent =
  | { ev: 'connected'; t: number; conn: number; local: string }
  | { ev: 'gap'; t: number; conn: number | 'udp'; from: number; to: number; ms: number }
  | { ev: 'lost'; t: number; conn: number; reason: string; lastRx: number }
  | { ev: 'status'; t: number; conns: ConnReport[]; udp: UdpReport }
  | { ev: 'final'; t: number; conns: ConnReport[]; udp: UdpReport }
  | { ev: 'fatal'; t: number; message: string };

export type ServerEvent =
  | { ev: 'listening'; t: number }
  | { ev: 'accept'; t: number; remote: string }
  | { ev: 'close'; t: number; remote: string; error?: string };

function emit(obj: object): void {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

function server(addr: string, tcpPort: number, udpPort: number): void {
  const tcp = net.createServer((sock) => {
    const remote = `${sock.remoteAddress}:${sock.remotePort}`;
    sock.setNoDelay(true);
    emit({ ev: 'accept', t: Date.now(), remote });
    let error: string | undefined;
    sock.on('data', (d) => sock.write(d));
    sock.on('end', () => sock.end());
    sock.on('error', (err: NodeJS.ErrnoException) => (error = err.code ?? err.message));
    sock.on('close', () => emit({ ev: 'close', t: Date.now(), remote, ...(error ? { error } : {}) }));
  });
  const udp = dgram.createSocket('udp4');
  udp.on('message', (msg, rinfo) => udp.send(msg, rinfo.port, rinfo.address));
  let up = 0;
  const ready = (): void => {
    if (++up === 2) emit({ ev: 'listening', t: Date.now() });
  };
  tcp.listen(tcpPort, addr, ready);
  udp.bind(udpPort, addr, ready);
  const stop = (): void => {
    tcp.close();
    udp.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

interface ClientOptions {
  server: string;
  bind: string;
  tcpPort: number;
  udpPort: number;
  connections: number;
  interval: number;
  gap: number;
  stall: number;
}

class Conn {
  readonly report: ConnReport;
  private sock?: net.Socket;
  private seq = 0;
  /** What was sent and not yet echoed back, to check the echo byte for byte. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private stopping = false;

  constructor(
    readonly id: number,
    private readonly o: ClientOptions,
  ) {
    this.report = { conn: id, tx: 0, rx: 0, lastRx: 0, gaps: [], mismatches: 0 };
  }

  get alive(): boolean {
    return !this.report.lost && this.sock !== undefined && !this.sock.destroyed;
  }

  open(): Promise<void> {
    return new Promise((resolve, reject) => {
      const sock = net.connect({ host: this.o.server, port: this.o.tcpPort, localAddress: this.o.bind });
      this.sock = sock;
      sock.setNoDelay(true);
      let connected = false;
      sock.once('connect', () => {
        connected = true;
        this.report.local = `${sock.localAddress}:${sock.localPort}`;
        this.report.lastRx = Date.now();
        emit({ ev: 'connected', t: Date.now(), conn: this.id, local: this.report.local });
        resolve();
      });
      sock.on('data', (d) => this.onData(d));
      sock.on('error', (err: NodeJS.ErrnoException) => {
        if (!connected) return reject(err);
        const code = err.code ?? err.message;
        this.lose(
          code === 'ECONNRESET' || code === 'EPIPE' ? 'reset' : code === 'ETIMEDOUT' ? 'timeout' : `error ${code}`,
        );
      });
      sock.on('close', () => {
        if (connected && !this.stopping) this.lose('closed');
      });
    });
  }

  private onData(d: Buffer): void {
    const now = Date.now();
    const r = this.report;
    if (r.lost) return;
    if (r.rx > 0 && now - r.lastRx > this.o.gap) {
      const gap = { from: r.lastRx, to: now, ms: now - r.lastRx };
      r.gaps.push(gap);
      emit({ ev: 'gap', t: now, conn: this.id, ...gap });
    }
    r.rx += d.length;
    r.lastRx = now;
    // compare with what was sent
    let off = 0;
    while (off < d.length && this.pending.length > 0) {
      const head = this.pending[0]!;
      const n = Math.min(head.length, d.length - off);
      if (!head.subarray(0, n).equals(d.subarray(off, off + n))) r.mismatches++;
      off += n;
      this.pendingBytes -= n;
      if (n === head.length) this.pending.shift();
      else this.pending[0] = head.subarray(n);
    }
    if (off < d.length) r.mismatches++; // more came back than was sent
  }

  tick(now: number): void {
    const r = this.report;
    if (!this.alive) return;
    if (now - r.lastRx > this.o.stall) {
      this.lose('timeout');
      return;
    }
    const buf = Buffer.alloc(8);
    buf.writeUInt32BE(this.id, 0);
    buf.writeUInt32BE(++this.seq >>> 0, 4);
    this.pending.push(buf);
    this.pendingBytes += buf.length;
    r.tx += buf.length;
    this.sock!.write(buf);
  }

  lose(reason: string): void {
    const r = this.report;
    if (r.lost) return;
    r.lost = { t: Date.now(), reason };
    emit({ ev: 'lost', t: r.lost.t, conn: this.id, reason, lastRx: r.lastRx });
    this.sock?.destroy();
  }

  /** Waits until everything sent has come back (or 3 s), then closes with a FIN. */
  async close(): Promise<void> {
    if (!this.alive) return;
    for (let i = 0; i < 60 && this.pendingBytes > 0 && this.alive; i++) await new Promise((r) => setTimeout(r, 50));
    this.stopping = true;
    const sock = this.sock!;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        sock.destroy();
        resolve();
      }, 3000);
      sock.once('close', () => {
        clearTimeout(t);
        resolve();
      });
      sock.end();
    });
  }
}

class UdpFlow {
  readonly report: UdpReport = { tx: 0, rx: 0, lastRx: 0, gaps: [] };
  private readonly sock = dgram.createSocket('udp4');
  private seq = 0;

  constructor(private readonly o: ClientOptions) {}

  open(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.sock.once('error', reject);
      this.sock.bind(0, this.o.bind, () => {
        this.sock.off('error', reject);
        this.sock.on('error', (err) => (this.report.error = err.message));
        this.report.lastRx = Date.now();
        resolve();
      });
      this.sock.on('message', () => {
        const now = Date.now();
        const r = this.report;
        if (r.rx > 0 && now - r.lastRx > this.o.gap) {
          const gap = { from: r.lastRx, to: now, ms: now - r.lastRx };
          r.gaps.push(gap);
          emit({ ev: 'gap', t: now, conn: 'udp', ...gap });
        }
        r.rx++;
        r.lastRx = now;
      });
    });
  }

  tick(): void {
    const buf = Buffer.alloc(8);
    buf.writeUInt32BE(0xffffffff, 0);
    buf.writeUInt32BE(++this.seq >>> 0, 4);
    this.report.tx++;
    this.sock.send(buf, this.o.udpPort, this.o.server);
  }

  close(): void {
    this.sock.close();
  }
}

async function client(o: ClientOptions): Promise<void> {
  const conns = Array.from({ length: o.connections }, (_, i) => new Conn(i + 1, o));
  const udp = new UdpFlow(o);
  try {
    await Promise.all([...conns.map((c) => c.open()), udp.open()]);
  } catch (err) {
    emit({ ev: 'fatal', t: Date.now(), message: `cannot open the flows: ${(err as Error).message}` });
    process.exit(1);
  }
  const snapshot = (): { conns: ConnReport[]; udp: UdpReport } => ({
    conns: conns.map((c) => ({ ...c.report, gaps: [...c.report.gaps] })),
    udp: { ...udp.report, gaps: [...udp.report.gaps] },
  });
  const ticker = setInterval(() => {
    const now = Date.now();
    for (const c of conns) c.tick(now);
    udp.tick();
  }, o.interval);
  const status = setInterval(() => emit({ ev: 'status', t: Date.now(), ...snapshot() }), 500);
  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    clearInterval(ticker);
    clearInterval(status);
    // a connection still silent when we stop counts as lost: it never came back
    const now = Date.now();
    for (const c of conns) if (c.alive && now - c.report.lastRx > Math.max(1000, o.gap * 5)) c.lose('timeout');
    await Promise.all(conns.map((c) => c.close()));
    await new Promise((r) => setTimeout(r, Math.max(200, o.interval * 2))); // last UDP echoes
    udp.close();
    emit({ ev: 'final', t: Date.now(), ...snapshot() });
    process.exit(0);
  };
  readline.createInterface({ input: process.stdin }).on('line', (line) => {
    if (line.trim() === 'stop') void stop();
  });
  process.stdin.on('end', () => void stop());
  process.on('SIGTERM', () => void stop());
}

function main(): void {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      addr: { type: 'string' },
      server: { type: 'string' },
      bind: { type: 'string' },
      'tcp-port': { type: 'string', default: '7000' },
      'udp-port': { type: 'string', default: '7001' },
      connections: { type: 'string', default: '4' },
      interval: { type: 'string', default: '50' },
      gap: { type: 'string', default: '150' },
      stall: { type: 'string', default: '8000' },
    },
  });
  const num = (k: keyof typeof values): number => {
    const n = Number(values[k]);
    if (!Number.isFinite(n) || n < 0) throw new Error(`--${k}: not a number: ${values[k]}`);
    return n;
  };
  const mode = positionals[0];
  if (mode === 'server') {
    if (!values.addr) throw new Error('server: --addr is required');
    server(values.addr, num('tcp-port'), num('udp-port'));
  } else if (mode === 'client') {
    if (!values.server || !values.bind) throw new Error('client: --server and --bind are required');
    void client({
      server: values.server,
      bind: values.bind,
      tcpPort: num('tcp-port'),
      udpPort: num('udp-port'),
      connections: num('connections'),
      interval: num('interval'),
      gap: num('gap'),
      stall: num('stall'),
    });
  } else {
    process.stderr.write('usage: traffic.js server --addr A | client --server A --bind B [--connections N]\n');
    process.exit(2);
  }
}

// Run only as a program (lab.ts imports the types).
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
