// Child process for the hostile-peer tests, run inside a test namespace: sends the given
// datagrams (hex) from a local address, as a forger on the sync segment would.
// argv[2]: JSON { from, fromPort?, to, port, datagrams: string[], gapMs? }. Prints the number sent.
import dgram from 'node:dgram';

interface Spec {
  from: string;
  /** The source port (default: any free one). */
  fromPort?: number;
  to: string;
  port: number;
  datagrams: string[];
  gapMs?: number;
}

const spec = JSON.parse(process.argv[2] ?? '{}') as Spec;
const sock = dgram.createSocket(spec.from.includes(':') ? 'udp6' : 'udp4');
await new Promise<void>((resolve) => sock.bind(spec.fromPort ?? 0, spec.from, resolve));
for (const hex of spec.datagrams) {
  await new Promise<void>((resolve, reject) =>
    sock.send(Buffer.from(hex, 'hex'), spec.port, spec.to, (err) => (err ? reject(err) : resolve())),
  );
  if (spec.gapMs) await new Promise((r) => setTimeout(r, spec.gapMs));
}
sock.close();
process.stdout.write(`${spec.datagrams.length}\n`);
