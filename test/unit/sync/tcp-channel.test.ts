// The TCP sync channel (src/sync/tcp-channel.ts) on loopback, two nodes at 127.0.0.1 and
// 127.0.0.2 on one port as conntrackd pairs are: messages both ways, what is sent before the peer
// listens arrives once it does, a restarted peer is dialled again, a stranger's connection is
// closed unread, and a stream with an impossible length is reset with an error.
import { strict as assert } from 'node:assert';
import net from 'node:net';
import { TcpSyncChannel } from '../../../src/sync/tcp-channel.js';
import { FLAG, encodeControl } from '../../../src/sync/wire.js';

const A = '127.0.0.1';
const B = '127.0.0.2';

function node(local: string, peer: string, port: number): TcpSyncChannel {
  return new TcpSyncChannel({ kind: 'tcp', localAddress: local, destination: peer, port, interface: 'lo' });
}

/** An ACK numbered `seq`: a 16-byte message. */
function ack(seq: number): Buffer {
  const b = Buffer.alloc(16);
  encodeControl(b, 0, FLAG.ACK, seq, seq, seq);
  return b;
}

/** The sequence numbers of the messages a channel delivers, in order. */
function collect(ch: TcpSyncChannel): number[] {
  const seqs: number[] = [];
  ch.on('datagram', (d) => {
    for (let o = 0; o < d.length; o += d.readUInt16BE(o + 2)) seqs.push(d.readUInt32BE(o + 4));
  });
  return seqs;
}

async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const range = (n: number, from = 0): number[] => Array.from({ length: n }, (_, i) => from + i);

describe('sync/tcp-channel (loopback)', function () {
  this.timeout(30_000);
  let port = 0;
  const open: TcpSyncChannel[] = [];
  const make = (local: string, peer: string): TcpSyncChannel => {
    const ch = node(local, peer, port);
    ch.on('error', () => {});
    open.push(ch);
    return ch;
  };

  beforeEach(() => {
    port = 20000 + Math.floor(Math.random() * 20000);
  });
  afterEach(() => {
    for (const ch of open.splice(0)) ch.close();
  });

  it('carries messages both ways, each node on its own connection', async () => {
    const a = make(A, B);
    const b = make(B, A);
    const atA = collect(a);
    const atB = collect(b);
    await Promise.all([a.open(), b.open()]);
    await until('both connected', () => a.stats.clientConnected && b.stats.clientConnected);
    for (const s of range(500)) a.send(ack(s));
    for (const s of range(50, 1000)) b.send(ack(s));
    await until('both streams', () => atB.length === 500 && atA.length === 50);
    assert.deepEqual(atB, range(500));
    assert.deepEqual(atA, range(50, 1000));
    assert.ok(a.stats.clientConnected && a.stats.serverConnected && b.stats.clientConnected && b.stats.serverConnected);
  });

  it('keeps what is sent before the peer listens (up to ErrorQueueLength), and sends it first once connected', async () => {
    const a = new TcpSyncChannel({
      kind: 'tcp',
      localAddress: A,
      destination: B,
      port,
      interface: 'lo',
      errorQueueLength: 8,
    });
    a.on('error', () => {});
    open.push(a);
    await a.open();
    for (const s of range(12)) a.send(ack(s));
    assert.equal(a.queued, 8, 'the oldest dropped');
    assert.equal(a.stats.errorQueueDropped, 4);
    const b = make(B, A);
    const atB = collect(b);
    await b.open();
    await until('connected', () => a.stats.clientConnected);
    a.send(ack(12));
    await until('the queue and the rest', () => atB.length === 9);
    assert.deepEqual(atB, range(9, 4));
    assert.equal(a.queued, 0);
  });

  it('dials a restarted peer again', async () => {
    const a = make(A, B);
    await a.open();
    const b1 = make(B, A);
    await b1.open();
    await until('connected', () => a.stats.clientConnected);
    b1.close();
    await until('the loss seen', () => !a.stats.clientConnected);
    const b2 = make(B, A);
    const atB = collect(b2);
    await b2.open();
    await until('connected again', () => a.stats.clientConnected);
    a.send(ack(7));
    await until('delivery', () => atB.length === 1);
    assert.equal(a.stats.connects, 2);
  });

  it("closes a stranger's connection unread", async () => {
    const a = make(A, B);
    const atA = collect(a);
    await a.open();
    const stranger = net.connect({ host: A, port, localAddress: '127.0.0.3' });
    stranger.on('error', () => {});
    stranger.write(ack(1));
    await new Promise((r) => stranger.on('close', r));
    assert.equal(a.stats.foreign, 1);
    assert.equal(a.stats.serverConnected, false);
    assert.deepEqual(atA, []);
  });

  it('resets a stream with an impossible length, after delivering the messages before it', async () => {
    const a = make(A, B);
    const atA = collect(a);
    const errors: Error[] = [];
    a.on('error', (e) => (/sync stream/.test(e.message) ? errors.push(e) : undefined));
    await a.open();
    const peer = net.connect({ host: A, port, localAddress: B });
    peer.on('error', () => {});
    const bad = ack(3);
    bad.writeUInt16BE(4, 2);
    peer.write(Buffer.concat([ack(1), ack(2), bad, ack(4)]));
    await until('the reset', () => errors.length === 1);
    assert.deepEqual(atA, [1, 2]);
    assert.match(
      errors[0]!.message,
      /message at byte 32 is an ACK, NACK or RESYNC of 4 bytes .*resetting the connection/,
    );
    assert.equal(a.stats.serverConnected, false);
    await new Promise((r) => (peer.destroyed ? r(undefined) : peer.on('close', r)));
  });
});
