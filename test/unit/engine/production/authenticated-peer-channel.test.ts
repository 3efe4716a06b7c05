// The authenticated peer channel reconfigured by reloads (src/engine/production/
// authenticated-peer-channel.ts, docs/ftfw-protocol.md §13.9), on a fake UDP channel: off passes
// through, on signs and checks, the signer keeps its epoch across a key change, and a change that
// cannot be applied changes nothing.
import { strict as assert } from 'node:assert';
import { AuthenticatedPeerChannel } from '../../../../src/engine/production/authenticated-peer-channel.js';
import type { UdpPeerChannel } from '../../../../src/engine/production/udp-peer-channel.js';
import type { AuthConfig } from '../../../../src/config/auth-section.js';
import { findTrailer, senderPseudoHeader, sign } from '../../../../src/sync/auth-trailer.js';
import type { PeerChannelHandlers } from '../../../../src/engine/ports/peer-channel.js';

const K1 = Buffer.alloc(32, 1);
const K2 = Buffer.alloc(32, 2);
const auth = (ids: number[], activeKey: number): AuthConfig => ({
  mode: 'enforce',
  keys: ids.map((id) => ({ id, file: `/k${id}` })),
  activeKey,
  encrypt: false,
});
const keys = (ids: number[]) => new Map(ids.map((id) => [id, id === 1 ? K1 : K2]));

function rig(sourceAddress = '192.0.2.1') {
  const sent: Buffer[] = [];
  const received: Buffer[] = [];
  let handlers: PeerChannelHandlers | undefined;
  const inner = {
    description: 'udp',
    maxDatagram: 1472,
    opts: { kind: 'udp', interface: 'veth0' },
    stats: {},
    sourceAddress,
    localPort: 40000,
    open: async (h: PeerChannelHandlers) => void (handlers = h),
    send: (d: Uint8Array) => void sent.push(Buffer.from(d)),
    flush: () => undefined,
    close: () => undefined,
  } as unknown as UdpPeerChannel;
  const ch = new AuthenticatedPeerChannel(
    inner,
    undefined,
    new Map(),
    { warn: (() => undefined) as never },
    () => 1_000_000,
  );
  const from = (d: Buffer) => handlers!.datagram(d, '192.0.2.2', 50000);
  return {
    ch,
    sent,
    received,
    from,
    open: () => ch.open({ datagram: (d) => received.push(Buffer.from(d)), error: () => undefined }),
  };
}

const PEER = senderPseudoHeader('192.0.2.2', 50000);
const msg = Buffer.from('1000000800000001', 'hex');

describe('AuthenticatedPeerChannel reconfigured', () => {
  it('off: passes through both ways, full-size datagrams, no counters', async () => {
    const r = rig();
    await r.open();
    r.ch.send(msg);
    assert.deepEqual(r.sent, [msg]);
    assert.equal(r.ch.maxDatagram, 1472);
    assert.equal(r.ch.authCounters, undefined);
    r.from(msg);
    assert.deepEqual(r.received, [msg]);
  });

  it('on by a reload, then key 2 active, then off: signs and checks as configured; the epoch stays', async () => {
    const r = rig();
    await r.open();
    r.ch.reconfigure(auth([1], 1), keys([1]));
    assert.equal(r.ch.maxDatagram, 1472 - 36);
    r.ch.send(msg);
    const first = findTrailer(r.sent[0]!);
    assert.ok(first.kind === 'signed' && first.fields.keyId === 1 && first.fields.counter === 0);
    r.ch.reconfigure(auth([1, 2], 2), keys([1, 2]));
    r.ch.send(msg);
    const second = findTrailer(r.sent[1]!);
    assert.ok(second.kind === 'signed' && second.fields.keyId === 2 && second.fields.counter === 1);
    assert.equal(second.fields.epoch, first.fields.epoch, "the same epoch: the peer's replay window goes on");
    // the peer still on key 1, and already on key 2: both accepted
    r.from(sign(msg, { keyId: 1, epoch: 5n, counter: 0 }, K1, PEER));
    r.from(sign(msg, { keyId: 2, epoch: 5n, counter: 1 }, K2, PEER));
    assert.equal(r.ch.authCounters?.accepted, 2);
    assert.equal(r.received.length, 2);
    r.ch.reconfigure(undefined, new Map());
    r.ch.send(msg);
    assert.deepEqual(r.sent[2], msg);
    assert.equal(r.ch.maxDatagram, 1472);
  });

  it('a source address it cannot sign for: the reload throws and authentication stays off', async () => {
    const r = rig('0.0.0.0');
    await r.open();
    assert.throws(() => r.ch.reconfigure(auth([1], 1), keys([1])), /give IPv4_address in Sync > UDP/);
    assert.equal(r.ch.maxDatagram, 1472);
    r.ch.send(msg);
    assert.deepEqual(r.sent, [msg]);
  });
});
