// Commit with a pool of worker threads, started with the daemon so a failover does not wait for
// them. The main thread streams the external cache to the workers in chunks (the raw wire
// attributes, packed into transferred buffers: no structured clone of strings) and the workers
// transcode and send while the rest is still being packed. The kernel runs ctnetlink's CT_NEW
// under one mutex, so what the workers buy is overlap: one encodes while the other's batch is in
// the kernel. RELATED entries (with a master tuple) are found by the workers and go in a second
// round, after every master exists.
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { ObjectState, decodeStored, type CacheView } from '../cache/sync-cache.js';
import { flowKey } from '../conntrack/key.js';
import { errnoName, describeErrno } from '../netlink/socket.js';
import type { Entry } from '../conntrack/entry.js';

/** Main thread -> worker. */
export type CommitRequest =
  | { type: 'begin'; now: number; fixedTimeout?: number; liberal: boolean }
  /**
   * Entries base, base+1, ...: their wire attributes back to back in `data`, and in `meta` (a
   * Uint32Array) the length and the `updated` time of each. Both transferred.
   */
  | { type: 'chunk'; data: ArrayBuffer; meta: ArrayBuffer; base: number }
  /** No more chunks: answer with the plain entries' result. */
  | { type: 'end' }
  /** Commit the RELATED entries held back (answers with their result), then drop the chunks. */
  | { type: 'related' }
  /** Drop the chunks (no answer). */
  | { type: 'forget' };

/** Worker -> main thread. */
export type CommitReply =
  | { type: 'ready'; portId: number }
  | { type: 'part'; result: CommitPartResult; related: number }
  | { type: 'error'; error: string };

export interface CommitPartResult {
  created: number;
  replaced: number;
  /** `attrs`: the entry's wire attributes (latin1), so the failure can be reported without the cache. */
  failures: Array<{ index: number; errno: number; message?: string; attrs: string }>;
  /** Milliseconds the worker spent encoding, and waiting for the kernel (send + replies). */
  encodeMs: number;
  kernelMs: number;
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

/** A cache that can hand its live entries' attributes over as bytes (ExternalCache). */
interface ArenaSource {
  forEachLive(visit: (src: Buffer, off: number, len: number, updated: number) => void): void;
}
const isArenaSource = (c: object): c is ArenaSource => typeof (c as Partial<ArenaSource>).forEachLive === 'function';

/** Records per chunk: the first ones small so the workers start at once. */
const FIRST_CHUNK = 1024;
const CHUNK = 8192;

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

export class CommitPool {
  private workers: PoolWorker[] = [];

  /** Netlink port ids of the workers' sockets: their events are ours, not the peer's to hear of. */
  get portIds(): number[] {
    return this.workers.map((w) => w.portId);
  }

  get size(): number {
    return this.workers.length;
  }

  async start(size = defaultSize()): Promise<void> {
    const url = new URL('./commit-worker.js', import.meta.url);
    this.workers = await Promise.all(Array.from({ length: size }, () => new Promise<PoolWorker>((resolve, reject) => {
      const worker = new Worker(url);
      worker.once('error', reject);
      worker.once('message', (m: CommitReply) => {
        worker.off('error', reject);
        worker.unref();
        if (m.type === 'ready') resolve({ worker, portId: m.portId });
        else reject(new Error(`commit worker did not start: ${m.type === 'error' ? m.error : m.type}`));
      });
    })));
  }

