// Commit with a pool of worker threads, started before the commit that needs them (see
// commit-pool-demand.ts for when) so a failover does not wait for them. The workers read the external cache's arena in place (it lives in shared memory, lent
// for the commit: a write meanwhile moves the cache to a copy): each walks it in segments of
// whole records and takes every n-th. The main thread sends two messages and is free: copying
// the arena out to the workers took it ~15 ms per 100k entries (page faults mostly) and
// starved a worker of CPU at the start of every commit.
// The kernel runs ctnetlink's CT_NEW under one mutex, so what the workers buy is overlap: one
// encodes while the other's batch is in the kernel (they take turns there: KernelTurn).
// RELATED entries (with a master tuple) are found by the workers and go in a second round,
// after every master exists.
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { KernelTurn } from '../netlink/kernel-turn.js';
import { decodeStored } from '../cache/sync-cache.js';
import type { ArenaCache } from '../cache/arena-cache.js';
import { flowKey } from '../conntrack/key.js';
import { errnoName, describeErrno } from '../netlink/socket.js';
import { SchedPolicy, nativeAddon } from '../native.js';
import type { Entry } from '../conntrack/entry.js';

/** Main thread -> worker. */
export type CommitRequest =
  | { type: 'begin'; now: number; fixedTimeout?: number; liberal: boolean }
  /**
   * The lent arena, records [0, used): commit segments index, index + of, index + 2 * of...
   * (SegmentWalk with CHUNK_LIMITS).
   */
  | { type: 'arena'; arena: SharedArrayBuffer; used: number; index: number; of: number }
  /** Nothing more to commit: answer with the plain entries' result. */
  | { type: 'end' }
  /** Commit the RELATED entries held back (answers with their result), then drop the chunks. */
  | { type: 'related' }
  /** Drop the chunks (no answer). */
  | { type: 'forget' };

/** Worker -> main thread. */
export type CommitReply =
  /** First thing a worker says: its thread id (it warms up at SCHED_IDLE, see commit-worker-start.ts). */
  | { type: 'starting'; tid: number }
  | { type: 'ready'; portId: number }
  | { type: 'part'; result: CommitPartResult; related: number }
  | { type: 'error'; error: string };

export interface CommitPartResult {
  created: number;
  replaced: number;
  /** Of `replaced`: deleted and created again (the rest were updated in place). */
  recreated: number;
  /** `attrs`: the entry's wire attributes (latin1), so the failure can be reported without the cache. */
  failures: Array<{ errno: number; message?: string; attrs: string }>;
  /** Milliseconds the worker spent encoding, and waiting for the kernel (send + replies). */
  encodeMs: number;
  kernelMs: number;
  /** Of kernelMs: inside sendmsg (the kernel's work), and waiting for the turn to send. */
  sendMs: number;
  turnWaitMs: number;
}

export interface CommitFailure {
  entry: Entry;
  /** The cache key of the entry (saves the caller a flowKey()). */
  key: string;
  errno: number;
  reason: string;
}

export interface CommitResult {
  committed: number;
  replaced: number;
  /**
   * Entries the commit inserted into the table: the new ones and those deleted and created again
   * (the rest of `replaced` were updated in place). What else the kernel's insert counter counted
   * meanwhile, packets created. Absent: not known.
   */
  inserted?: number;
  failed: CommitFailure[];
  seconds: number;
  /** Where the time went, in milliseconds (for logs and benchmarks). */
  phases?: Record<string, number>;
}

export interface CommitOptions {
  /** CommitTimeout: fixed timeout for every committed entry. */
  commitTimeout?: number;
  /** TCPWindowTracking: keep window tracking (no BE_LIBERAL). */
  tcpWindowTracking: boolean;
  now?: number;
}

/**
 * Bytes of arena per chunk, by chunk (the last size for the rest): each worker's first chunk
 * small, so the kernel gets a batch at once from both; then a size whose unpacking (a scan of
 * its records) is shorter than the other worker's batch in the kernel, so the kernel does not
 * wait for it (1 MiB chunks left it idle ~1.5 ms at each).
 */
export const CHUNK_LIMITS: readonly number[] = [64 * 1024, 64 * 1024, 256 * 1024];

interface PoolWorker {
  worker: Worker;
  portId: number;
}

/** Workers by default: 2 (one encodes while the other's batch is in the kernel; more only wait on its mutex). */
function defaultSize(): number {
  const env = Number(process.env.CTSYNC_COMMIT_WORKERS);
  if (Number.isInteger(env) && env >= 1 && env <= 16) return env;
  return Math.max(1, Math.min(2, os.availableParallelism()));
}

/**
 * Like Promise.all, but settles only when every worker has answered: the arena stays lent until
 * none reads it any more, also when one of them failed.
 */
