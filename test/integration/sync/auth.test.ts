// Authenticated sync on the real link (docs/ftfw-protocol.md §13), two ctsync nodes in enforce
// mode: datagrams forged with the peer's source address (no key, a wrong key, an unknown key id),
// tampered (one byte flipped) and replayed (captured on the veth, re-sent seconds later from the
// peer's own address and port) never reach the external cache or the kernel and are counted by
// reason; fresh datagrams delivered out of order pass; a restarted peer is accepted at once.
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { SyncPair, sleep, type SyncNode } from '../../helpers/syncpair.js';
import { requireRoot } from '../../helpers/netns.js';
import { repoRoot } from '../../helpers/fakes.js';
import { generateKeyFile } from '../../../src/config/auth-keys.js';
import { senderPseudoHeader, sign } from '../../../src/sync/auth-trailer.js';
import { readKeyFile } from '../../../src/config/auth-keys.js';
import { startEpoch } from '../../../src/sync/auth-signer.js';
import { FLAG, MSG, encodeControl, encodeCt } from '../../../src/sync/wire.js';
import type { Entry } from '../../../src/conntrack/entry.js';
import { controlRequest } from '../../../src/control/client.js';
import type { FtFwStats } from '../../../src/sync/ftfw.js';

const FORGE = path.join(repoRoot(), 'dist/test/helpers/forge-child.js');

/** Sends datagrams to `to` from `from`'s address (and port, if given), in `from`'s namespace. */
async function forge(from: SyncNode, to: SyncNode, datagrams: Buffer[], fromPort?: number): Promise<void> {
  const spec = {
    from: from.addr,
    fromPort,
    to: to.addr,
    port: 3780,
    datagrams: datagrams.map((d) => d.toString('hex')),
  };
  const r = await from.ns.exec(process.execPath, [FORGE, JSON.stringify(spec)]);
  assert.equal(r.exitCode, 0, r.stderr);
}

