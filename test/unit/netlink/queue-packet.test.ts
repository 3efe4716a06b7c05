// The queued-packet decoder against messages captured from the real kernel
// (tools/golden/capture-golden-queue.ts: test/golden/queue-packet-*.hex, .json), and its errors.
import { strict as assert } from 'node:assert';
import fs from 'node:fs';
import path from 'node:path';
import { NetlinkDecodeError } from '../../../src/netlink/attr.js';
import { forEachMessage } from '../../../src/netlink/nlmsg.js';
import { QueuedPacket, scanQueuedPacket } from '../../../src/netlink/queue-packet.js';
import { PacketFlow, readPacketFlow } from '../../../src/conntrack/packet-flow.js';
import { formatIPv4, formatIPv6 } from '../../../src/netlink/ip.js';
import { repoRoot } from '../../helpers/fakes.js';

const GOLDEN = path.join(repoRoot(), 'test/golden');
const golden = (name: string) =>
  Buffer.from(fs.readFileSync(path.join(GOLDEN, `${name}.hex`), 'utf8').replace(/\s+/g, ''), 'hex');
interface Meta {
  queue: number;
  copyRange: number;
  expect: { family: number; hwProtocol: number; proto: number; src: string; dst: string; sport: number; dport: number };
}
const meta = (name: string) => JSON.parse(fs.readFileSync(path.join(GOLDEN, `${name}.json`), 'utf8')) as Meta;

function scanOne(buf: Buffer): QueuedPacket {
  const p = new QueuedPacket();
  let n = 0;
  forEachMessage(buf, buf.length, (h) => {
    assert.ok(scanQueuedPacket(buf, h, p));
    n++;
  });
  assert.equal(n, 1);
  return p;
}

describe('netlink/queue-packet', () => {
  for (const name of ['queue-packet-udp4', 'queue-packet-tcp4-syn', 'queue-packet-udp6']) {
    it(`decodes ${name} (kernel capture) and its headers`, () => {
      const buf = golden(name);
      const m = meta(name);
      const p = scanOne(buf);
      assert.equal(p.queue, m.queue);
      assert.equal(p.family, m.expect.family);
      assert.equal(p.hwProtocol, m.expect.hwProtocol);
      assert.ok(p.id >= 1);
      assert.equal(p.message, 0);
      assert.equal(p.messageLength, buf.length);
      assert.ok(p.payload > 0 && p.payloadLength > 0 && p.payloadLength <= m.copyRange);
      const f = new PacketFlow();
      assert.ok(readPacketFlow(buf, p.payload, p.payloadLength, f));
      assert.equal(f.proto, m.expect.proto);
      const fmt = f.family === 10 ? formatIPv6 : formatIPv4;
      assert.equal(fmt(buf, f.src), m.expect.src);
      assert.equal(fmt(buf, f.dst), m.expect.dst);
      assert.equal(f.sport, m.expect.sport);
      assert.equal(f.dport, m.expect.dport);
    });
  }

  it('returns false for another message type', () => {
    const buf = golden('queue-packet-udp4');
    buf.writeUInt16LE((3 << 8) | 1, 4); // NFQNL_MSG_VERDICT
    forEachMessage(buf, buf.length, (h) => assert.equal(scanQueuedPacket(buf, h, new QueuedPacket()), false));
  });

  it('refuses a short NFQA_PACKET_HDR, naming it and the offset', () => {
    const buf = golden('queue-packet-udp4');
    buf.writeUInt16LE(4 + 6, 20); // the first attribute, NFQA_PACKET_HDR: 6 bytes of 7
    assert.throws(
      () => forEachMessage(buf, buf.length, (h) => void scanQueuedPacket(buf, h, new QueuedPacket())),
      (e: unknown) => e instanceof NetlinkDecodeError && /NFQA_PACKET_HDR of 6 bytes.*at byte 20/.test(e.message),
    );
  });

  it('refuses a message without NFQA_PACKET_HDR', () => {
    const buf = golden('queue-packet-udp4');
    buf.writeUInt16LE(0x3000, 22); // the first attribute becomes one the decoder skips
    assert.throws(
      () => forEachMessage(buf, buf.length, (h) => void scanQueuedPacket(buf, h, new QueuedPacket())),
      /without NFQA_PACKET_HDR/,
    );
  });
});
