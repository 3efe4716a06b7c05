// The queue configuration and verdict writers, byte for byte against the structures of
// linux/netfilter/nfnetlink_queue.h (the kernel took these bytes: tools/golden/capture-golden-queue.ts
// binds, configures and gives verdicts with them, and test/integration/engine/on-demand-commit.test.ts
// runs them).
import { strict as assert } from 'node:assert';
import { NlWriter } from '../../../src/netlink/attr.js';
import {
  NFQA_CFG_F,
  NFQNL_CFG_CMD,
  NFQNL_COPY,
  NF_VERDICT,
  QUEUE_CONFIG_ATTRS,
} from '../../../src/netlink/queue-attrs.js';
import { writeQueueConfig } from '../../../src/netlink/queue-config.js';
import { writeVerdict, writeVerdictBatch } from '../../../src/netlink/queue-verdict.js';

const hex = (w: NlWriter) => w.bytes().toString('hex');

describe('netlink/queue-config and queue-verdict', () => {
  it('writes a bind with copy range, queue length and FAIL_OPEN in one message', () => {
    const w = new NlWriter(64);
    writeQueueConfig(w, 7, 300, {
      command: NFQNL_CFG_CMD.BIND,
      copy: { mode: NFQNL_COPY.PACKET, range: 128 },
      maxLen: 1024,
      flags: { mask: NFQA_CFG_F.FAIL_OPEN, value: NFQA_CFG_F.FAIL_OPEN },
    });
    assert.equal(
      hex(w),
      [
        '40000000', // length 64
        '0203', // NFNL_SUBSYS_QUEUE << 8 | NFQNL_MSG_CONFIG
        '0500', // REQUEST | ACK
        '07000000',
        '00000000',
        '00', // AF_UNSPEC
        '00', // version
        '012c', // queue 300, big-endian
        '08000100' + '01000000', // CMD: BIND, pad, pf 0
        '09000200' + '00000080' + '02' + '000000', // PARAMS: range 128, COPY_PACKET (5 bytes, padded)
        '08000300' + '00000400', // QUEUE_MAXLEN 1024
        '08000400' + '00000001', // MASK FAIL_OPEN
        '08000500' + '00000001', // FLAGS FAIL_OPEN
      ].join(''),
    );
  });

  it('gives each configuration attribute the length its table row says', () => {
    const w = new NlWriter(64);
    writeQueueConfig(w, 1, 0, {
      command: NFQNL_CFG_CMD.UNBIND,
      copy: { mode: NFQNL_COPY.META, range: 0 },
      maxLen: 1,
      flags: { mask: 1, value: 0 },
    });
    const b = w.bytes();
    const lengths = new Map<number, number>();
    for (let o = 20; o < b.length; o += (b.readUInt16LE(o) + 3) & ~3)
      lengths.set(b.readUInt16LE(o + 2), b.readUInt16LE(o) - 4);
    for (const a of QUEUE_CONFIG_ATTRS) assert.equal(lengths.get(a.type), a.min, a.name);
  });

  it('refuses a queue number out of 0..65535', () => {
    assert.throws(() => writeQueueConfig(new NlWriter(64), 1, 65536, {}), /queue number 65536 is not in 0\.\.65535/);
    assert.throws(() => writeQueueConfig(new NlWriter(64), 1, -1, {}), /queue number -1/);
  });

  it('writes a verdict and a batch verdict', () => {
    const w = new NlWriter(64);
    writeVerdict(w, 9, 3, 0x01020304, NF_VERDICT.ACCEPT);
    assert.equal(
      hex(w),
      '20000000' + '0103' + '0100' + '09000000' + '00000000' + '00000003' + '0c000200' + '00000001' + '01020304',
    );
    w.reset();
    writeVerdictBatch(w, 10, 3, 42, NF_VERDICT.ACCEPT);
    assert.equal(
      hex(w),
      '20000000' + '0303' + '0100' + '0a000000' + '00000000' + '00000003' + '0c000200' + '00000001' + '0000002a',
    );
  });
});
