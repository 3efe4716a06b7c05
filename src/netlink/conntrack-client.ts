// Conntrack operations on the kernel table over one netlink socket: dump, get, batched create,
// update, delete, flush, statistics. Encoding/decoding lives in ctnetlink.ts; this file owns the
// request/reply bookkeeping.
import {
  AF_UNSPEC, CTA, CTA_STATS, CTA_STATS_GLOBAL, IPCTNL_MSG_CT_DELETE, IPCTNL_MSG_CT_GET,
  IPCTNL_MSG_CT_GET_STATS, IPCTNL_MSG_CT_GET_STATS_CPU, IPCTNL_MSG_CT_NEW, NFGENMSG_LEN,
  NFNL_SUBSYS_CTNETLINK, NLMSG_DONE, NLMSG_ERROR, NLMSG_HDRLEN, NLMSG_NOOP, NLM_F_ACK, NLM_F_CREATE,
  NLM_F_DUMP, NLM_F_DUMP_INTR, NLM_F_EXCL, NLM_F_REQUEST,
} from './constants.js';
import { NlWriter, forEachAttr } from './attr.js';
import { NlHeader, decodeError, forEachMessage } from './nlmsg.js';
import { NetlinkError, NetlinkSocket, describeErrno, errno, errnoName } from './socket.js';
import {
  EntryEncodeError, RequestOptions, decodeConntrack, writeCreateAttrs, writeIdentity, writeUpdateAttrs,
} from './ctnetlink.js';
import type { Entry } from '../conntrack/entry.js';

export const CT_MSG = (msg: number): number => (NFNL_SUBSYS_CTNETLINK << 8) | msg;

export interface DumpFilter {
  /** 2 (ipv4) or 10 (ipv6); the kernel filters by family, we check again. */
  family?: number;
  mark?: number;
  markMask?: number;
  zone?: number;
}

export interface CreateFailure {
  /** Position of the entry in the input (0-based). */
  index: number;
  entry: Entry;
  errno: number;
  reason: string;
}

export interface CreateResult {
  created: number;
  /** Entries that were already in the table (EEXIST) and left alone. */
  existing: number;
  /** Entries that existed and were deleted and created again (`replace: true`). */
  replaced: number;
  failed: CreateFailure[];
}

export interface CreateOptions extends RequestOptions {
  /** Delete and re-create entries that already exist, instead of reporting them. */
  replace?: boolean;
  /** Called once per finished batch with the running totals (progress display). */
  onProgress?: (done: number) => void;
}

/** Per-entry results of one batch: errno (0 ok, -1 not encodable) and any kernel/encoder message. */
interface BatchOutcome {
  errnos: number[];
  messages: Map<number, string>;
}

export interface CpuStats {
  cpu: number;
  [counter: string]: number;
}

export interface ClientOptions {
  /**
   * Wait for replies by blocking the thread in poll(): fastest for one-shot CLI commands; the
   * daemon leaves this off and waits on the event loop.
   */
  blocking?: boolean;
  rcvbuf?: number;
  sndbuf?: number;
}

/** CTA_STATS_* attribute -> the name `conntrack -S` prints. */
const CPU_STAT_NAMES: Record<number, string> = {
  [CTA_STATS.SEARCHED]: 'searched', [CTA_STATS.FOUND]: 'found', [CTA_STATS.NEW]: 'new',
  [CTA_STATS.INVALID]: 'invalid', [CTA_STATS.IGNORE]: 'ignore', [CTA_STATS.DELETE]: 'delete',
  [CTA_STATS.DELETE_LIST]: 'delete_list', [CTA_STATS.INSERT]: 'insert',
  [CTA_STATS.INSERT_FAILED]: 'insert_failed', [CTA_STATS.DROP]: 'drop',
  [CTA_STATS.EARLY_DROP]: 'early_drop', [CTA_STATS.ERROR]: 'error',
  [CTA_STATS.SEARCH_RESTART]: 'search_restart', [CTA_STATS.CLASH_RESOLVE]: 'clash_resolve',
  [CTA_STATS.CHAIN_TOOLONG]: 'chaintoolong',
};

