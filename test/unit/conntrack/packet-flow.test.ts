// A packet's flow keys: the same as the flow key of the Entry it belongs to (key.ts), in the
// original direction and, inverted, in the reply direction; packets a key cannot be made of.
import { strict as assert } from 'node:assert';
import { PacketFlow, readPacketFlow, writePacketKey } from '../../../src/conntrack/packet-flow.js';
import { tupleKey } from '../../../src/conntrack/key.js';
import { parseIP } from '../../../src/netlink/ip.js';

function ipv4(proto: number, src: string, dst: string, l4: number[], fragOff = 0): Buffer {
  const b = Buffer.alloc(20 + l4.length);
  b[0] = 0x45;
  b.writeUInt16BE(b.length, 2);
  b.writeUInt16BE(fragOff, 6);
  b[8] = 64;
  b[9] = proto;
  b.set(parseIP(src, 2), 12);
  b.set(parseIP(dst, 2), 16);
  b.set(l4, 20);
  return b;
}

function ipv6(next: number, src: string, dst: string, rest: number[]): Buffer {
  const b = Buffer.alloc(40 + rest.length);
  b[0] = 0x60;
  b.writeUInt16BE(rest.length, 4);
  b[6] = next;
  b[7] = 64;
  b.set(parseIP(src, 10), 8);
  b.set(parseIP(dst, 10), 24);
  b.set(rest, 40);
  return b;
}

const ports = (s: number, d: number) => [s >> 8, s & 0xff, d >> 8, d & 0xff, 0, 0, 0, 0];
const key = (p: PacketFlow, reverse: boolean) => {
  const k = new Uint8Array(40);
  return Buffer.from(k.buffer, 0, writePacketKey(p, reverse, k)).toString('latin1');
};

describe('conntrack/packet-flow', () => {
  it('an IPv4 TCP packet has its flow key, and the inverse for the reply direction', () => {
    const b = ipv4(6, '192.0.2.1', '198.51.100.2', ports(40000, 443));
    const p = new PacketFlow();
    assert.ok(readPacketFlow(b, 0, b.length, p));
    assert.equal(
      key(p, false),
      tupleKey({ src: '192.0.2.1', dst: '198.51.100.2', proto: 6, sport: 40000, dport: 443 }, 0, 2),
    );
    assert.equal(
      key(p, true),
      tupleKey({ src: '198.51.100.2', dst: '192.0.2.1', proto: 6, sport: 443, dport: 40000 }, 0, 2),
    );
  });

  it('an ICMP echo reply belongs, inverted, to the echo request flow', () => {
    const b = ipv4(1, '198.51.100.2', '192.0.2.1', [0, 0, 0, 0, 0x12, 0x34, 0, 1]);
    const p = new PacketFlow();
    assert.ok(readPacketFlow(b, 0, b.length, p));
    const request = { src: '192.0.2.1', dst: '198.51.100.2', proto: 1, icmpType: 8, icmpCode: 0, icmpId: 0x1234 };
    assert.equal(key(p, true), tupleKey(request, 0, 2));
  });

  it('IPv6 UDP behind a hop-by-hop and a first-fragment header', () => {
    const hbh = [44, 0, 0, 0, 0, 0, 0, 0];
    const frag = [17, 0, 0, 0, 0, 0, 0, 1]; // offset 0, more fragments
    const b = ipv6(0, '2001:db8::1', '2001:db8::2', [...hbh, ...frag, ...ports(5353, 53)]);
    const p = new PacketFlow();
    assert.ok(readPacketFlow(b, 0, b.length, p));
    assert.equal(
      key(p, false),
      tupleKey({ src: '2001:db8::1', dst: '2001:db8::2', proto: 17, sport: 5353, dport: 53 }, 0, 10),
    );
  });

  it('a packet at an offset in a larger buffer', () => {
    const inner = ipv4(17, '203.0.113.5', '192.0.2.9', ports(1, 2));
    const b = Buffer.concat([Buffer.alloc(13, 0xff), inner, Buffer.alloc(5, 0xee)]);
    const p = new PacketFlow();
    assert.ok(readPacketFlow(b, 13, inner.length, p));
    assert.equal(
      key(p, false),
      tupleKey({ src: '203.0.113.5', dst: '192.0.2.9', proto: 17, sport: 1, dport: 2 }, 0, 2),
    );
  });

  it('no key for later fragments, truncated headers or other versions', () => {
    const p = new PacketFlow();
    const later4 = ipv4(6, '192.0.2.1', '192.0.2.2', ports(1, 2), 0x0010);
    assert.equal(readPacketFlow(later4, 0, later4.length, p), false);
    const later6 = ipv6(44, '2001:db8::1', '2001:db8::2', [6, 0, 0, 0x08, 0, 0, 0, 1, ...ports(1, 2)]);
    assert.equal(readPacketFlow(later6, 0, later6.length, p), false);
    const tcp = ipv4(6, '192.0.2.1', '192.0.2.2', ports(1, 2));
    assert.equal(readPacketFlow(tcp, 0, 22, p), false);
    assert.equal(readPacketFlow(tcp, 0, 19, p), false);
    assert.equal(readPacketFlow(Buffer.from([0x50]), 0, 1, p), false);
    assert.equal(readPacketFlow(Buffer.alloc(0), 0, 0, p), false);
  });
});
