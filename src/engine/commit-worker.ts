// A commit worker thread: its own netlink socket, commits its share of the segments of the
// external cache's arena, which the pool lends (see commit-pool.ts for the protocol). RELATED
// entries (with a master tuple) are held back until the pool says every master is in.
import { parentPort, workerData } from 'node:worker_threads';
import { KernelTurn } from '../netlink/kernel-turn.js';
import { NetlinkSocket } from '../netlink/socket.js';
import { NlWriter } from '../netlink/attr.js';
import {
  IPCTNL_MSG_CT_DELETE,
  IPCTNL_MSG_CT_NEW,
  NFNL_SUBSYS_CTNETLINK,
  NLM_F_CREATE,
  NLM_F_EXCL,
  NLM_F_REQUEST,
} from '../netlink/constants.js';
import { errno, errnoName } from '../netlink/socket.js';
import { RX_SLOT, runBatch, type BatchChannel, type BatchRun } from '../netlink/batch.js';
import { scanTimeout, scannedFamily, writeScannedCreate, writeScannedIdentity } from './commit-encoder.js';
import { CHUNK_LIMITS, type CommitPartResult, type CommitReply, type CommitRequest } from './commit-pool.js';
import { NTA, encodeCtAttrs } from '../sync/wire-attrs.js';
import { ArenaCache, SegmentWalk, forEachRecord } from '../cache/arena-cache.js';
import { warmUpSamples } from './commit-warm-up.js';
import { SchedPolicy, nativeAddon } from '../native.js';

/**
 * Requests per sendmsg: more than a chunk (CHUNK_LIMITS) makes, so a chunk goes in one batch. A
 * chunk ending in a short batch left the kernel idle while this worker encoded its next one.
 */
const WORKER_BATCH_BYTES = 512 * 1024;
/** Error replies (about 1 KiB of receive buffer each) a batch can cause: the buffer is 16 MiB. */
const WORKER_BATCH_MESSAGES = 4096;

/**
 * A batch channel over `socket`. The warm-up's and the real one are made here alike: the
 * optimizing compiler specializes on object shapes, and a shape it has not seen deoptimizes
 * the hot loop in the middle of the first real commit.
 */
function batchChannel(socket: NetlinkSocket, turn: KernelTurn): BatchChannel {
  return {
    socket,
    rx: Buffer.allocUnsafe(1024 * 1024),
    rxLengths: new Int32Array((1024 * 1024) / RX_SLOT),
    w: new NlWriter(WORKER_BATCH_BYTES + 64 * 1024),
    batchBytes: WORKER_BATCH_BYTES,
    batchMessages: WORKER_BATCH_MESSAGES,
    // a worker may block: nothing else runs on this thread
    wait: async () => {
      socket.waitReadable(-1);
    },
    turn,
  };
}

const socket = new NetlinkSocket({ rcvbuf: 16 * 1024 * 1024, sndbuf: 4 * 1024 * 1024 });
const channel = batchChannel(socket, new KernelTurn((workerData as { turn: SharedArrayBuffer }).turn));
let seq = (Date.now() / 1000) >>> 0;

interface Chunk {
  /** A segment of the external cache's arena (whole records). */
  buf: Buffer;
  /** Live entry r: wire attributes at [start[r], end[r]), updated[r]. */
  start: Uint32Array;
  end: Uint32Array;
  updated: Uint32Array;
  /** Entry numbers of the RELATED entries, held back. */
  related: number[];
}

/** The commit in progress (always made by newJob: one object shape, see batchChannel). */
interface Job {
  now: number;
  fixedTimeout: number | undefined;
  liberal: boolean;
}
function newJob(now: number, fixedTimeout: number | undefined, liberal: boolean): Job {
  return { now, fixedTimeout, liberal };
}
let job = newJob(0, undefined, true);
let held: Chunk[] = [];
let part: CommitPartResult = newPart();
let failed: Error | undefined;
let queue: Promise<void> = Promise.resolve();