/** Bytes of requests per sendmsg in a batch; the kernel processes them all inside that call. */
const BATCH_BYTES = 256 * 1024;
/**
 * Requests per batch. Bounds the replies queued at once: every error reply costs the receive
 * buffer about one kilobyte of skb truesize, and an overrun there would lose results.
 */
const BATCH_MAX_MESSAGES = 2048;
const RCVBUF = 8 * 1024 * 1024;
const SNDBUF = 4 * 1024 * 1024;

export class ConntrackClient {
  readonly socket: NetlinkSocket;
  private readonly rx = Buffer.allocUnsafe(1024 * 1024);
  private readonly w = new NlWriter(BATCH_BYTES + 64 * 1024);
  private seq = (Date.now() / 1000) >>> 0;
  private readonly blocking: boolean;
  private waiter: (() => void) | undefined;

  constructor(opts: ClientOptions = {}) {
    this.socket = new NetlinkSocket({ rcvbuf: opts.rcvbuf ?? RCVBUF, sndbuf: opts.sndbuf ?? SNDBUF });
    this.blocking = opts.blocking ?? false;
  }

  /** Port id of our socket: events caused by our requests carry it (used to skip our own echoes). */
  get portId(): number {
    return this.socket.portId;
  }

  close(): void {
    this.socket.close();
  }

  private nextSeq(): number {
    this.seq = (this.seq + 1) >>> 0;
    return this.seq;
  }

  private async readable(): Promise<void> {
    if (this.blocking) {
      this.socket.waitReadable(-1);
      return;
    }
    await new Promise<void>((resolve) => {
      this.waiter = resolve;
      this.socket.onReadable(() => {
        // level-triggered: stop watching until someone waits again, or idle data would spin
        this.socket.stopReading();
        const w = this.waiter;
        this.waiter = undefined;
        w?.();
      });
    });
  }

  /**
   * Receives datagrams, calling `onMessage` for each message, until it returns true.
   * Throws NetlinkError on a socket error (ENOBUFS included: replies were lost).
   */
  private async receive(what: string, onMessage: (h: NlHeader) => boolean): Promise<void> {
    const rx = this.rx;
    let finished = false;
    const visit = (h: NlHeader): boolean => {
      if (onMessage(h)) {
        finished = true;
        return false;
      }
      return true;
    };
    while (!finished) {
      const n = this.socket.recv(rx);
      if (n === -errno.EAGAIN) {
        await this.readable();
        continue;
      }
      if (n < 0) throw new NetlinkError(-n, what);
      if (n > rx.length) throw new NetlinkError(errno.EMSGSIZE, what, `reply of ${n} bytes truncated`);
      forEachMessage(rx, n, visit);
    }
  }

  /** Sends one request with ACK and waits for its answer; returns the reply messages' decoded entries. */
  private async simpleRequest(what: string, build: (w: NlWriter, seq: number) => void, onReply?: (h: NlHeader) => void): Promise<void> {
    const w = this.w;
    w.reset();
    const seq = this.nextSeq();
    build(w, seq);
    this.socket.send(w.bytes(), what);
    let failure: NetlinkError | undefined;
    await this.receive(what, (h) => {
      if (h.seq !== seq) return false;
      if (h.type === NLMSG_ERROR) {
        const e = decodeError(this.rx, h);
        if (e.errno !== 0) failure = new NetlinkError(e.errno, what, e.message);
        return true;
      }
      if (h.type === NLMSG_DONE) return true;
      onReply?.(h);
      return false;
    });
    if (failure) throw failure;
  }

