// Commit with a pool of worker threads, started with the daemon so a failover does not wait for
// them. The external cache is split between the workers (the kernel inserts on all cores at
// once); RELATED entries go in a second round, after their masters exist.
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { ObjectState, type CacheObject, type SyncCache } from '../cache/sync-cache.js';
import { errnoName, describeErrno } from '../netlink/socket.js';
import type { Entry } from '../conntrack/entry.js';

export interface CommitJob {
  /** Packed records [u16 len][u32 updated][wire attrs], transferred. */
  buf: ArrayBuffer;
  /** Position of each record in the caller's list (for failure reports). */
  indexes: number[];
  now: number;
  fixedTimeout?: number;
  liberal: boolean;
}

export interface CommitPartResult {
  created: number;
  replaced: number;
  failures: Array<{ index: number; errno: number; message?: string }>;
}

export interface CommitFailure {
  entry: Entry;
  errno: number;
  reason: string;
}

export interface CommitResult {
  committed: number;
  replaced: number;
  failed: CommitFailure[];
  seconds: number;
}

export interface CommitOptions {
  /** CommitTimeout: fixed timeout for every committed entry. */
  commitTimeout?: number;
  /** TCPWindowTracking: keep window tracking (no BE_LIBERAL). */
  tcpWindowTracking: boolean;
  now?: number;
}

interface PoolWorker {
  worker: Worker;
  portId: number;
}

export class CommitPool {
  private workers: PoolWorker[] = [];

  /** Netlink port ids of the workers' sockets: their events are ours, not the peer's to hear of. */
  get portIds(): number[] {
    return this.workers.map((w) => w.portId);
  }

  async start(size = Math.max(1, Math.min(4, os.availableParallelism()))): Promise<void> {
    const url = new URL('./commit-worker.js', import.meta.url);
    this.workers = await Promise.all(Array.from({ length: size }, () => new Promise<PoolWorker>((resolve, reject) => {
      const worker = new Worker(url);
      worker.once('error', reject);
      worker.once('message', (m: { ready: boolean; portId: number }) => {
        worker.off('error', reject);
        worker.unref();
        resolve({ worker, portId: m.portId });
      });
    })));
  }

  stop(): void {
    for (const w of this.workers) void w.worker.terminate();
    this.workers = [];
  }

  private run(w: PoolWorker, job: CommitJob): Promise<CommitPartResult> {
    return new Promise((resolve, reject) => {
      w.worker.ref();
      const onError = (err: Error): void => {
        w.worker.unref();
        reject(err);
      };
      w.worker.once('error', onError);
      w.worker.once('message', (m: { ok: boolean; result?: CommitPartResult; error?: string }) => {
        w.worker.off('error', onError);
        w.worker.unref();
        if (m.ok) resolve(m.result!);
        else reject(new Error(`commit worker: ${m.error}`));
      });
      w.worker.postMessage(job, [job.buf]);
    });
  }

  /** Commits every live entry of the cache; returns counts and the failures with reasons. */
  async commit(cache: SyncCache, opts: CommitOptions): Promise<CommitResult> {
    if (this.workers.length === 0) throw new Error('commit pool is not started');
    const t0 = process.hrtime.bigint();
    const now = opts.now ?? Math.floor(Date.now() / 1000);
    const objects: CacheObject[] = [];
    const plain: number[] = [];
    const related: number[] = [];
    for (const obj of cache.values()) {
      if (obj.state === ObjectState.DEAD) continue;
      (hasMaster(obj.attrs) ? related : plain).push(objects.length);
      objects.push(obj);
    }
    const job = (idx: number[]): CommitJob => {
      let size = 0;
      for (const i of idx) size += 6 + objects[i].attrs.length;
      const buf = Buffer.allocUnsafe(size);
      let o = 0;
      for (const i of idx) {
        const obj = objects[i];
        buf.writeUInt16LE(obj.attrs.length, o);
        buf.writeUInt32LE(obj.updated >>> 0, o + 2);
        buf.write(obj.attrs, o + 6, 'latin1');
        o += 6 + obj.attrs.length;
      }
      const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length) as ArrayBuffer;
      return { buf: ab, indexes: idx, now, fixedTimeout: opts.commitTimeout, liberal: !opts.tcpWindowTracking };
    };
    const parts: number[][] = this.workers.map(() => []);
    plain.forEach((i, k) => parts[k % parts.length].push(i));
    const results = await Promise.all(parts.filter((p) => p.length).map((p, k) => this.run(this.workers[k], job(p))));
    if (related.length) results.push(await this.run(this.workers[0], job(related)));
    const out: CommitResult = { committed: 0, replaced: 0, failed: [], seconds: 0 };
    for (const r of results) {
      out.committed += r.created + r.replaced;
      out.replaced += r.replaced;
      for (const f of r.failures) {
        const reason = f.errno > 0 ? `${errnoName(f.errno)}: ${describeErrno(f.errno)}${f.message ? ` (${f.message})` : ''}` : f.message ?? 'could not be encoded';
        out.failed.push({ entry: cache.entry(objects[f.index]), errno: f.errno, reason });
      }
    }
    out.seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    return out;
  }
}

/** Whether stored wire attributes carry a master tuple (NTA_MASTER_IPV4 = 8 / _IPV6 = 9). */
function hasMaster(attrs: string): boolean {
  for (let o = 0; o + 4 <= attrs.length;) {
    const len = (attrs.charCodeAt(o) << 8) | attrs.charCodeAt(o + 1);
    const id = (attrs.charCodeAt(o + 2) << 8) | attrs.charCodeAt(o + 3);
    if (id === 8 || id === 9) return true;
    if (len < 4) return false;
    o += (len + 3) & ~3;
  }
  return false;
}
