// Does the kernel have user-space conntrack helper support (nfnetlink_cthelper)? Asked the way
// conntrackd's helper set-up talks to it: a request to NFNL_SUBSYS_CTHELPER. A kernel without the
// subsystem answers EINVAL (nfnetlink knows no such subsystem); one with it answers the dump.
import { NlWriter } from './attr.js';
import { AF_UNSPEC, NLMSG_DONE, NLMSG_ERROR, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST } from './constants.js';
import { decodeError, forEachMessage } from './nlmsg.js';
import { NetlinkSocket, errnoName } from './socket.js';

/** nfnetlink subsystem of user-space helpers, and its "get" message (linux/netfilter/nfnetlink*.h). */
export const NFNL_SUBSYS_CTHELPER = 9;
export const NFNL_MSG_CTHELPER_GET = 1;

export type CthelperSupport = { supported: true } | { supported: false; reason: string };

/** The dump request for every user-space helper the kernel has. */
export function cthelperDumpRequest(seq: number): Buffer {
  const w = new NlWriter(64);
  w.beginNf(
    (NFNL_SUBSYS_CTHELPER << 8) | NFNL_MSG_CTHELPER_GET,
    NLM_F_REQUEST | NLM_F_DUMP | NLM_F_ACK,
    seq,
    AF_UNSPEC,
  );
  w.end();
  return Buffer.from(w.bytes());
}

/** Reads one datagram of the answer: the verdict once known, else undefined (more to read). */
export function cthelperVerdict(buf: Buffer, length: number, seq: number): CthelperSupport | undefined {
  let verdict: CthelperSupport | undefined;
  forEachMessage(buf, length, (h) => {
    if (h.seq !== seq) return true;
    if (h.type === NLMSG_ERROR) {
      const e = decodeError(buf, h);
      verdict =
        e.errno === 0
          ? { supported: true }
          : { supported: false, reason: `NFNL_SUBSYS_CTHELPER answered ${errnoName(e.errno)}` };
      return false;
    }
    if (h.type === NLMSG_DONE || h.type >> 8 === NFNL_SUBSYS_CTHELPER) {
      verdict = { supported: true };
      return false;
    }
    return true;
  });
  return verdict;
}

/** Asks the kernel (blocking, at most `timeoutMs`): for start-up and `config check`, never in a loop. */
export function probeCthelperSupport(timeoutMs = 2000): CthelperSupport {
  let socket: NetlinkSocket;
  try {
    socket = new NetlinkSocket();
  } catch (err) {
    return { supported: false, reason: `no netfilter netlink socket (${(err as Error).message})` };
  }
  try {
    const seq = 1;
    socket.send(cthelperDumpRequest(seq), 'cthelper probe');
    const rx = Buffer.allocUnsafe(64 * 1024);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0 || !socket.waitReadable(left))
        return { supported: false, reason: 'NFNL_SUBSYS_CTHELPER did not answer' };
      const n = socket.recv(rx);
      if (n < 0) return { supported: false, reason: `reading the answer failed: ${errnoName(-n)}` };
      const verdict = cthelperVerdict(rx, Math.min(n, rx.length), seq);
      if (verdict) return verdict;
    }
  } catch (err) {
    return { supported: false, reason: (err as Error).message };
  } finally {
    socket.close();
  }
}