  /**
   * Streams the table (or the filtered part) to `onEntry`; returns the count. The kernel filters
   * by family, mark and zone; entries are checked again here in case an older kernel did not.
   */
  async dump(filter: DumpFilter, onEntry: (e: Entry) => void): Promise<number> {
    const w = this.w;
    w.reset();
    const seq = this.nextSeq();
    w.beginNf(CT_MSG(IPCTNL_MSG_CT_GET), NLM_F_REQUEST | NLM_F_DUMP, seq, filter.family ?? AF_UNSPEC);
    if (filter.mark !== undefined) {
      w.u32be(CTA.MARK, filter.mark);
      w.u32be(CTA.MARK_MASK, filter.markMask ?? 0xffffffff);
    }
    if (filter.zone !== undefined) w.u16be(CTA.ZONE, filter.zone);
    w.end();
    this.socket.send(w.bytes(), 'conntrack dump');
    let count = 0;
    let failure: NetlinkError | undefined;
    let interrupted = false;
    const markMask = filter.markMask ?? 0xffffffff;
    await this.receive('conntrack dump', (h) => {
      if (h.seq !== seq) return false;
      if (h.type === NLMSG_DONE) return true;
      if (h.type === NLMSG_ERROR) {
        const e = decodeError(this.rx, h);
        if (e.errno !== 0) failure = new NetlinkError(e.errno, 'conntrack dump', e.message);
        return true;
      }
      if (h.flags & NLM_F_DUMP_INTR) interrupted = true;
      const e = decodeConntrack(this.rx, h.off, h.len);
      if (filter.family !== undefined && e.family !== filter.family) return false;
      if (filter.zone !== undefined && (e.zone ?? 0) !== filter.zone) return false;
      if (filter.mark !== undefined && ((e.mark ?? 0) & markMask) !== (filter.mark & markMask)) return false;
      count++;
      onEntry(e);
      return false;
    });
    if (failure) throw failure;
    if (interrupted) throw new NetlinkError(errno.EINTR, 'conntrack dump', 'the table changed during the dump (NLM_F_DUMP_INTR): dump again');
    return count;
  }

  async list(filter: DumpFilter = {}): Promise<Entry[]> {
    const out: Entry[] = [];
    await this.dump(filter, (e) => out.push(e));
    return out;
  }

  /** Looks up one entry by original tuple (and zone); undefined if it does not exist. */
  async get(e: Entry): Promise<Entry | undefined> {
    let found: Entry | undefined;
    try {
      await this.simpleRequest('conntrack get', (w, seq) => {
        w.beginNf(CT_MSG(IPCTNL_MSG_CT_GET), NLM_F_REQUEST | NLM_F_ACK, seq, e.family);
        writeIdentity(w, e);
        w.end();
      }, (h) => {
        found = decodeConntrack(this.rx, h.off, h.len);
      });
    } catch (err) {
      if (err instanceof NetlinkError && err.errno === errno.ENOENT) return undefined;
      throw err;
    }
    return found;
  }

  /**
   * Creates entries in batches (many requests per sendmsg). Successful creates send no reply (no
   * ACK flag), so only failures come back; a NOOP with ACK closes each batch as a fence: when its
   * ACK arrives, every reply of the batch has been read. Nothing is silently skipped: each entry
   * is counted as created, existing, replaced or failed with its reason.
   */
  async create(entries: Iterable<Entry>, opts: CreateOptions = {}): Promise<CreateResult> {
    const result: CreateResult = { created: 0, existing: 0, replaced: 0, failed: [] };
    const pending: Entry[] = [];
    const pendingIndex: number[] = [];
    const retry: Array<{ index: number; entry: Entry }> = [];
    let index = 0;
    const flush = async (): Promise<void> => {
      const outcomes = await this.sendBatch(pending, opts, NLM_F_CREATE | NLM_F_EXCL);
      for (let i = 0; i < pending.length; i++) {
        const err = outcomes.errnos[i];
        if (err === 0) result.created++;
        else if (err === errno.EEXIST && opts.replace) retry.push({ index: pendingIndex[i], entry: pending[i] });
        else if (err === errno.EEXIST) result.existing++;
        else result.failed.push(this.failure(pendingIndex[i], pending[i], err, outcomes.messages.get(i)));
      }
      pending.length = 0;
      pendingIndex.length = 0;
      opts.onProgress?.(result.created + result.existing + result.replaced + result.failed.length + retry.length);
    };
    for (const e of entries) {
      pending.push(e);
      pendingIndex.push(index++);
      if (pending.length >= BATCH_MAX_MESSAGES) await flush();
    }
    if (pending.length) await flush();
    if (retry.length) await this.replaceExisting(retry, opts, result);
    return result;
  }

