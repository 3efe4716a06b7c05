// runBatch over a socket in loopback mode (what the commit workers warm up on), and the
// KernelTurn the workers take before each sendmsg.
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { NetlinkSocket } from '../../../src/netlink/socket.js';
import { NlWriter } from '../../../src/netlink/attr.js';
import { runBatch, BATCH_MAX_MESSAGES, RX_SLOT, type BatchChannel } from '../../../src/netlink/batch.js';
import { KernelTurn } from '../../../src/netlink/kernel-turn.js';
import { nativeAddon } from '../../../src/native.js';
import {
  IPCTNL_MSG_CT_NEW,
  NFNL_SUBSYS_CTNETLINK,
  NLMSG_ERROR,
  NLM_F_ACK,
  NLM_F_REQUEST,
  AF_UNSPEC,
} from '../../../src/netlink/constants.js';

describe('netlink batches', () => {
  describe('NetlinkSocket in loopback mode', () => {
    let sock: NetlinkSocket;
    beforeEach(() => {
      sock = new NetlinkSocket({ loopback: true });
    });
    afterEach(() => sock.close());

    it('answers the last message that asked for an ACK, addressed to the socket, then has nothing', () => {
      const w = new NlWriter(4096);
      w.beginNf((NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW, NLM_F_REQUEST, 41, AF_UNSPEC);
      w.end();
      w.beginNf(1 /* NLMSG_NOOP */, NLM_F_REQUEST | NLM_F_ACK, 42, AF_UNSPEC);
      w.end();
      sock.send(w.bytes());
      const rx = Buffer.alloc(256);
      const n = sock.recv(rx);
      assert.equal(n, 36);
      assert.equal(rx.readUInt32LE(0), 36);
      assert.equal(rx.readUInt16LE(4), NLMSG_ERROR);
      assert.equal(rx.readUInt32LE(8), 42, 'seq of the fence');
      assert.equal(rx.readUInt32LE(12), sock.portId, 'addressed as the kernel addresses replies');
      assert.equal(rx.readInt32LE(16), 0, 'error 0: success');
      assert.equal(rx.readUInt32LE(28), 42, 'the request header is echoed');
      assert.ok(sock.recv(rx) < 0, 'one answer per batch');
    });

    it('lets runBatch complete a batch of thousands of requests, all successful', async () => {
      const ch: BatchChannel = {
        socket: sock,
        rx: Buffer.alloc(65536),
        rxLengths: new Int32Array(65536 / RX_SLOT),
        w: new NlWriter(512 * 1024),
        wait: async () => undefined,
      };
      const count = BATCH_MAX_MESSAGES * 2 + 5;
      const r = await runBatch(ch, count, 1000, (w, i, seq) => {
        if (i === 7) throw new Error('cannot encode this one');
        w.beginNf((NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW, NLM_F_REQUEST, seq, 2);
        w.end();
      });
      assert.equal(r.outcome.errnos.length, count);
      assert.equal(r.outcome.errnos[7], -1);
      assert.equal(r.outcome.messages.get(7), 'cannot encode this one');
      assert.equal(r.outcome.errnos.filter((e) => e !== 0).length, 1);
      assert.equal(r.lastSeq, 1000 + count, 'the last fence follows the last request');
    });
  });

  describe('NetlinkSocket in loopback mode with errors', () => {
    it('fails every n-th create with EEXIST and every n-th create-or-update with EBUSY, in order, the fence last', async () => {
      const sock = new NetlinkSocket({ loopback: true, loopbackErrors: 3 });
      try {
        const ch: BatchChannel = {
          socket: sock,
          rx: Buffer.alloc(65536),
          rxLengths: new Int32Array(65536 / RX_SLOT),
          w: new NlWriter(64 * 1024),
          wait: async () => undefined,
        };
        const kinds = ['create', 'create', 'create', 'update', 'create', 'update', 'update', 'create', 'create'];
        const r = await runBatch(ch, kinds.length, 100, (w, i, seq) => {
          const flags =
            kinds[i] === 'create'
              ? NLM_F_REQUEST | 0x200 /* NLM_F_EXCL */ | 0x400 /* NLM_F_CREATE */
              : NLM_F_REQUEST | 0x400;
          w.beginNf((NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW, flags, seq, 2);
          w.end();
        });
        // creates #3 and #6 (indexes 2 and 8), the third update (index 6)
        assert.deepEqual([...r.outcome.errnos], [0, 0, 17, 0, 0, 0, 16, 0, 17]);
        assert.ok(sock.recv(Buffer.alloc(64)) < 0, 'nothing left after the fence');
      } finally {
        sock.close();
      }
    });
  });

  describe('KernelTurn', () => {
    it('lets one thread at a time in: no increment is lost between four threads', async () => {
      const turn = KernelTurn.allocate();
      const counter = new SharedArrayBuffer(4);
      const rounds = 20000;
      // a plain read-modify-write with a pause in between: without the turn, threads overwrite
      // each other's increments
      const code = `
        const { workerData, parentPort } = require('node:worker_threads');
        import(workerData.module).then(({ KernelTurn }) => {
          const t = new KernelTurn(workerData.turn);
          const c = new Int32Array(workerData.counter);
          for (let i = 0; i < workerData.rounds; i++) {
            t.acquire();
            const v = c[0];
            for (let k = 0; k < 20; k++) Math.sqrt(k);
            c[0] = v + 1;
            t.release();
          }
          parentPort.postMessage('done');
        });`;
      const module = new URL('../../../src/netlink/kernel-turn.js', import.meta.url).href;
      const workers = Array.from(
        { length: 4 },
        () => new Worker(code, { eval: true, workerData: { turn, counter, rounds, module } }),
      );
      await Promise.all(
        workers.map(
          (w) =>
            new Promise((resolve, reject) => {
              w.once('message', resolve);
              w.once('error', reject);
            }),
        ),
      );
      await Promise.all(workers.map((w) => w.terminate()));
      assert.equal(new Int32Array(counter)[0], 4 * rounds);
      assert.equal(new Int32Array(turn)[0], 0, 'free again');
    });

    it('a thread kept waiting past its spin sleeps, and the release wakes it', async () => {
      const turn = KernelTurn.allocate();
      const word = new Int32Array(turn);
      const held = new KernelTurn(turn);
      held.acquire();
      const code = `
        const { workerData, parentPort } = require('node:worker_threads');
        import(workerData.module).then(({ KernelTurn }) => {
          const t = new KernelTurn(workerData.turn);
          t.acquire();
          t.release();
          // after the release: the main thread terminates the worker once it hears this
          parentPort.postMessage('got it');
        });`;
      const module = new URL('../../../src/netlink/kernel-turn.js', import.meta.url).href;
      const worker = new Worker(code, { eval: true, workerData: { turn, module } });
      let got = false;
      const done = new Promise<void>((resolve, reject) => {
        worker.once('message', () => {
          got = true;
          resolve();
        });
        worker.once('error', reject);
      });
      try {
        // well past the spin (5 ms): the waiter has marked the word (2) and sleeps on it
        const until = Date.now() + 5000;
        while (word[0] !== 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
        await new Promise((r) => setTimeout(r, 50));
        assert.equal(word[0], 2, 'held, with a sleeping waiter');
        assert.equal(got, false, 'no turn while it is held');
      } finally {
        held.release();
      }
      await done;
      await worker.terminate();
      assert.equal(word[0], 0, 'free again');
    });

    it('the native side rejects a word that is not a non-empty Int32Array', () => {
      assert.throws(() => nativeAddon().turnAcquire(new Int32Array(0)), /empty Int32Array/);
      assert.throws(() => nativeAddon().turnRelease(new Uint8Array(4) as unknown as Int32Array), /Int32Array expected/);
    });
  });
});