/** UDP payloads (and source ports) of an Ethernet pcap file. */
function pcapPayloads(file: string): Array<{ sport: number; payload: Buffer }> {
  const b = fs.readFileSync(file);
  const le = b.readUInt32LE(0) === 0xa1b2c3d4;
  const u32 = (o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  const out: Array<{ sport: number; payload: Buffer }> = [];
  for (let o = 24; o + 16 <= b.length;) {
    const len = u32(o + 8);
    const frame = b.subarray(o + 16, o + 16 + len);
    o += 16 + len;
    if (frame.readUInt16BE(12) !== 0x0800) continue;
    const ip = frame.subarray(14);
    const udp = ip.subarray((ip[0]! & 0xf) * 4);
    out.push({ sport: udp.readUInt16BE(0), payload: Buffer.from(udp.subarray(8, udp.readUInt16BE(4))) });
  }
  return out;
}

const flow = (octet: number, sport: number): Entry => ({
  family: 2,
  orig: { src: `198.51.100.${octet}`, dst: '203.0.113.80', proto: 6, sport, dport: 443 },
  status: 14,
  timeout: 3600,
  mark: 0,
  tcp: { state: 3 },
});

const ctNew = (e: Entry, seq: number): Buffer => {
  const d = Buffer.alloc(512);
  return Buffer.from(d.subarray(0, encodeCt(d, 0, MSG.CT_NEW, 0, seq, e)));
};

const has = (lines: string[], e: Entry) =>
  lines.some((l) => l.includes(`src=${e.orig.src} `) && l.includes(`sport=${e.orig.sport} `));

describe('authenticated sync, enforce, on the real link', function () {
  this.timeout(300_000);
  let pair: SyncPair;
  let key: Buffer;

  before(async function () {
    requireRoot.call(this, 'conntrack');
    pair = await SyncPair.create('aut', { impl: 'ctsync' }, { impl: 'ctsync' });
    const keyFile = path.join(pair.dir, 'sync-1.key');
    generateKeyFile(keyFile);
    const r = readKeyFile(keyFile);
    assert.ok(r.ok);
    key = r.key;
    for (const node of [pair.a, pair.b])
      node.setAuthentication({ mode: 'enforce', keys: [[1, keyFile]], activeKey: 1 });
  });

  after(async function () {
    await pair?.destroy();
  });

  it('drops forged, tampered and replayed datagrams by reason; passes fresh ones; takes a restarted peer', async function () {
    // capture what a sends from its start (its HELLO) until a flow X has come, to replay it once
    // X is gone: without authentication the replayed HELLO makes b take a's old sequence again
    const pcap = path.join(pair.dir, 'a.pcap');
    await pair.b.start();
    const filter = 'udp and src host 192.0.2.1';
    const tcpdump = pair.b.ns.spawn('tcpdump', ['-i', pair.b.ifname, '-U', '-n', '-w', pcap, filter]);
    await sleep(1000);
    await pair.a.start();
    await pair.a.settled();
    const real = [flow(1, 1001), flow(2, 1002)];
    const x = flow(3, 1003);
    await pair.load(pair.a, [...real, x]);
    await pair.converge(pair.a, pair.b);
    await sleep(1500);
    tcpdump.kill('SIGINT');
    await tcpdump;
    const captured = pcapPayloads(pcap);
    assert.ok(captured.length > 0, 'a datagram of a was captured');
    const aPort = captured[0]!.sport;
    const del = await pair.a.ns.exec('conntrack', ['-D', '-p', 'tcp', '--orig-src', x.orig.src, '--sport', '1003']);
    assert.equal(del.exitCode, 0, del.stderr);
    await pair.converge(pair.a, pair.b);
    assert.ok(!has(await pair.b.external(), x));

    const before = await pair.b.authStats();
    type Stats = { counters: { ftfw: FtFwStats } };
    const last = ((await controlRequest(pair.b.sock, { cmd: 'stats' })) as Stats).counters.ftfw.lastSeqReceived!;
    // each with the next sequence number a would send, which FT-FW alone would take
    const next = (last + 1) >>> 0;
    const forgedFlows = [flow(10, 2010), flow(11, 2011), flow(12, 2012), flow(13, 2013)];
    const sender = senderPseudoHeader(pair.a.addr, 40000);
    const fields = { keyId: 1, epoch: startEpoch(Date.now(), 1), counter: 0 };
    await forge(pair.a, pair.b, [ctNew(forgedFlows[0]!, next)]); // no key
    await forge(pair.a, pair.b, [sign(ctNew(forgedFlows[1]!, next), fields, randomBytes(32), sender)], 40000); // wrong key
    await forge(pair.a, pair.b, [sign(ctNew(forgedFlows[2]!, next), { ...fields, keyId: 9 }, key, sender)], 40000); // unknown id
    const tampered = Buffer.from(captured[captured.length - 1]!.payload);
    tampered[6] ^= 0x01; // the first message's seq (sent from another port: a holds its own)
    await forge(pair.a, pair.b, [tampered]);
    await sleep(1000);
    const mid = await pair.b.authStats();
    assert.equal(mid['no trailer']! - before['no trailer']!, 1);
    assert.equal(mid['bad MAC']! - before['bad MAC']!, 2, 'wrong key, tampered');
    assert.equal(mid['unknown key']! - before['unknown key']!, 1);

    // replay: a is gone (its port is free), the captured datagrams come again from its address and port
    await pair.a.kill();
    await sleep(2000);
    await forge(
      pair.a,
      pair.b,
      captured.map((c) => c.payload),
      aPort,
    );
    await sleep(1000);
    const replayed = await pair.b.authStats();
    assert.equal(replayed.replay! - mid.replay!, captured.length, 'each captured datagram counted as a replay');
    const ext = await pair.b.external();
    assert.ok(!has(ext, x), 'the replayed CT_NEW of X did not bring X back');
    for (const f of forgedFlows) assert.ok(!has(ext, f), `forged ${f.orig.src} is not in the external cache`);

    // fresh datagrams signed with the key, delivered out of order: all pass
    const freshSender = senderPseudoHeader(pair.a.addr, aPort);
    const epoch = startEpoch(Date.now(), 2);
    const alive = (seq: number) => {
      const d = Buffer.alloc(8);
      encodeControl(d, 0, FLAG.ALIVE, seq);
      return d;
    };
    const fresh = [0, 1, 2].map((c) => sign(alive(c), { keyId: 1, epoch, counter: c }, key, freshSender));
    await forge(pair.a, pair.b, [fresh[2]!, fresh[0]!, fresh[1]!], aPort);
    await sleep(1000);
    const afterFresh = await pair.b.authStats();
    assert.equal(afterFresh.accepted! - replayed.accepted!, 3);
    assert.equal(afterFresh.dropped, replayed.dropped, 'none dropped');

    // a restarts: a new, higher epoch, accepted at once; what it sends arrives
    await pair.a.start();
    const y = flow(4, 1004);
    await pair.load(pair.a, [y]);
    await pair.converge(pair.a, pair.b);
    const end = await pair.b.authStats();
    assert.equal(end.stale, afterFresh.stale, 'nothing of the restarted peer was stale');
    assert.equal(end.dropped, afterFresh.dropped);

    // and the kernel: a commit writes the real flows, none of the forged or replayed ones
    const c = await pair.b.client(['-c']);
    assert.equal(c.exitCode, 0, c.stderr);
    const kernel = (await pair.kernel(pair.b)).map((e) => `src=${e.orig.src} sport=${e.orig.sport} `);
    for (const f of [...forgedFlows, x]) assert.ok(!has(kernel, f), `${f.orig.src} not in b's kernel`);
    for (const f of [...real, y]) assert.ok(has(kernel, f), `${f.orig.src} in b's kernel`);
  });
});