  private failure(index: number, entry: Entry, err: number, message?: string): CreateFailure {
    if (err < 0) return { index, entry, errno: 0, reason: message ?? 'could not be encoded' };
    return { index, entry, errno: err, reason: `${errnoName(err)}: ${describeErrno(err)}${message ? ` (${message})` : ''}` };
  }

  /** Entries that already existed: delete them, then create them again, in batches. */
  private async replaceExisting(retry: Array<{ index: number; entry: Entry }>, opts: CreateOptions, result: CreateResult): Promise<void> {
    for (let start = 0; start < retry.length; start += BATCH_MAX_MESSAGES) {
      const slice = retry.slice(start, start + BATCH_MAX_MESSAGES);
      const batch = slice.map((r) => r.entry);
      await this.sendBatch(batch, opts, 0, IPCTNL_MSG_CT_DELETE); // ENOENT is fine: it just went away
      const outcomes = await this.sendBatch(batch, opts, NLM_F_CREATE | NLM_F_EXCL);
      for (let i = 0; i < slice.length; i++) {
        if (outcomes.errnos[i] === 0) result.replaced++;
        else result.failed.push(this.failure(slice[i].index, slice[i].entry, outcomes.errnos[i], outcomes.messages.get(i)));
      }
    }
  }

  /**
   * Sends one batch (create, update or delete) and returns per-entry outcomes: 0 ok, errno > 0,
   * or -1 when the entry could not be encoded (message in `.messages`).
   */
  private async sendBatch(batch: Entry[], opts: RequestOptions, flags: number, msg = IPCTNL_MSG_CT_NEW): Promise<BatchOutcome> {
    const outcomes: BatchOutcome = { errnos: new Array<number>(batch.length).fill(0), messages: new Map() };
    const w = this.w;
    const base = (this.seq + 1) >>> 0;
    let i = 0;
    while (i < batch.length) {
      w.reset();
      const first = i;
      for (; i < batch.length && w.off < BATCH_BYTES; i++) {
        const e = batch[i];
        const seq = (base + i) >>> 0;
        try {
          w.beginNf(CT_MSG(msg), NLM_F_REQUEST | flags, seq, e.family);
          if (msg !== IPCTNL_MSG_CT_NEW) writeIdentity(w, e);
          else if (flags & NLM_F_CREATE) writeCreateAttrs(w, e, opts);
          else writeUpdateAttrs(w, e, opts);
          w.end();
        } catch (err) {
          w.abort();
          outcomes.errnos[i] = -1;
          outcomes.messages.set(i, err instanceof EntryEncodeError ? err.message : String(err));
        }
      }
      if (w.off === 0) continue;
      const fence = (base + i) >>> 0;
      w.beginNf(NLMSG_NOOP, NLM_F_REQUEST | NLM_F_ACK, fence, AF_UNSPEC);
      w.end();
      this.seq = fence;
      this.socket.send(w.bytes(), 'conntrack batch');
      await this.receive('conntrack batch', (h) => {
        if (h.type !== NLMSG_ERROR) return false;
        const e = decodeError(this.rx, h);
        if (e.seq === fence) return true;
        const at = (e.seq - base) >>> 0;
        if (at >= first && at < i && e.errno !== 0) {
          outcomes.errnos[at] = e.errno;
          if (e.message) outcomes.messages.set(at, e.message);
        }
        return false;
      });
    }
    return outcomes;
  }

  /** Updates existing entries (CT_NEW without CREATE): timeout, mark, protocol state, labels. */
  async update(entries: Entry[], opts: RequestOptions = {}): Promise<{ updated: number; missing: number; failed: CreateFailure[] }> {
    const out = { updated: 0, missing: 0, failed: [] as CreateFailure[] };
    for (let start = 0; start < entries.length; start += BATCH_MAX_MESSAGES) {
      const batch = entries.slice(start, start + BATCH_MAX_MESSAGES);
      const outcomes = await this.sendBatch(batch, opts, 0);
      for (let i = 0; i < batch.length; i++) {
        const err = outcomes.errnos[i];
        if (err === 0) out.updated++;
        else if (err === errno.ENOENT) out.missing++;
        else out.failed.push(this.failure(start + i, batch[i], err, outcomes.messages.get(i)));
      }
    }
    return out;
  }