async function allOf<T>(replies: Array<T | Promise<T>>): Promise<T[]> {
  const settled = await Promise.allSettled(replies);
  const failure = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failure) throw failure.reason;
  return settled.map((r) => (r as PromiseFulfilledResult<T>).value);
}

export interface CommitPoolOptions {
  /**
   * The real-time policy the daemon gave its main thread (`Scheduler`), if any. A thread is born
   * with its creator's policy, and a worker's start-up runs before it can change its own (see
   * commit-worker-start.ts): the main thread takes the default policy for the moment it creates
   * the workers, then this one again. Real-time workers starting up in the middle of a burst
   * slowed everything else on the machine down.
   */
  mainThreadRealTime?: { policy: SchedPolicy; priority: number };
}

export class CommitPool {
  constructor(private readonly opts: CommitPoolOptions = {}) {}

  private workers: PoolWorker[] = [];
  /** The start in progress (workers spawned, warming up). */
  private starting?: Promise<void>;
  /** Thread ids of the workers of the start in progress (they warm up at SCHED_IDLE). */
  private warmingTids: number[] = [];
  /** Counts stop() calls: a start that a stop overtook gives its workers up. */
  private stops = 0;
  /** Commits in progress: the pool is not stopped under them. */
  private committing = 0;
  /**
   * Told the netlink port ids of the workers' sockets whenever they change (started: theirs,
   * stopped: none), before any of them sends: their events are ours, not the peer's to hear of.
   */
  onPorts?: (portIds: number[]) => void;

  /** Netlink port ids of the workers' sockets. */
  get portIds(): number[] {
    return this.workers.map((w) => w.portId);
  }

  get size(): number {
    return this.workers.length;
  }

  /** Starting, or committing: not to be stopped now. */
  get busy(): boolean {
    return this.starting !== undefined || this.committing > 0;
  }

  /** Starts the workers and waits until they are warm (at once if they are; joins a start in progress). */
  start(size = defaultSize()): Promise<void> {
    if (this.workers.length > 0) return Promise.resolve();
    this.starting ??= this.spawn(size).finally(() => {
      this.starting = undefined;
      this.warmingTids = []; // gone or warm: the ids are not ours to touch any more
    });
    return this.starting;
  }

