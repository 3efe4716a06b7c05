// Conntrack and expectation operations on the kernel tables over one netlink socket: dump, get,
// batched create, update, delete, flush, statistics. Encoding/decoding lives in ctnetlink.ts and
// expect.ts; this file owns the request/reply bookkeeping, shared by both tables.
//
// Kernel facts about expectations (Linux 6.18, checked on a live kernel):
//  - EXP_DELETE without CTA_EXPECT_TUPLE flushes every expectation of the namespace whatever the
//    family in nfgenmsg says; flushExpect(family) therefore dumps that family and deletes each.
//  - An expectation needs a master conntrack with a helper (else EOPNOTSUPP; no master: ENOENT).
//    The helper's policy limits expectations per master (ftp: 1): creating one more silently
//    evicts the oldest, so a batch of two for one ftp master leaves only the second.
//  - CTA_EXPECT_TIMEOUT is ignored on create (the helper policy decides, ftp: 300 s); an EXP_NEW
//    without NLM_F_CREATE on an existing expectation sets it (updateExpect).
//  - The kernel needs CTA_EXPECT_TUPLE, MASK and MASTER on every EXP_NEW, updates included.
//  - Dumps carry no zone (CTA_EXPECT_ZONE is request-only), so a dumped expectation of a master
//    in a zone other than 0 cannot be created again from the dump alone.
//  - A dump's CTA_EXPECT_HELP_NAME is the master's helper. On create the kernel gives the
//    expectation (and so the expected connection) the master's helper; since upstream commit
//    917b61fa2042 ("netfilter: ctnetlink: ignore explicit helper on new expectations", 6.18.y and
//    stable) it ignores CTA_EXPECT_HELP_NAME, before that it looked the name up (unknown:
//    EOPNOTSUPP). Replaying a dumped helper name is thus the same as leaving it out, on both.
//  - There are expectation events for NEW and DESTROY only (never UPDATE).
import {
  AF_UNSPEC,
  CTA,
  CTA_STATS,
  CTA_STATS_EXP,
  CTA_STATS_GLOBAL,
  IPCTNL_MSG_CT_DELETE,
  IPCTNL_MSG_CT_GET,
  IPCTNL_MSG_CT_GET_STATS,
  IPCTNL_MSG_CT_GET_STATS_CPU,
  IPCTNL_MSG_CT_NEW,
  IPCTNL_MSG_EXP_DELETE,
  IPCTNL_MSG_EXP_GET,
  IPCTNL_MSG_EXP_GET_STATS_CPU,
  IPCTNL_MSG_EXP_NEW,
  NFGENMSG_LEN,
  NFNL_SUBSYS_CTNETLINK,
  NFNL_SUBSYS_CTNETLINK_EXP,
  NLMSG_DONE,
  NLMSG_ERROR,
  NLMSG_HDRLEN,
  NLM_F_ACK,
  NLM_F_CREATE,
  NLM_F_DUMP,
  NLM_F_DUMP_INTR,
  NLM_F_EXCL,
  NLM_F_REQUEST,
} from './constants.js';
import { NlWriter, forEachAttr } from './attr.js';
import { BATCH_BYTES, BATCH_MAX_MESSAGES, RX_SLOT, runBatch, type BatchChannel, type BatchOutcome } from './batch.js';
import { NlHeader, decodeError, forEachMessage } from './nlmsg.js';
import { NetlinkError, NetlinkSocket, describeErrno, errno, errnoName } from './socket.js';
import {
  EntryEncodeError,
  RequestOptions,
  decodeConntrack,
  writeCreateAttrs,
  writeIdentity,
  writeUpdateAttrs,
} from './ctnetlink.js';
import { decodeExpect, writeExpectCreateAttrs, writeExpectIdentity } from './expect.js';
import type { Entry, Expect } from '../conntrack/entry.js';

export const CT_MSG = (msg: number): number => (NFNL_SUBSYS_CTNETLINK << 8) | msg;
export const EXP_MSG = (msg: number): number => (NFNL_SUBSYS_CTNETLINK_EXP << 8) | msg;

export interface DumpFilter {
  /** 2 (ipv4) or 10 (ipv6); the kernel filters by family, we check again. */
  family?: number;
  mark?: number;
  markMask?: number;
  zone?: number;
}

export interface ExpectDumpFilter {
  /** 2 (ipv4) or 10 (ipv6); the kernel filters by family, we check again. */
  family?: number;
}

