// native/udp-batch.cc: sendMany's argument checks (a caller bug must be an error, never bytes
// from outside the buffer on the wire).
import { strict as assert } from 'node:assert';
import dgram from 'node:dgram';
import { nativeAddon } from '../../../src/native.js';
import { fdOf } from '../../../src/sync/channel.js';

describe('sendMany (native UDP batching)', () => {
  let rx: dgram.Socket;
  let tx: dgram.Socket;
  let fd: number;

  before(async () => {
    rx = dgram.createSocket('udp4');
    tx = dgram.createSocket('udp4');
    await new Promise<void>((r) => rx.bind(0, '127.0.0.1', r));
    await new Promise<void>((r) => tx.bind(0, '127.0.0.1', r));
    await new Promise<void>((r) => tx.connect(rx.address().port, '127.0.0.1', r));
    fd = fdOf(tx);
  });

  after(() => {
    rx.close();
    tx.close();
  });

  it('sends the datagrams the lengths cut the buffer into, from `start`', async () => {
    const got: string[] = [];
    const done = new Promise<void>((r) =>
      rx.on('message', (m) => {
        got.push(m.toString());
        if (got.length === 2) r();
      }),
    );
    const buf = Buffer.from('aaabbbbcc');
    assert.equal(nativeAddon().sendMany(fd, buf, Int32Array.from([3, 4, 2]), 1, 2), 2);
    await done;
    assert.deepEqual(got, ['bbbb', 'cc']);
  });

  it('refuses a negative or oversized length before `start` (it would move the offset outside the buffer)', () => {
    const buf = Buffer.alloc(16);
    assert.throws(() => nativeAddon().sendMany(fd, buf, Int32Array.from([-5, 10]), 1, 1), /lengths exceed the buffer/);
    assert.throws(() => nativeAddon().sendMany(fd, buf, Int32Array.from([20, 1]), 1, 1), /lengths exceed the buffer/);
    assert.throws(() => nativeAddon().sendMany(fd, buf, Int32Array.from([4, -1]), 0, 2), /lengths exceed the buffer/);
  });
});
