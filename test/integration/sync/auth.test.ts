// Authenticated sync on the real link (docs/ftfw-protocol.md §13), two ctsync nodes in enforce
// mode: datagrams forged with the peer's source address (no key, a wrong key, an unknown key id),
// tampered (one byte flipped) and replayed (captured on the veth, re-sent seconds later from the
// peer's own address and port) never reach the external cache or the kernel and are counted by
// reason; fresh datagrams delivered out of order pass; a restarted peer is accepted at once.
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { SyncPair, sleep } from '../../helpers/syncpair.js';
import { requireRoot } from '../../helpers/netns.js';
import {
  addAuthentication,
  authStats,
  commitAndCheck,
  ctNew,
  deleteFlow,
  flow,
  forge,
  has,
  nextSeqOf,
  pcapPayloads,
} from '../../helpers/auth-link.js';
import { senderPseudoHeader, sign } from '../../../src/sync/auth-trailer.js';
import { startEpoch } from '../../../src/sync/auth-signer.js';
import { FLAG, encodeControl } from '../../../src/sync/wire.js';

describe('authenticated sync, enforce, on the real link', function () {
  this.timeout(300_000);
  let pair: SyncPair;
  let key: Buffer;

  before(async function () {
    requireRoot.call(this, 'conntrack');
    pair = await SyncPair.create('aut', { impl: 'ctsync' }, { impl: 'ctsync' });
    key = addAuthentication(pair, ['Mode enforce', 'ActiveKey 1']);
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
    await deleteFlow(pair, x);

    const before = await authStats(pair.b);
    // each with the next sequence number a would send, which FT-FW alone would take
    const next = await nextSeqOf(pair.b);
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
    const mid = await authStats(pair.b);
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
    const replayed = await authStats(pair.b);
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
    const afterFresh = await authStats(pair.b);
    assert.equal(afterFresh.accepted! - replayed.accepted!, 3);
    assert.equal(afterFresh.dropped, replayed.dropped, 'none dropped');

    // a restarts: a new, higher epoch, accepted at once; what it sends arrives
    await pair.a.start();
    const y = flow(4, 1004);
    await pair.load(pair.a, [y]);
    await pair.converge(pair.a, pair.b);
    const end = await authStats(pair.b);
    assert.equal(end.stale, afterFresh.stale, 'nothing of the restarted peer was stale');
    assert.equal(end.dropped, afterFresh.dropped);

    // and the kernel: a commit writes the real flows, none of the forged or replayed ones
    await commitAndCheck(pair, [...real, y], [...forgedFlows, x]);
  });
});