/** One entry (or expectation) the kernel refused or that could not be encoded. */
export interface CreateFailure<T = Entry> {
  /** Position of the entry in the input (0-based). */
  index: number;
  entry: T;
  /** 0 when the entry could not be encoded (nothing was sent). */
  errno: number;
  reason: string;
}

export interface CreateResult<T = Entry> {
  created: number;
  /** Entries that were already in the table (EEXIST) and left alone. */
  existing: number;
  /** Entries that existed and were deleted and created again (`replace: true`). */
  replaced: number;
  failed: CreateFailure<T>[];
}

export interface CreateOptions extends RequestOptions {
  /** Delete and re-create entries that already exist, instead of reporting them. */
  replace?: boolean;
  /** Called once per finished batch with the running totals (progress display). */
  onProgress?: (done: number) => void;
}

/** Options of createExpect: RequestOptions do not apply to expectations. */
export type ExpectCreateOptions = Pick<CreateOptions, 'replace' | 'onProgress'>;

/** Per-entry results of one batch: errno (0 ok, -1 not encodable) and any kernel/encoder message. */

type BatchOp = 'create' | 'update' | 'delete';

/** What differs between conntrack entries and expectations in batched requests. */
interface TableKind<T extends { family: number }> {
  /** For messages: 'conntrack' or 'expectation'. */
  what: string;
  newType: number;
  deleteType: number;
  /** Attributes of a create request (NLM_F_CREATE|NLM_F_EXCL). */
  writeCreate(w: NlWriter, x: T, opts: RequestOptions): void;
  /** Attributes of an update request (NEW without NLM_F_CREATE). */
  writeUpdate(w: NlWriter, x: T, opts: RequestOptions): void;
  /** Attributes naming one object (get / delete). */
  writeIdentity(w: NlWriter, x: T): void;
  /** What an errno means for this table, added to failure reasons. */
  hints?: Record<number, string>;
}

const CONNTRACK: TableKind<Entry> = {
  what: 'conntrack',
  newType: CT_MSG(IPCTNL_MSG_CT_NEW),
  deleteType: CT_MSG(IPCTNL_MSG_CT_DELETE),
  writeCreate: writeCreateAttrs,
  writeUpdate: writeUpdateAttrs,
  writeIdentity,
};

/**
 * An expectation update changes nothing but the timeout, yet the kernel wants tuple, mask and
 * master in it like a create; the helper is left out (a create-only attribute).
 */
function writeExpectUpdateAttrs(w: NlWriter, x: Expect, opts: RequestOptions): void {
  const timeout = opts.timeout ?? x.timeout;
  if (timeout === undefined)
    throw new EntryEncodeError('timeout: missing (the timeout is all an update of an expectation can change)');
  writeExpectCreateAttrs(w, { ...x, timeout, helper: undefined });
}

const EXPECTATION: TableKind<Expect> = {
  what: 'expectation',
  newType: EXP_MSG(IPCTNL_MSG_EXP_NEW),
  deleteType: EXP_MSG(IPCTNL_MSG_EXP_DELETE),
  writeCreate: (w, x) => writeExpectCreateAttrs(w, x),
  writeUpdate: writeExpectUpdateAttrs,
  writeIdentity: writeExpectIdentity,
  hints: {
    [errno.ENOENT]: 'no master conntrack with this tuple (in this zone)',
    [errno.EOPNOTSUPP]: 'the master conntrack has no helper (or, on older kernels, the named helper is unknown)',
    [errno.ETIME]: 'the expectation expired meanwhile',
  },
};

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
  [CTA_STATS.SEARCHED]: 'searched',
  [CTA_STATS.FOUND]: 'found',
  [CTA_STATS.NEW]: 'new',
  [CTA_STATS.INVALID]: 'invalid',
  [CTA_STATS.IGNORE]: 'ignore',
  [CTA_STATS.DELETE]: 'delete',
  [CTA_STATS.DELETE_LIST]: 'delete_list',
  [CTA_STATS.INSERT]: 'insert',
  [CTA_STATS.INSERT_FAILED]: 'insert_failed',
  [CTA_STATS.DROP]: 'drop',
  [CTA_STATS.EARLY_DROP]: 'early_drop',
  [CTA_STATS.ERROR]: 'error',
  [CTA_STATS.SEARCH_RESTART]: 'search_restart',
  [CTA_STATS.CLASH_RESOLVE]: 'clash_resolve',
  [CTA_STATS.CHAIN_TOOLONG]: 'chaintoolong',
};

