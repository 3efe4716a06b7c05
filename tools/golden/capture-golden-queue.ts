#!/usr/bin/env node
// Captures nfnetlink_queue packet messages from the real kernel, as golden test data for
// test/unit/netlink/queue-packet.test.ts (test/golden/queue-*.hex + .json).
//
//   sudo node dist/tools/golden/capture-golden-queue.js [--out DIR]
//
// Setup: one network namespace made for the run (`ctsync-queuegold-...`) whose loopback
// holds 192.0.2.1/32 and 2001:db8::1/128, and raw OUTPUT rules (iptables and ip6tables) that
// queue UDP to port 9 and TCP to port 9 on queue 3 with --queue-bypass. The script runs itself
// inside it (--child): binds queue 3 with QueueSocket (copy range 128, FAIL_OPEN), sends one
// UDP datagram and one TCP SYN over IPv4 and one UDP datagram over IPv6 to port 9, writes each
// queued message, and accepts each packet (the UDP one is then read from a socket on port 9:
// the verdict works). The namespace is removed on exit and failure.
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { QueueSocket } from '../../src/netlink/queue-socket.js';
import { Netns } from '../lib/netns.js';
import { repoRoot } from '../lib/repo.js';

const SCRIPT = fileURLToPath(import.meta.url);
const { values: args } = parseArgs({
  options: {
    out: { type: 'string', default: path.join(repoRoot(), 'test/golden') },
    child: { type: 'boolean', default: false },
  },
});
const QUEUE = 3;
const COPY_RANGE = 128;

interface Capture {
  name: string;
  what: string;
  send: () => Promise<void> | void;
  expect: Record<string, unknown>;
}

function nextPacket(q: QueueSocket, timeoutMs: number): Promise<{ hex: string; id: number; udpSeen?: boolean }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no packet was queued')), timeoutMs);
    q.onReadable(() => {
      let got: { hex: string; id: number } | undefined;
      q.readPackets((p, buf) => {
        got ??= { hex: buf.toString('hex', p.message, p.message + p.messageLength), id: p.id };
        q.accept(p.id);
      });
      if (got) {
        clearTimeout(timer);
        resolve(got);
      }
    });
  });
}

const CAPTURES: Capture[] = [
  {
    name: 'queue-packet-udp4',
    what: 'UDP datagram 192.0.2.1:5353 -> 192.0.2.1:9, payload "ctsync"',
    send: () =>
      new Promise<void>((r) => {
        const s = dgram.createSocket('udp4');
        s.bind(5353, '192.0.2.1', () => s.send('ctsync', 9, '192.0.2.1', () => (s.close(), r())));
      }),
    expect: { family: 2, hwProtocol: 0x0800, proto: 17, src: '192.0.2.1', dst: '192.0.2.1', sport: 5353, dport: 9 },
  },
  {
    name: 'queue-packet-tcp4-syn',
    what: 'TCP SYN 192.0.2.1:5354 -> 192.0.2.1:9 (nobody listens: the answer is a RST)',
    send: () => {
      const s = net.connect({ host: '192.0.2.1', port: 9, localAddress: '192.0.2.1', localPort: 5354 });
      s.on('error', () => undefined);
    },
    expect: { family: 2, hwProtocol: 0x0800, proto: 6, src: '192.0.2.1', dst: '192.0.2.1', sport: 5354, dport: 9 },
  },
  {
    name: 'queue-packet-udp6',
    what: 'UDP datagram [2001:db8::1]:5355 -> [2001:db8::1]:9, payload "ctsync"',
    send: () =>
      new Promise<void>((r) => {
        const s = dgram.createSocket('udp6');
        s.bind(5355, '2001:db8::1', () => s.send('ctsync', 9, '2001:db8::1', () => (s.close(), r())));
      }),
    expect: {
      family: 10,
      hwProtocol: 0x86dd,
      proto: 17,
      src: '2001:db8::1',
      dst: '2001:db8::1',
      sport: 5355,
      dport: 9,
    },
  },
];

async function child(): Promise<void> {
  const q = new QueueSocket({ queue: QUEUE, copyRange: COPY_RANGE, maxLen: 16 });
  const rx = dgram.createSocket('udp4');
  await new Promise<void>((r) => rx.bind(9, '192.0.2.1', r));
  const received = new Promise<boolean>((r) => {
    rx.once('message', () => r(true));
    setTimeout(() => r(false), 3000);
  });
  for (const c of CAPTURES) {
    const got = nextPacket(q, 3000);
    await c.send();
    const { hex } = await got;
    fs.writeFileSync(path.join(args.out!, `${c.name}.hex`), hex + '\n');
    const meta = {
      name: c.name,
      kernel: os.release(),
      kind: 'NFQNL_MSG_PACKET',
      queue: QUEUE,
      copyRange: COPY_RANGE,
      what: c.what,
      expect: c.expect,
    };
    fs.writeFileSync(path.join(args.out!, `${c.name}.json`), JSON.stringify(meta, null, 2) + '\n');
    console.log(`  wrote ${c.name}.hex (${hex.length / 2} bytes)`);
  }
  const passed = await received;
  rx.close();
  q.close();
  if (!passed) throw new Error('the accepted UDP datagram did not arrive');
  console.log('  the accepted UDP datagram arrived');
}

async function main(): Promise<void> {
  const ns = await Netns.create('queuegold');
  try {
    const sh = (cmd: string) => ns.exec('sh', ['-c', cmd], { reject: true });
    await sh('ip addr add 192.0.2.1/32 dev lo && ip -6 addr add 2001:db8::1/128 dev lo nodad');
    for (const ipt of ['iptables', 'ip6tables'])
      for (const proto of ['udp', 'tcp'])
        await sh(`${ipt} -t raw -A OUTPUT -p ${proto} --dport 9 -j NFQUEUE --queue-num ${QUEUE} --queue-bypass`);
    const r = await ns.exec(process.execPath, [SCRIPT, '--child', '--out', args.out!], { timeout: 30_000 });
    process.stdout.write(r.stdout);
    if (r.exitCode !== 0) throw new Error(`capture failed: ${r.stderr}`);
  } finally {
    await ns.destroy();
  }
}

await (args.child ? child() : main());
