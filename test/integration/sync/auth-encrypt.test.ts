// Encrypted sync on the real link (docs/ftfw-protocol.md §13.8), two ctsync nodes with `Encrypt on`
// in enforce mode: flows replicate into the backup's external cache and reach its kernel on a
// commit; the datagrams on the wire (captured with tcpdump) are sealed and carry no address of a
// replicated flow; plain datagrams (unsigned or signed), datagrams sealed under a wrong or unknown
// key, a tampered one and replayed ones never reach the external cache or the kernel and are
// counted by reason.
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
import { SEALED_BYTE0, SUITE_AES_256_GCM, deriveCipherKey, seal } from '../../../src/sync/auth-cipher.js';
import { senderPseudoHeader, sign } from '../../../src/sync/auth-trailer.js';
import { startEpoch } from '../../../src/sync/auth-signer.js';
import type { Entry } from '../../../src/conntrack/entry.js';

/** The 4 bytes of an IPv4 address. */
const ipBytes = (a: string): Buffer => Buffer.from(a.split('.').map(Number));
/** The 4-byte runs by which a flow's addresses would show in a plain datagram. */
const addressesOf = (e: Entry): Buffer[] => [ipBytes(e.orig.src), ipBytes(e.orig.dst)];

describe('encrypted sync, enforce, on the real link', function () {
  this.timeout(300_000);
  let pair: SyncPair;
  let key: Buffer;

  before(async function () {
    requireRoot.call(this, 'conntrack');
    requireRoot.call(this, 'tcpdump');
    pair = await SyncPair.create('enc', { impl: 'ctsync' }, { impl: 'ctsync' });
    key = addAuthentication(pair, ['Mode enforce', 'Encrypt on']);
  });

  after(async function () {
    await pair?.destroy();
  });

  it('replicates sealed datagrams with no flow address on the wire; drops plain, forged, tampered, replayed', async function () {
    const pcap = path.join(pair.dir, 'a.pcap');
    await pair.b.start();
    const tcpdump = pair.b.ns.spawn('tcpdump', [
      '-i',
      pair.b.ifname,
      '-U',
      '-n',
      '-w',
      pcap,
      'udp and src host 192.0.2.1',
    ]);
    await sleep(1000);
    await pair.a.start();
    await pair.a.settled();
    // distinct flows, each with both addresses in the documentation ranges, none of them a node's
    const real = [flow(1, 1001), flow(2, 1002), flow(77, 1077)];
    const x = flow(3, 1003);
    await pair.load(pair.a, [...real, x]);
    await pair.converge(pair.a, pair.b);
    for (const f of [...real, x]) assert.ok(has(await pair.b.external(), f), `${f.orig.src} in b's external cache`);
    await sleep(1500);
    tcpdump.kill('SIGINT');
    await tcpdump;
    const captured = pcapPayloads(pcap);
    assert.ok(captured.length > 0, 'a datagram of a was captured');
    const ctDatagrams = captured.filter((c) => c.payload.length > 100);
    assert.ok(ctDatagrams.length > 0, 'a datagram large enough to carry flows was captured');
    for (const c of captured) {
      assert.equal(c.payload[0], SEALED_BYTE0, 'every datagram is sealed');
      for (const f of [...real, x])
        for (const a of addressesOf(f)) assert.equal(c.payload.indexOf(a), -1, `${a.join('.')} is not on the wire`);
    }
    const aPort = captured[0]!.sport;

    await deleteFlow(pair, x);

    const before = await authStats(pair.b);
    const next = await nextSeqOf(pair.b);
    const forgedFlows = [flow(10, 2010), flow(11, 2011), flow(12, 2012), flow(13, 2013)];
    const fromPort = 40000;
    const sender = senderPseudoHeader(pair.a.addr, fromPort);
    const fields = { keyId: 1, epoch: startEpoch(Date.now(), 1), counter: 0 };
    await forge(pair.a, pair.b, [ctNew(forgedFlows[0]!, next)], fromPort); // plain, unsigned
    await forge(pair.a, pair.b, [sign(ctNew(forgedFlows[1]!, next), fields, key, sender)], fromPort); // plain, signed
    const wrongKey = deriveCipherKey(randomBytes(32), sender);
    await forge(pair.a, pair.b, [seal(ctNew(forgedFlows[2]!, next), fields, SUITE_AES_256_GCM, wrongKey)], fromPort);
    const rightKey = deriveCipherKey(key, sender);
    const unknownId = seal(ctNew(forgedFlows[3]!, next), { ...fields, keyId: 9 }, SUITE_AES_256_GCM, rightKey);
    await forge(pair.a, pair.b, [unknownId], fromPort);
    await sleep(1000);
    const mid = await authStats(pair.b);
    assert.equal(mid['not encrypted']! - before['not encrypted']!, 2, 'unsigned and signed plain datagrams');
    assert.equal(mid['bad MAC']! - before['bad MAC']!, 1, 'sealed under a wrong key');
    assert.equal(mid['unknown key']! - before['unknown key']!, 1);
    assert.equal(mid.dropped! - before.dropped!, 4);

    // a is gone (its port is free): its captured datagrams come again from its address and port,
    // and one of them with a byte of its ciphertext flipped
    await pair.a.kill();
    await sleep(2000);
    const tampered = Buffer.from(ctDatagrams[ctDatagrams.length - 1]!.payload);
    tampered[40]! ^= 0x01;
    await forge(pair.a, pair.b, [tampered], aPort);
    await forge(
      pair.a,
      pair.b,
      captured.map((c) => c.payload),
      aPort,
    );
    await sleep(1000);
    const replayed = await authStats(pair.b);
    assert.equal(replayed['bad MAC']! - mid['bad MAC']!, 1, 'the tampered datagram');
    assert.equal(replayed.replay! - mid.replay!, captured.length, 'each captured datagram counted as a replay');
    assert.equal(replayed.accepted, mid.accepted, 'nothing accepted');
    const ext = await pair.b.external();
    assert.ok(!has(ext, x), 'the replayed CT_NEW of X did not bring X back');
    for (const f of forgedFlows) assert.ok(!has(ext, f), `forged ${f.orig.src} is not in the external cache`);

    // a restarts (a new epoch, new nonces): accepted at once; then the kernel on commit
    await pair.a.start();
    const y = flow(4, 1004);
    await pair.load(pair.a, [y]);
    await pair.converge(pair.a, pair.b);
    const end = await authStats(pair.b);
    assert.equal(end.stale, replayed.stale, 'nothing of the restarted peer was stale');
    assert.equal(end.dropped, replayed.dropped);
    await commitAndCheck(pair, [...real, y], [...forgedFlows, x]);
  });
});