  stop(): void {
    for (const w of this.workers) void w.worker.terminate();
    this.workers = [];
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

  /** Commits every live entry of the cache; returns counts and the failures with reasons. */
  async commit(cache: CacheView, opts: CommitOptions): Promise<CommitResult> {
    if (this.workers.length === 0) throw new Error('commit pool is not started');
    const t0 = performance.now();
    const now = opts.now ?? Math.floor(Date.now() / 1000);
    const workers = this.workers;
    for (const w of workers) {
      w.worker.ref();
      w.worker.postMessage({ type: 'begin', now, fixedTimeout: opts.commitTimeout, liberal: !opts.tcpWindowTracking } satisfies CommitRequest);
    }
    try {
      // stream: pack a chunk, hand it over (transfer), next chunk to the next worker. Each
      // chunk is the entries' attributes back to back (copied from the cache's arena, or its
      // strings), with the length and `updated` time of each alongside
      let scratch = Buffer.allocUnsafe(1 << 20);
      let pos = 0;
      let meta = new Uint32Array(2 * FIRST_CHUNK);
      let count = 0;
      let total = 0;
      let next = 0;
      let limit = FIRST_CHUNK;
      let tFirst = 0;
      const flush = (): void => {
        const data = new ArrayBuffer(pos);
        new Uint8Array(data).set(scratch.subarray(0, pos));
        const m = meta.slice(0, 2 * count);
        workers[next].worker.postMessage({ type: 'chunk', data, meta: m.buffer, base: total - count } satisfies CommitRequest, [data, m.buffer]);
        if (tFirst === 0) tFirst = performance.now();
        next = (next + 1) % workers.length;
        pos = 0;
        count = 0;
        if (limit !== CHUNK) {
          limit = CHUNK;
          meta = new Uint32Array(2 * CHUNK);
        }
      };
      const room = (n: number): void => {
        if (pos + n <= scratch.length) return;
        const bigger = Buffer.allocUnsafe(Math.max(scratch.length * 2, pos + n));
        scratch.copy(bigger, 0, 0, pos);
        scratch = bigger;
      };
      const add = (len: number, updated: number): void => {
        meta[2 * count] = len;
        meta[2 * count + 1] = updated;
        count++;
        total++;
        if (count >= limit) flush();
      };
      if (isArenaSource(cache)) {
        cache.forEachLive((src, off, len, updated) => {
          room(len);
          src.copy(scratch, pos, off, off + len);
          pos += len;
          add(len, updated);
        });
      } else {
        for (const obj of cache.values()) {
          if (obj.state === ObjectState.DEAD) continue;
          room(obj.attrs.length);
          pos += scratch.write(obj.attrs, pos, 'latin1');
          add(obj.attrs.length, obj.updated);
        }
      }
      if (count) flush();
      const tPacked = performance.now();
      const parts = await Promise.all(workers.map((w) => this.reply(w, { type: 'end' })));
      const tPlain = performance.now();
      // RELATED entries: once every master is in (each worker holds back its own)
      const results = parts.map((p) => p.result);
      const relatedCount = parts.reduce((s, p) => s + p.related, 0);
      const second = await Promise.all(workers.map((w, k) => {
        if (parts[k].related > 0) return this.reply(w, { type: 'related' });
        w.worker.postMessage({ type: 'forget' } satisfies CommitRequest);
        return undefined;
      }));
      for (const s of second) if (s) results.push(s.result);
      const tEnd = performance.now();

      const out: CommitResult = { committed: 0, replaced: 0, failed: [], seconds: 0 };
      let encodeMs = 0;
      let kernelMs = 0;
      for (const r of results) {
        out.committed += r.created + r.replaced;
        out.replaced += r.replaced;
        encodeMs += r.encodeMs;
        kernelMs += r.kernelMs;
        for (const f of r.failures) {
          const reason = f.errno > 0 ? `${errnoName(f.errno)}: ${describeErrno(f.errno)}${f.message ? ` (${f.message})` : ''}` : f.message ?? 'could not be encoded';
          const entry = decodeStored(f.attrs);
          out.failed.push({ entry, key: flowKey(entry), errno: f.errno, reason });
        }
      }
      out.seconds = (performance.now() - t0) / 1000;
      out.phases = {
        firstChunk: tFirst - t0, packed: tPacked - t0,
        plainDone: tPlain - t0, relatedDone: tEnd - t0, related: relatedCount,
        workersEncode: encodeMs, workersKernel: kernelMs,
      };
      return out;
    } finally {
      for (const w of workers) w.worker.unref();
    }
  }
}