/** CTA_STATS_EXP_* attribute -> the name `conntrack -S expect` prints. */
const EXP_STAT_NAMES: Record<number, string> = {
  [CTA_STATS_EXP.NEW]: 'expect_new',
  [CTA_STATS_EXP.CREATE]: 'expect_create',
  [CTA_STATS_EXP.DELETE]: 'expect_delete',
};

/** What a streaming dump hands its callback, as an array. */
async function collect<T>(dump: (onItem: (x: T) => void) => Promise<number>): Promise<T[]> {
  const out: T[] = [];
  await dump((x) => out.push(x));
  return out;
}

const RCVBUF = 8 * 1024 * 1024;
const SNDBUF = 4 * 1024 * 1024;

export class ConntrackClient {
  readonly socket: NetlinkSocket;
  private readonly rx = Buffer.allocUnsafe(1024 * 1024);
  /** Datagram lengths of a batch's replies (runBatch reads them RX_SLOT bytes each). */
  private readonly rxLengths = new Int32Array((1024 * 1024) / RX_SLOT);
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

  // Several callers may use one client at once (the daemon's control requests, an overrun
  // resync, the flows picked up after a commit). Their exchanges do not interleave: the kernel
  // queues a request's replies (and each next part of a dump) before send/recv returns, so an
  // exchange normally runs to its end without yielding in readable().