  /** Sets only the timeout of an existing entry. */
  async setTimeout(e: Entry, seconds: number): Promise<void> {
    await this.simpleRequest('conntrack update timeout', (w, seq) => {
      w.beginNf(CT_MSG(IPCTNL_MSG_CT_NEW), NLM_F_REQUEST | NLM_F_ACK, seq, e.family);
      writeIdentity(w, e);
      w.u32be(CTA.TIMEOUT, seconds);
      w.end();
    });
  }

  /** Deletes entries by original tuple; returns how many were deleted and which were missing. */
  async delete(entries: Entry[]): Promise<{ deleted: number; missing: number; failed: CreateFailure[] }> {
    const out = { deleted: 0, missing: 0, failed: [] as CreateFailure[] };
    for (let start = 0; start < entries.length; start += BATCH_MAX_MESSAGES) {
      const batch = entries.slice(start, start + BATCH_MAX_MESSAGES);
      const outcomes = await this.sendBatch(batch, {}, 0, IPCTNL_MSG_CT_DELETE);
      for (let i = 0; i < batch.length; i++) {
        const err = outcomes.errnos[i];
        if (err === 0) out.deleted++;
        else if (err === errno.ENOENT) out.missing++;
        else out.failed.push(this.failure(start + i, batch[i], err, outcomes.messages.get(i)));
      }
    }
    return out;
  }

  /** Flushes the whole table (or one family). */
  async flush(family = AF_UNSPEC): Promise<void> {
    await this.simpleRequest('conntrack flush', (w, seq) => {
      w.beginNf(CT_MSG(IPCTNL_MSG_CT_DELETE), NLM_F_REQUEST | NLM_F_ACK, seq, family);
      w.end();
    });
  }

  /** Number of entries in the table and the table limit (nf_conntrack_max). */
  async count(): Promise<{ entries: number; maxEntries?: number }> {
    const out: { entries: number; maxEntries?: number } = { entries: 0 };
    await this.simpleRequest('conntrack count', (w, seq) => {
      w.beginNf(CT_MSG(IPCTNL_MSG_CT_GET_STATS), NLM_F_REQUEST | NLM_F_ACK, seq, AF_UNSPEC);
      w.end();
    }, (h) => {
      forEachAttr(this.rx, h.off + NLMSG_HDRLEN + NFGENMSG_LEN, h.off + h.len, (t, p) => {
        if (t === CTA_STATS_GLOBAL.ENTRIES) out.entries = this.rx.readUInt32BE(p);
        else if (t === CTA_STATS_GLOBAL.MAX_ENTRIES) out.maxEntries = this.rx.readUInt32BE(p);
      });
    });
    return out;
  }

  /** Per-CPU counters, as `conntrack -S` prints them. */
  async cpuStats(): Promise<CpuStats[]> {
    const out: CpuStats[] = [];
    const seq = this.nextSeq();
    const w = this.w;
    w.reset();
    w.beginNf(CT_MSG(IPCTNL_MSG_CT_GET_STATS_CPU), NLM_F_REQUEST | NLM_F_DUMP, seq, AF_UNSPEC);
    w.end();
    this.socket.send(w.bytes(), 'conntrack stats');
    let failure: NetlinkError | undefined;
    await this.receive('conntrack stats', (h) => {
      if (h.seq !== seq) return false;
      if (h.type === NLMSG_DONE) return true;
      if (h.type === NLMSG_ERROR) {
        const e = decodeError(this.rx, h);
        if (e.errno) failure = new NetlinkError(e.errno, 'conntrack stats', e.message);
        return true;
      }
      const s: CpuStats = { cpu: this.rx.readUInt16BE(h.off + NLMSG_HDRLEN + 2) };
      forEachAttr(this.rx, h.off + NLMSG_HDRLEN + NFGENMSG_LEN, h.off + h.len, (t, p, len) => {
        const name = CPU_STAT_NAMES[t] ?? `attr${t}`;
        if (len >= 4) s[name] = this.rx.readUInt32BE(p);
      });
      out.push(s);
      return false;
    });
    if (failure) throw failure;
    return out;
  }
}
