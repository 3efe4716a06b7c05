// The cthelper probe's request and how it reads the kernel's answers (the real kernel's answer is
// in test/integration/daemon/helpers.test.ts).
import { strict as assert } from 'node:assert';
import {
  NFNL_MSG_CTHELPER_GET,
  NFNL_SUBSYS_CTHELPER,
  cthelperDumpRequest,
  cthelperVerdict,
} from '../../../src/netlink/cthelper-probe.js';

/** An NLMSG_ERROR answering the request with sequence `seq` with -errno (0: an ACK). */
function errorReply(seq: number, errno: number): Buffer {
  const b = Buffer.alloc(16 + 4 + 16);
  b.writeUInt32LE(b.length, 0);
  b.writeUInt16LE(2, 4); // NLMSG_ERROR
  b.writeUInt32LE(seq, 8);
  b.writeInt32LE(-errno, 16);
  b.writeUInt32LE(20, 20); // the echoed request header
  b.writeUInt32LE(seq, 28);
  return b;
}

function done(seq: number): Buffer {
  const b = Buffer.alloc(20);
  b.writeUInt32LE(20, 0);
  b.writeUInt16LE(3, 4); // NLMSG_DONE
  b.writeUInt32LE(seq, 8);
  return b;
}

describe('netlink: the cthelper probe', () => {
  it('asks for a dump of NFNL_SUBSYS_CTHELPER with an ACK', () => {
    const req = cthelperDumpRequest(7);
    assert.equal(req.length, 20);
    assert.equal(req.readUInt16LE(4), (NFNL_SUBSYS_CTHELPER << 8) | NFNL_MSG_CTHELPER_GET);
    assert.equal(req.readUInt16LE(6), 0x1 | 0x300 | 0x4);
    assert.equal(req.readUInt32LE(8), 7);
  });

  it('EINVAL (no such nfnetlink subsystem): not supported, with the errno', () => {
    const b = errorReply(7, 22);
    assert.deepEqual(cthelperVerdict(b, b.length, 7), {
      supported: false,
      reason: 'NFNL_SUBSYS_CTHELPER answered EINVAL',
    });
  });

  it('the end of the dump, or an ACK: supported', () => {
    assert.deepEqual(cthelperVerdict(done(7), 20, 7), { supported: true });
    const ack = errorReply(7, 0);
    assert.deepEqual(cthelperVerdict(ack, ack.length, 7), { supported: true });
  });

  it('an answer to another request: read on', () => {
    const b = errorReply(8, 22);
    assert.equal(cthelperVerdict(b, b.length, 7), undefined);
  });
});