  /** Sends one request with ACK and waits for its answer; `onReply` sees each reply message. */
  private async simpleRequest(
    what: string,
    build: (w: NlWriter, seq: number) => void,
    onReply?: (h: NlHeader) => void,
  ): Promise<void> {
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
   * Sends one NLM_F_DUMP request of `type` and passes every reply message to `onMessage` until
   * NLMSG_DONE. Throws NetlinkError on an error reply, and EINTR when the kernel flagged the dump
   * as inconsistent (NLM_F_DUMP_INTR: the table changed meanwhile).
   */
  private async dumpRequest(
    what: string,
    type: number,
    family: number,
    attrs: ((w: NlWriter) => void) | undefined,
    onMessage: (h: NlHeader) => void,
  ): Promise<void> {
    const w = this.w;
    w.reset();
    const seq = this.nextSeq();
    w.beginNf(type, NLM_F_REQUEST | NLM_F_DUMP, seq, family);
    attrs?.(w);
    w.end();
    this.socket.send(w.bytes(), what);
    let failure: NetlinkError | undefined;
    let interrupted = false;
    await this.receive(what, (h) => {
      if (h.seq !== seq) return false;
      if (h.type === NLMSG_DONE) return true;
      if (h.type === NLMSG_ERROR) {
        const e = decodeError(this.rx, h);
        if (e.errno !== 0) failure = new NetlinkError(e.errno, what, e.message);
        return true;
      }
      if (h.flags & NLM_F_DUMP_INTR) interrupted = true;
      onMessage(h);
      return false;
    });
    if (failure) throw failure;
    if (interrupted)
      throw new NetlinkError(errno.EINTR, what, 'the table changed during the dump (NLM_F_DUMP_INTR): dump again');
  }

  /**
   * Streams the table (or the filtered part) to `onEntry`; returns the count. The kernel filters
   * by family, mark and zone; entries are checked again here in case an older kernel did not.
   */
  async dump(filter: DumpFilter, onEntry: (e: Entry) => void): Promise<number> {
    let count = 0;
    const markMask = filter.markMask ?? 0xffffffff;
    await this.dumpRequest(
      'conntrack dump',
      CT_MSG(IPCTNL_MSG_CT_GET),
      filter.family ?? AF_UNSPEC,
      (w) => {
        if (filter.mark !== undefined) {
          w.u32be(CTA.MARK, filter.mark);
          w.u32be(CTA.MARK_MASK, markMask);
        }
        if (filter.zone !== undefined) w.u16be(CTA.ZONE, filter.zone);
      },
      (h) => {
        const e = decodeConntrack(this.rx, h.off, h.len);
        if (filter.family !== undefined && e.family !== filter.family) return;
        if (filter.zone !== undefined && (e.zone ?? 0) !== filter.zone) return;
        if (filter.mark !== undefined && ((e.mark ?? 0) & markMask) !== (filter.mark & markMask)) return;
        count++;
        onEntry(e);
      },
    );
    return count;
  }

  list(filter: DumpFilter = {}): Promise<Entry[]> {
    return collect((onEntry) => this.dump(filter, onEntry));
  }

  /** Looks up one entry by original tuple (and zone); undefined if it does not exist. */
  async get(e: Entry): Promise<Entry | undefined> {
    return this.getOne(CONNTRACK, CT_MSG(IPCTNL_MSG_CT_GET), e, decodeConntrack);
  }

  private async getOne<T extends { family: number }>(
    kind: TableKind<T>,
    type: number,
    x: T,
    decode: (buf: Buffer, off: number, len: number) => T,
  ): Promise<T | undefined> {
    let found: T | undefined;
    try {
      await this.simpleRequest(
        `${kind.what} get`,
        (w, seq) => {
          w.beginNf(type, NLM_F_REQUEST | NLM_F_ACK, seq, x.family);
          kind.writeIdentity(w, x);
          w.end();
        },
        (h) => {
          found = decode(this.rx, h.off, h.len);
        },
      );
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
    return this.createBatched(CONNTRACK, entries, opts);
  }

  private async createBatched<T extends { family: number }>(
    kind: TableKind<T>,
    items: Iterable<T>,
    opts: CreateOptions,
  ): Promise<CreateResult<T>> {
    const result: CreateResult<T> = { created: 0, existing: 0, replaced: 0, failed: [] };
    const pending: T[] = [];
    const pendingIndex: number[] = [];
    const retry: Array<{ index: number; entry: T }> = [];
    let index = 0;
    const flush = async (): Promise<void> => {
      const outcomes = await this.sendBatch(kind, 'create', pending, opts);
      for (let i = 0; i < pending.length; i++) {
        const err = outcomes.errnos[i];
        if (err === 0) result.created++;
        else if (err === errno.EEXIST && opts.replace) retry.push({ index: pendingIndex[i], entry: pending[i] });
        else if (err === errno.EEXIST) result.existing++;
        else result.failed.push(this.failure(kind, pendingIndex[i], pending[i], err, outcomes.messages.get(i)));
      }
      pending.length = 0;
      pendingIndex.length = 0;
      opts.onProgress?.(result.created + result.existing + result.replaced + result.failed.length + retry.length);
    };
    for (const e of items) {
      pending.push(e);
      pendingIndex.push(index++);
      if (pending.length >= BATCH_MAX_MESSAGES) await flush();
    }
    if (pending.length) await flush();
    if (retry.length) await this.replaceExisting(kind, retry, opts, result);
    return result;
  }

  private failure<T extends { family: number }>(
    kind: TableKind<T>,
    index: number,
    entry: T,
    err: number,
    message?: string,
  ): CreateFailure<T> {
    if (err < 0) return { index, entry, errno: 0, reason: message ?? 'could not be encoded' };
    const hint = kind.hints?.[err];
    return {
      index,
      entry,
      errno: err,
      reason: `${errnoName(err)}: ${describeErrno(err)}${hint ? `: ${hint}` : ''}${message ? ` (${message})` : ''}`,
    };
  }

  /** Entries that already existed: delete them, then create them again, in batches. */
  private async replaceExisting<T extends { family: number }>(
    kind: TableKind<T>,
    retry: Array<{ index: number; entry: T }>,
    opts: CreateOptions,
    result: CreateResult<T>,
  ): Promise<void> {
    for (let start = 0; start < retry.length; start += BATCH_MAX_MESSAGES) {
      const slice = retry.slice(start, start + BATCH_MAX_MESSAGES);
      const batch = slice.map((r) => r.entry);
      await this.sendBatch(kind, 'delete', batch, opts); // ENOENT is fine: it just went away
      const outcomes = await this.sendBatch(kind, 'create', batch, opts);
      for (let i = 0; i < slice.length; i++) {
        if (outcomes.errnos[i] === 0) result.replaced++;
        else
          result.failed.push(
            this.failure(kind, slice[i].index, slice[i].entry, outcomes.errnos[i], outcomes.messages.get(i)),
          );
      }
    }
  }

  /**
   * Sends one batch (create, update or delete) and returns per-entry outcomes: 0 ok, errno > 0,
   * or -1 when the entry could not be encoded (message in `.messages`).
   */
  private async sendBatch<T extends { family: number }>(
    kind: TableKind<T>,
    op: BatchOp,
    batch: T[],
    opts: RequestOptions,
  ): Promise<BatchOutcome> {
    const type = op === 'delete' ? kind.deleteType : kind.newType;
    const flags = NLM_F_REQUEST | (op === 'create' ? NLM_F_CREATE | NLM_F_EXCL : 0);
    const channel: BatchChannel = {
      socket: this.socket,
      rx: this.rx,
      rxLengths: this.rxLengths,
      w: this.w,
      wait: () => this.readable(),
    };
    const { outcome, lastSeq } = await runBatch(channel, batch.length, this.seq + 1, (w, i, seq) => {
      const e = batch[i];
      w.beginNf(type, flags, seq, e.family);
      if (op === 'create') kind.writeCreate(w, e, opts);
      else if (op === 'update') kind.writeUpdate(w, e, opts);
      else kind.writeIdentity(w, e);
      w.end();
    });
    this.seq = lastSeq;
    return outcome;
  }

  /** Update or delete in batches: each entry done, missing (ENOENT) or failed with its reason. */
  private async applyBatched<T extends { family: number }>(
    kind: TableKind<T>,
    op: 'update' | 'delete',
    list: T[],
    opts: RequestOptions,
  ): Promise<{ done: number; missing: number; missingAt: number[]; failed: CreateFailure<T>[] }> {
    const out = { done: 0, missing: 0, missingAt: [] as number[], failed: [] as CreateFailure<T>[] };
    for (let start = 0; start < list.length; start += BATCH_MAX_MESSAGES) {
      const batch = list.slice(start, start + BATCH_MAX_MESSAGES);
      const outcomes = await this.sendBatch(kind, op, batch, opts);
      for (let i = 0; i < batch.length; i++) {
        const err = outcomes.errnos[i];
        if (err === 0) out.done++;
        else if (err === errno.ENOENT) {
          out.missing++;
          out.missingAt.push(start + i);
        } else out.failed.push(this.failure(kind, start + i, batch[i], err, outcomes.messages.get(i)));
      }
    }
    return out;
  }

  /**
   * Updates existing entries (CT_NEW without CREATE): timeout, mark, protocol state, labels.
   * `missingAt`: the positions of the entries the kernel did not have.
   */
  async update(
    entries: Entry[],
    opts: RequestOptions = {},
  ): Promise<{ updated: number; missing: number; missingAt: number[]; failed: CreateFailure[] }> {
    const { done, missing, missingAt, failed } = await this.applyBatched(CONNTRACK, 'update', entries, opts);
    return { updated: done, missing, missingAt, failed };
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
    const { done, missing, failed } = await this.applyBatched(CONNTRACK, 'delete', entries, {});
    return { deleted: done, missing, failed };
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
    await this.simpleRequest(
      'conntrack count',
      (w, seq) => {
        w.beginNf(CT_MSG(IPCTNL_MSG_CT_GET_STATS), NLM_F_REQUEST | NLM_F_ACK, seq, AF_UNSPEC);
        w.end();
      },
      (h) => {
        forEachAttr(this.rx, h.off + NLMSG_HDRLEN + NFGENMSG_LEN, h.off + h.len, (t, p) => {
          if (t === CTA_STATS_GLOBAL.ENTRIES) out.entries = this.rx.readUInt32BE(p);
          else if (t === CTA_STATS_GLOBAL.MAX_ENTRIES) out.maxEntries = this.rx.readUInt32BE(p);
        });
      },
    );
    return out;
  }

  /** Per-CPU counters, as `conntrack -S` prints them. */
  async cpuStats(): Promise<CpuStats[]> {
    return this.statsDump('conntrack stats', CT_MSG(IPCTNL_MSG_CT_GET_STATS_CPU), CPU_STAT_NAMES);
  }

  /** One message per CPU (CPU number in nfgenmsg res_id), u32 counters named by `names`. */
  private async statsDump(what: string, type: number, names: Record<number, string>): Promise<CpuStats[]> {
    const out: CpuStats[] = [];
    await this.dumpRequest(what, type, AF_UNSPEC, undefined, (h) => {
      const s: CpuStats = { cpu: this.rx.readUInt16BE(h.off + NLMSG_HDRLEN + 2) };
      forEachAttr(this.rx, h.off + NLMSG_HDRLEN + NFGENMSG_LEN, h.off + h.len, (t, p, len) => {
        const name = names[t] ?? `attr${t}`;
        if (len >= 4) s[name] = this.rx.readUInt32BE(p);
      });
      out.push(s);
    });
    return out;
  }

  // ------------------------------------------------------------ expectations

  /** Streams the expectation table (or one family of it) to `onExpect`; returns the count. */
  async dumpExpect(filter: ExpectDumpFilter, onExpect: (x: Expect) => void): Promise<number> {
    let count = 0;
    await this.dumpRequest(
      'expectation dump',
      EXP_MSG(IPCTNL_MSG_EXP_GET),
      filter.family ?? AF_UNSPEC,
      undefined,
      (h) => {
        const x = decodeExpect(this.rx, h.off, h.len);
        if (filter.family !== undefined && x.family !== filter.family) return;
        count++;
        onExpect(x);
      },
    );
    return count;
  }

  listExpect(filter: ExpectDumpFilter = {}): Promise<Expect[]> {
    return collect((onExpect) => this.dumpExpect(filter, onExpect));
  }

  /** Looks up one expectation by its tuple (and zone); undefined if there is none. */
  async getExpect(x: Expect): Promise<Expect | undefined> {
    return this.getOne(EXPECTATION, EXP_MSG(IPCTNL_MSG_EXP_GET), x, decodeExpect);
  }

  /**
   * Creates expectations in batches, like create(): each one is counted as created, existing
   * (EEXIST), replaced (`replace: true`) or failed with its reason. Each needs its master conntrack
   * (with a helper) in the table. `helper` is sent as given (recent kernels ignore it and use the
   * master's helper, which is also what a dump reports). The kernel ignores the timeout on create
   * (the helper's policy decides); updateExpect sets it.
   */
  async createExpect(list: Iterable<Expect>, opts: ExpectCreateOptions = {}): Promise<CreateResult<Expect>> {
    return this.createBatched(EXPECTATION, list, { replace: opts.replace, onProgress: opts.onProgress });
  }

  /**
   * Sets the timeout of existing expectations (the only thing the kernel lets an update change);
   * expectations without a timeout fail with the reason. Missing ones are counted (ENOENT).
   */
  async updateExpect(list: Expect[]): Promise<{ updated: number; missing: number; failed: CreateFailure<Expect>[] }> {
    const { done, missing, failed } = await this.applyBatched(EXPECTATION, 'update', list, {});
    return { updated: done, missing, failed };
  }

  /** Deletes expectations by tuple (and zone); returns how many were deleted and which were missing. */
  async deleteExpect(list: Expect[]): Promise<{ deleted: number; missing: number; failed: CreateFailure<Expect>[] }> {
    const { done, missing, failed } = await this.applyBatched(EXPECTATION, 'delete', list, {});
    return { deleted: done, missing, failed };
  }

  /**
   * Deletes every expectation, or those of one family. The kernel's flush ignores the family
   * (an EXP_DELETE without a tuple empties the whole table), so one family is dumped and its
   * expectations deleted one by one; one that expires meanwhile is not an error. Returns the
   * number deleted (unknown, -1, for a whole-table flush: the kernel does not say).
   */
  async flushExpect(family = AF_UNSPEC): Promise<number> {
    if (family === AF_UNSPEC) {
      await this.simpleRequest('expectation flush', (w, seq) => {
        w.beginNf(EXP_MSG(IPCTNL_MSG_EXP_DELETE), NLM_F_REQUEST | NLM_F_ACK, seq, AF_UNSPEC);
        w.end();
      });
      return -1;
    }
    const list = await this.listExpect({ family });
    const r = await this.deleteExpect(list);
    if (r.failed.length) {
      const f = r.failed[0];
      throw new NetlinkError(
        f.errno || errno.EINVAL,
        'expectation flush',
        `${r.failed.length} expectation(s) could not be deleted, first: ${f.reason}`,
      );
    }
    return r.deleted;
  }

  /** Per-CPU expectation counters, as `conntrack -S expect` prints them. */
  async expectStats(): Promise<CpuStats[]> {
    return this.statsDump('expectation stats', EXP_MSG(IPCTNL_MSG_EXP_GET_STATS_CPU), EXP_STAT_NAMES);
  }
}