function newPart(): CommitPartResult {
  return { created: 0, replaced: 0, recreated: 0, failures: [], encodeMs: 0, kernelMs: 0, sendMs: 0, turnWaitMs: 0 };
}

/** Whether wire attributes carry a master tuple's addresses. */
function hasMaster(b: Uint8Array, start: number, end: number): boolean {
  for (let o = start; o + 4 <= end;) {
    const len = (b[o] << 8) | b[o + 1];
    const id = (b[o + 2] << 8) | b[o + 3];
    if (id === NTA.MASTER_IPV4 || id === NTA.MASTER_IPV6) return true;
    if (len < 4) return false;
    o += (len + 3) & ~3;
  }
  return false;
}

function tallyKernel(result: CommitPartResult, run: BatchRun): void {
  result.sendMs += run.sendMs;
  result.turnWaitMs += run.turnWaitMs;
}

/** Commits the chunk's records rec[0..count): create, and replace what exists. */
// eslint-disable-next-line max-lines-per-function -- listed exception, to be split
async function commitRecords(
  channel: BatchChannel,
  c: Chunk,
  rec: ArrayLike<number>,
  count: number,
  result: CommitPartResult,
): Promise<void> {
  const t0 = performance.now();
  const { buf, start, end, updated } = c;
  let encodeMs = 0;
  /** Request j of `run`, for record k, failed: reported with the entry's wire attributes. */
  const fail = (run: BatchRun, j: number, k: number): void => {
    result.failures.push({
      errno: run.outcome.errnos[j],
      message: run.outcome.messages.get(j),
      attrs: buf.toString('latin1', start[rec[k]], end[rec[k]]),
    });
  };
  // a create, or (update) a create-or-update: without NLM_F_EXCL the kernel changes the entry it has
  const encodeNew = (w: NlWriter, k: number, s: number, update: boolean): void => {
    const r = rec[k];
    const cached = scanTimeout(buf, start[r], end[r]);
    let timeout = job.fixedTimeout ?? cached - (job.now - updated[r]);
    if (job.fixedTimeout === undefined && (cached < 0 || timeout <= 0)) timeout = 60;
    w.beginNf(
      (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW,
      update ? NLM_F_REQUEST | NLM_F_CREATE : NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL,
      s,
      scannedFamily(),
    );
    if (!writeScannedCreate(w, buf, { timeout, liberal: job.liberal, update }))
      throw new Error('entry has no usable tuple');
    w.end();
  };
  const encodeCreate = (w: NlWriter, k: number, s: number): void => encodeNew(w, k, s, false);
  const first = await runBatch(channel, count, seq + 1, encodeCreate);
  seq = first.lastSeq;
  encodeMs += first.encodeMs;
  tallyKernel(result, first);
  const exists: number[] = [];
  for (let k = 0; k < count; k++) {
    const err = first.outcome.errnos[k];
    if (err === 0) result.created++;
    else if (err === errno.EEXIST) exists.push(k);
    else fail(first, k, k);
  }
  // What is there becomes ours: updated in place, one request each (a delete and a new create,
  // what conntrackd's commit does on EEXIST, cost the kernel three times a create; see
  // docs/conntrackd-compat.md §4). Where the kernel will not
  // update (NAT or a master tuple given, another helper, status bits it cannot clear: EOPNOTSUPP,
  // EBUSY) the entry is deleted and created again. Other refusals leave the kernel's entry alone.
  let pending: number[] = [];
  if (exists.length > 0) {
    const upd = await runBatch(channel, exists.length, seq + 1, (w, j, s) => encodeNew(w, exists[j], s, true));
    seq = upd.lastSeq;
    encodeMs += upd.encodeMs;
    tallyKernel(result, upd);
    for (let j = 0; j < exists.length; j++) {
      const err = upd.outcome.errnos[j];
      const k = exists[j];
      if (err === 0) result.replaced++;
      else if (err === errno.EOPNOTSUPP || err === errno.EBUSY) pending.push(k);
      else fail(upd, j, k);
    }
  }
  // delete, create. A packet can re-create the flow in between (the VIP is already here): then
  // the same again, a few times.
  for (let round = 0; pending.length > 0; round++) {
    const batch = pending;
    const del = await runBatch(channel, batch.length, seq + 1, (w, j, s) => {
      const r = rec[batch[j]];
      scanTimeout(buf, start[r], end[r]);
      w.beginNf((NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE, NLM_F_REQUEST, s, scannedFamily());
      if (!writeScannedIdentity(w, buf)) throw new Error('entry has no usable tuple');
      w.end();
    });
    seq = del.lastSeq;
    const again = await runBatch(channel, batch.length, seq + 1, (w, j, s) => encodeCreate(w, batch[j], s));
    seq = again.lastSeq;
    encodeMs += del.encodeMs + again.encodeMs;
    tallyKernel(result, del);
    tallyKernel(result, again);
    pending = [];
    for (let j = 0; j < batch.length; j++) {
      const err = again.outcome.errnos[j];
      if (err === 0) {
        result.replaced++;
        result.recreated++;
      } else if (err === errno.EEXIST && round < 3) pending.push(batch[j]);
      else fail(again, j, batch[j]);
    }
  }
  result.encodeMs += encodeMs;
  result.kernelMs += performance.now() - t0 - encodeMs;
}

/** Commits the plain entries of a chunk into `result`; holds the RELATED ones back in `hold`. */
async function commitChunk(channel: BatchChannel, buf: Buffer, result: CommitPartResult, hold: Chunk[]): Promise<void> {
  // at most one entry per 20 bytes (the smallest record: header and a key)
  const most = (buf.length / 20) | 0;
  const start = new Uint32Array(most);
  const end = new Uint32Array(most);
  const updated = new Uint32Array(most);
  const plain = new Uint32Array(most);
  const c: Chunk = { buf, start, end, updated, related: [] };
  let n = 0;
  let count = 0;
  forEachRecord(buf, (s, e, u) => {
    start[n] = s;
    end[n] = e;
    updated[n] = u;
    if (hasMaster(buf, s, e)) c.related.push(n);
    else plain[count++] = n;
    n++;
  });
  if (c.related.length) hold.push(c);
  await commitRecords(channel, c, plain, count, result);
}

/** Commits segments index, index + of... of the arena's records [0, used) (the rest are others'). */
async function commitShare(
  channel: BatchChannel,
  arena: SharedArrayBuffer,
  used: number,
  index: number,
  of: number,
  limits: readonly number[],
  result: CommitPartResult,
  hold: Chunk[],
): Promise<void> {
  const walk = new SegmentWalk(arena, 0, used, limits);
  while (walk.next()) {
    if (walk.number % of === index)
      await commitChunk(channel, Buffer.from(arena, walk.start, walk.end - walk.start), result, hold);
  }
}

/** Commits the held-back RELATED entries. */
async function commitRelated(): Promise<CommitPartResult> {
  const result = newPart();
  for (const c of held) await commitRecords(channel, c, c.related, c.related.length, result);
  return result;
}

/**
 * Runs the whole commit path (unpack, encode, batch, replies) over synthetic entries before the
 * first commit: a failover commits once, and cold code (unoptimized, or optimized for a
 * different mix of entries) would make that one commit much slower. The socket is a real
 * NetlinkSocket in loopback mode (it answers every batch itself, nothing reaches the kernel),
 * and channel and job are built as the real ones are: code optimized for other object shapes
 * than the real commit's would be thrown away and compiled again in the middle of it (seen:
 * +60 ms for 100k entries).
 */
async function warmUp(): Promise<void> {
  const samples = warmUpSamples();
  // the daemon's own record format: the samples go into an ArenaCache as received messages do
  const cache = new ArenaCache('warm-up', 1 << 20, { tcpWindowTracking: true, longHelper: 'omit' }, 0, true);
  const scratch = Buffer.allocUnsafe(1024);
  for (let i = 0; i < 4096; i++) {
    const { entry, windowTracking } = samples[i % samples.length];
    const key = Buffer.from(`warm-up key ${String(i).padStart(4, '0')}`, 'latin1'); // 16 bytes
    cache.store(
      key,
      0,
      key.length,
      scratch,
      0,
      encodeCtAttrs(scratch, 0, entry, { tcpWindowTracking: windowTracking }),
      300,
      0,
    );
  }
  // the same code on the same kind of socket, which answers every batch itself
  // (every 7th create finds its entry there, every 7th update of those is refused: the code of
  // a failback, whose commit finds the whole table there, is warm too)
  const loopback = new NetlinkSocket({ loopback: true, loopbackErrors: 7 });
  const ch = batchChannel(loopback, new KernelTurn(KernelTurn.allocate()));
  for (let round = 0; round < 12; round++) {
    // both timeouts (CommitTimeout or what is left) and both TCP modes; small segments first
    // (many calls make the code hot), then the pool's sizes. The compiler works in the
    // background and its code is taken up at the next call: pauses let it finish before
    // the rounds that follow.
    job = newJob(300, round % 4 < 2 ? undefined : 180, round % 2 === 0);
    if (round === 8 || round === 11) await new Promise((resolve) => setTimeout(resolve, 40));
    // the lent arena, walked as for the pool: both shares of two workers in turn
    const lent = cache.lendArena();
    const related: Chunk[] = [];
    for (let index = 0; index < 2; index++) {
      await commitShare(
        ch,
        lent.arena,
        lent.used,
        index,
        2,
        round < 8 ? [16 * 1024, 64 * 1024] : CHUNK_LIMITS,
        newPart(),
        related,
      );
    }
    for (const c of related) await commitRecords(ch, c, c.related, c.related.length, newPart());
    lent.release();
  }
  loopback.close();
  job = newJob(0, undefined, true);
}
/**
 * Warm, the worker leaves SCHED_IDLE, where commit-worker-start.ts put it for the warm-up, for the
 * default policy (a commit must not wait behind other work; the pool may have done it already).
 * Leaving SCHED_IDLE takes CAP_SYS_NICE, which the daemon has as root.
 */
function leaveIdle(): void {
  const r = nativeAddon().setThreadScheduler(SchedPolicy.OTHER, 0);
  if (r < 0)
    throw new Error(`commit worker: cannot leave SCHED_IDLE after its warm-up (${errnoName(-r)}; needs CAP_SYS_NICE)`);
}

await warmUp();
leaveIdle();

const post = (m: CommitReply): void => parentPort!.postMessage(m);

/** Messages are handled in order, each after the previous one's work. */
parentPort!.on('message', (m: CommitRequest) => {
  queue = queue
    .then(async () => {
      switch (m.type) {
        case 'begin':
          job = newJob(m.now, m.fixedTimeout, m.liberal);
          held = [];
          part = newPart();
          failed = undefined;
          return;
        case 'arena':
          if (failed) return;
          try {
            await commitShare(channel, m.arena, m.used, m.index, m.of, CHUNK_LIMITS, part, held);
          } catch (err) {
            failed = err as Error;
          }
          return;
        case 'end':
          if (failed) post({ type: 'error', error: failed.message });
          else post({ type: 'part', result: part, related: held.reduce((s, c) => s + c.related.length, 0) });
          part = newPart();
          return;
        case 'related':
          try {
            post({ type: 'part', result: await commitRelated(), related: 0 });
          } catch (err) {
            post({ type: 'error', error: (err as Error).message });
          }
          held = [];
          return;
        case 'forget':
          held = [];
          return;
      }
    })
    .catch((err: Error) => {
      // a bug, not a kernel answer: say so rather than leave the pool waiting
      failed = err;
      post({ type: 'error', error: err.message });
    });
});
post({ type: 'ready', portId: socket.portId });
