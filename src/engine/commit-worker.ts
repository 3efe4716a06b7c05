// A commit worker thread: its own netlink socket, commits the packed entries it is given. Several
// of them let the kernel insert on every core at once (its conntrack locks are per bucket).
import { parentPort } from 'node:worker_threads';
import { NetlinkSocket } from '../netlink/socket.js';
import { NlWriter } from '../netlink/attr.js';
import { IPCTNL_MSG_CT_DELETE, IPCTNL_MSG_CT_NEW, NFNL_SUBSYS_CTNETLINK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST } from '../netlink/constants.js';
import { errno } from '../netlink/socket.js';
import { runBatch, type BatchChannel } from '../netlink/batch.js';
import { scanTimeout, scannedFamily, writeScannedCreate, writeScannedIdentity } from './commit-encoder.js';
import type { CommitJob, CommitPartResult } from './commit-pool.js';
import { encodeCtAttrs } from '../sync/wire-attrs.js';

const socket = new NetlinkSocket({ rcvbuf: 16 * 1024 * 1024, sndbuf: 4 * 1024 * 1024 });
const channel: BatchChannel = {
  socket, rx: Buffer.allocUnsafe(1024 * 1024), w: new NlWriter(512 * 1024),
  // a worker may block: nothing else runs on this thread
  wait: async () => {
    socket.waitReadable(-1);
  },
};
let seq = (Date.now() / 1000) >>> 0;

/** Offsets of the records in a packed buffer: [u16 len][u32 updated][attrs]. */
function index(buf: Buffer): { starts: Uint32Array; count: number } {
  const starts = new Uint32Array(Math.ceil(buf.length / 8) + 1);
  let count = 0;
  for (let o = 0; o + 6 <= buf.length; o += 6 + buf.readUInt16LE(o)) starts[count++] = o;
  return { starts, count };
}

async function commit(job: CommitJob): Promise<CommitPartResult> {
  const buf = Buffer.from(job.buf);
  const { starts, count } = index(buf);
  const result: CommitPartResult = { created: 0, replaced: 0, failures: [] };
  const encodeCreate = (w: NlWriter, i: number, s: number): void => {
    const o = starts[i];
    const len = buf.readUInt16LE(o);
    const updated = buf.readUInt32LE(o + 2);
    const cached = scanTimeout(buf, o + 6, o + 6 + len);
    let timeout = job.fixedTimeout ?? cached - (job.now - updated);
    if (job.fixedTimeout === undefined && (cached < 0 || timeout <= 0)) timeout = 60;
    w.beginNf((NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL, s, scannedFamily());
    if (!writeScannedCreate(w, buf, { timeout, liberal: job.liberal })) throw new Error('entry has no usable tuple');
    w.end();
  };
  const first = await runBatch(channel, count, seq + 1, encodeCreate);
  seq = first.lastSeq;
  const exists: number[] = [];
  for (let i = 0; i < count; i++) {
    const err = first.outcome.errnos[i];
    if (err === 0) result.created++;
    else if (err === errno.EEXIST) exists.push(i);
    else result.failures.push({ index: job.indexes[i], errno: err, message: first.outcome.messages.get(i) });
  }
  // replace what is there with ours: delete, create. A packet can re-create the flow in between
  // (the VIP is already here): then the same again, a few times.
  let pending = exists;
  for (let round = 0; pending.length > 0; round++) {
    const batch = pending;
    const del = await runBatch(channel, batch.length, seq + 1, (w, k, s) => {
      const o = starts[batch[k]];
      scanTimeout(buf, o + 6, o + 6 + buf.readUInt16LE(o));
      w.beginNf((NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE, NLM_F_REQUEST, s, scannedFamily());
      if (!writeScannedIdentity(w, buf)) throw new Error('entry has no usable tuple');
      w.end();
    });
    seq = del.lastSeq;
    const again = await runBatch(channel, batch.length, seq + 1, (w, k, s) => encodeCreate(w, batch[k], s));
    seq = again.lastSeq;
    pending = [];
    for (let k = 0; k < batch.length; k++) {
      const err = again.outcome.errnos[k];
      if (err === 0) result.replaced++;
      else if (err === errno.EEXIST && round < 3) pending.push(batch[k]);
      else result.failures.push({ index: job.indexes[batch[k]], errno: err, message: again.outcome.messages.get(k) });
    }
  }
  return result;
}

/**
 * Runs the encoder over synthetic entries before the first commit: a failover commits once, and
 * unoptimized (cold) code would make that one commit twice as slow.
 */
function warmUp(): void {
  const attrs = Buffer.allocUnsafe(512);
  const w = new NlWriter(64 * 1024);
  const samples = [
    { family: 2, orig: { src: '192.0.2.1', dst: '198.51.100.1', proto: 6, sport: 1024, dport: 80 }, status: 14, timeout: 300, mark: 1, tcp: { state: 3 } },
    { family: 10, orig: { src: '2001:db8::1', dst: '2001:db8::2', proto: 17, sport: 53, dport: 53 }, status: 8, timeout: 30 },
    { family: 2, orig: { src: '192.0.2.1', dst: '198.51.100.1', proto: 1, icmpType: 8, icmpCode: 0, icmpId: 7 }, status: 8, timeout: 30 },
  ];
  const encoded = samples.map((e) => attrs.subarray(0, encodeCtAttrs(attrs, 0, e, { tcpWindowTracking: true })).toString('latin1'));
  const b = Buffer.allocUnsafe(512);
  for (let i = 0; i < 30000; i++) {
    const n = b.write(encoded[i % encoded.length], 0, 'latin1');
    scanTimeout(b, 0, n);
    w.beginNf(0x100, 0, i, scannedFamily());
    writeScannedCreate(w, b, { timeout: 60, liberal: true });
    w.end();
    if (w.off > 32 * 1024) w.reset();
  }
}
warmUp();

parentPort!.on('message', (job: CommitJob) => {
  commit(job).then(
    (r) => parentPort!.postMessage({ ok: true, result: r }),
    (err: Error) => parentPort!.postMessage({ ok: false, error: err.message }),
  );
});
parentPort!.postMessage({ ready: true, portId: socket.portId });