  private async spawn(size: number): Promise<void> {
    const stops = this.stops;
    const url = new URL('./commit-worker-start.js', import.meta.url);
    this.warmingTids = [];
    // the workers take turns in the kernel (see KernelTurn)
    const turn = KernelTurn.allocate();
    const rt = this.opts.mainThreadRealTime;
    if (rt) nativeAddon().setThreadScheduler(SchedPolicy.OTHER, 0);
    const created: Worker[] = [];
    try {
      for (let i = 0; i < size; i++) created.push(new Worker(url, { workerData: { turn } }));
    } finally {
      if (rt) nativeAddon().setThreadScheduler(rt.policy, rt.priority);
    }
    const settled = await Promise.allSettled(
      created.map(
        (worker) =>
          new Promise<PoolWorker>((resolve, reject) => {
            const failed = (err: Error): void => {
              void worker.terminate();
              reject(err);
            };
            worker.once('error', failed);
            const started = (m: CommitReply): void => {
              if (m.type === 'starting') {
                this.warmingTids.push(m.tid);
                return;
              }
              worker.off('message', started);
              worker.off('error', failed);
              worker.unref();
              if (m.type === 'ready') resolve({ worker, portId: m.portId });
              else failed(new Error(`commit worker did not start: ${m.type === 'error' ? m.error : m.type}`));
            };
            worker.on('message', started);
          }),
      ),
    );
    const workers = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    const failure = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failure || stops !== this.stops) {
      for (const w of workers) void w.worker.terminate();
      throw failure ? failure.reason : new Error('commit pool stopped while it started');
    }
    this.workers = workers;
    this.onPorts?.(this.portIds);
  }

  stop(): void {
    this.stops++;
    const had = this.workers.length > 0;
    for (const w of this.workers) void w.worker.terminate();
    this.workers = [];
    if (had) this.onPorts?.([]);
  }

  /** Sends `last` and resolves with the worker's next 'part' reply. */
  private reply(w: PoolWorker, last: CommitRequest): Promise<{ result: CommitPartResult; related: number }> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => {
        w.worker.off('message', onMessage);
        reject(err);
      };
      const onMessage = (m: CommitReply): void => {
        w.worker.off('error', onError);
        w.worker.off('message', onMessage);
        if (m.type === 'part') resolve({ result: m.result, related: m.related });
        else reject(new Error(`commit worker: ${m.type === 'error' ? m.error : m.type}`));
      };
      w.worker.once('error', onError);
      w.worker.on('message', onMessage);
      w.worker.postMessage(last);
    });
  }

  /**
   * A commit waits for the workers' warm-up: they return to the default policy now rather than
   * warm up on what CPU time is left over (SCHED_IDLE). Best effort: a worker that has not said
   * its thread id yet, or a refusal, leaves it warming up at SCHED_IDLE, and it returns to the
   * default policy itself once warm.
   */
  private hurryWarmUp(): void {
    for (const tid of this.warmingTids) nativeAddon().setThreadScheduler(SchedPolicy.OTHER, 0, tid);
  }

  /**
   * Commits every live entry of the cache; returns counts and the failures with reasons. Starts
   * the workers first if they are not running (an empty cache needs none).
   */
  async commit(cache: ArenaCache, opts: CommitOptions): Promise<CommitResult> {
    const t0 = performance.now();
    if (this.workers.length === 0 && cache.size === 0)
      return { committed: 0, replaced: 0, inserted: 0, failed: [], seconds: (performance.now() - t0) / 1000 };
    this.committing++;
    try {
      // running workers get the arena in this call, before the caller's next write to the cache
      // (the cache as it is now is what is committed); otherwise once they are up
      if (this.workers.length === 0) {
        const started = this.start();
        this.hurryWarmUp();
        await started;
      }
      return await this.commitStarted(cache, opts, t0);
    } finally {
      this.committing--;
    }
  }

  // eslint-disable-next-line max-lines-per-function -- listed exception, to be split
  private async commitStarted(cache: ArenaCache, opts: CommitOptions, t0: number): Promise<CommitResult> {
    const tStarted = performance.now();
    const now = opts.now ?? Math.floor(Date.now() / 1000);
    const workers = this.workers;
    if (workers.length === 0) throw new Error('commit pool stopped');
    for (const w of workers) {
      w.worker.ref();
      w.worker.postMessage({
        type: 'begin',
        now,
        fixedTimeout: opts.commitTimeout,
        liberal: !opts.tcpWindowTracking,
      } satisfies CommitRequest);
    }
    const lent = cache.lendArena();
    try {
      workers.forEach((w, index) => {
        w.worker.postMessage({
          type: 'arena',
          arena: lent.arena,
          used: lent.used,
          index,
          of: workers.length,
        } satisfies CommitRequest);
      });
      const tHanded = performance.now();
      const parts = await allOf(workers.map((w) => this.reply(w, { type: 'end' })));
      const tPlain = performance.now();
      // RELATED entries: once every master is in (each worker holds back its own)
      const results = parts.map((p) => p.result);
      const relatedCount = parts.reduce((s, p) => s + p.related, 0);
      const second = await allOf(
        workers.map((w, k) => {
          if (parts[k].related > 0) return this.reply(w, { type: 'related' });
          w.worker.postMessage({ type: 'forget' } satisfies CommitRequest);
          return undefined;
        }),
      );
      for (const s of second) if (s) results.push(s.result);
      const tEnd = performance.now();

      const out: CommitResult = { committed: 0, replaced: 0, inserted: 0, failed: [], seconds: 0 };
      let encodeMs = 0;
      let kernelMs = 0;
      let sendMs = 0;
      let turnWaitMs = 0;
      for (const r of results) {
        out.committed += r.created + r.replaced;
        out.replaced += r.replaced;
        out.inserted! += r.created + r.recreated;
        encodeMs += r.encodeMs;
        kernelMs += r.kernelMs;
        sendMs += r.sendMs;
        turnWaitMs += r.turnWaitMs;
        for (const f of r.failures) {
          const reason =
            f.errno > 0
              ? `${errnoName(f.errno)}: ${describeErrno(f.errno)}${f.message ? ` (${f.message})` : ''}`
              : (f.message ?? 'could not be encoded');
          const entry = decodeStored(f.attrs);
          out.failed.push({ entry, key: flowKey(entry), errno: f.errno, reason });
        }
      }
      out.seconds = (performance.now() - t0) / 1000;
      out.phases = {
        // waiting for the workers to start and warm up (0 when they were running)
        poolStart: tStarted - t0,
        handedOut: tHanded - t0,
        plainDone: tPlain - t0,
        relatedDone: tEnd - t0,
        related: relatedCount,
        workersEncode: encodeMs,
        workersKernel: kernelMs,
        workersSend: sendMs,
        workersTurnWait: turnWaitMs,
        // the workers send in turns: the time the kernel had none of our batches to work on
        kernelIdle: Math.max(0, tEnd - t0 - sendMs),
      };
      return out;
    } finally {
      // the workers are done with the arena: RELATED entries went, or were forgotten, above
      lent.release();
      for (const w of workers) w.worker.unref();
    }
  }
}
