// One external cache entry into the kernel, now (commit on demand, on-demand-commit.ts): the
// commit encoder's create request, on a netlink socket of its own, answered in the same system
// call (the kernel handles a netlink request in the sender's sendmsg). An entry that exists
// (the bulk commit or a packet was first) is left as it is: the bulk commit meets it and
// updates it in place as it does any entry the kernel has.
import { NlWriter } from '../netlink/attr.js';
import {
  IPCTNL_MSG_CT_NEW,
  NFNL_SUBSYS_CTNETLINK,
  NLM_F_ACK,
  NLM_F_CREATE,
  NLM_F_EXCL,
  NLM_F_REQUEST,
} from '../netlink/constants.js';
import { decodeError, forEachMessage, isError } from '../netlink/nlmsg.js';
import { errno, NetlinkSocket } from '../netlink/socket.js';
import type { ArenaCache } from '../cache/arena-cache.js';
import { scanTimeout, scannedFamily, writeScannedCreate } from './commit-encoder.js';

export interface EntryCommitOptions {
  /** CommitTimeout; without it, what is left of the peer's timeout (at least 60 s, as the bulk). */
  commitTimeout?: number;
  /** TCP window tracking off: the entry is created liberal. */
  liberal: boolean;
}

/** Creates one cached entry in the kernel; returns 0 or the errno (EEXIST: it was there). */
export interface EntryCommitPort {
  commit(cache: ArenaCache, handle: number, nowSeconds: number): number;
  close(): void;
}

const MIN_TIMEOUT_S = 60;

export class EntryCommitter implements EntryCommitPort {
  private readonly sock = new NetlinkSocket({ rcvbuf: 1 << 16 });
  private readonly w = new NlWriter(1024);
  private readonly rx = Buffer.alloc(8192);
  private seq = 1;

  constructor(private readonly opts: EntryCommitOptions) {}

  commit(cache: ArenaCache, handle: number, nowSeconds: number): number {
    const b = cache.buffer;
    const start = cache.attrsStart(handle);
    const cached = scanTimeout(b, start, start + cache.attrsLength(handle));
    let timeout = this.opts.commitTimeout ?? cached - (nowSeconds - cache.updatedOf(handle));
    if (this.opts.commitTimeout === undefined && (cached < 0 || timeout <= 0)) timeout = MIN_TIMEOUT_S;
    const w = this.w;
    w.reset();
    const seq = this.seq++;
    w.beginNf(
      (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW,
      NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
      seq,
      scannedFamily(),
    );
    if (!writeScannedCreate(w, b, { timeout, liberal: this.opts.liberal, update: false })) return errno.EINVAL;
    w.end();
    this.sock.send(w.bytes(), 'on-demand commit');
    const n = this.sock.recv(this.rx);
    if (n < 0) return -n;
    let result = errno.EIO;
    forEachMessage(this.rx, Math.min(n, this.rx.length), (h) => {
      if (isError(h)) {
        const e = decodeError(this.rx, h);
        if (e.seq === seq) result = e.errno;
      }
    });
    return result;
  }

  close(): void {
    this.sock.close();
  }
}
