// The sync paths, run once at start-up before the daemon joins its peer. V8 compiles the hot
// code (event transcoding, the caches, FT-FW, the datagram builder and the receive path) once it
// has run for a while; a daemon just started would otherwise replicate its first burst of flows
// in unoptimized code and compile in the middle of it (measured: the first 100k flows cost the
// primary ~0.2 s more CPU than the same flows a few minutes later; 5k flows of warm-up are
// enough).
//
// Two throwaway engines built from the daemon's own configuration, linked over the loopback
// interface, replicate synthetic flows the way two daemons do: kernel events on one side
// (new, updated, destroyed; through an event source like the daemon's, fed in place of the
// kernel), the other side's external cache. Real objects of the
// real classes all the way (the compiler specializes on object shapes: stand-ins would leave
// code optimized for shapes the daemon never uses). Nothing of theirs is left afterwards: their
// caches, sockets and timers go with them; the kernel table and the peer see nothing.
import dgram from 'node:dgram';
import type { CtsyncConfig, UdpChannel } from '../config/model.js';
import type { Entry } from '../conntrack/entry.js';
import { NlWriter } from '../netlink/attr.js';
import { IPCTNL_MSG_CT_DELETE, IPCTNL_MSG_CT_NEW, NFNL_SUBSYS_CTNETLINK, NLM_F_CREATE, NLM_F_EXCL } from '../netlink/constants.js';
import { writeDumpAttrs } from '../netlink/ctnetlink.js';
import { silentLogger } from '../log.js';
import { SyncEngine } from './sync-engine.js';

export interface WarmUpResult {
  /** Flows replicated (and resynced, and deleted) by the throwaway pair. */
  flows: number;
  ms: number;
  /** Why the warm-up did not run or stopped early (no loopback, a port in use, a timeout). */
  skipped?: string;
}

const LOCAL_A = '127.0.0.1';
const LOCAL_B = '127.0.0.2';
/** Events handed over per loop turn, so the link and FT-FW run in between as with real bursts. */
const EVENTS_PER_TURN = 512;

/**
 * A port free on both loopback addresses (the pair uses one port, as conntrackd's config does),
 * checked to carry a datagram from one to the other (the loopback interface may be down).
 */
async function loopbackPort(): Promise<number> {
  const rx = dgram.createSocket('udp4');
  const tx = dgram.createSocket('udp4');
  try {
    const bound = (s: dgram.Socket, address: string, port: number): Promise<number> => new Promise((resolve, reject) => {
      s.once('error', reject);
      s.bind(port, address, () => {
        s.off('error', reject);
        resolve(s.address().port);
      });
    });
    const port = await bound(tx, LOCAL_A, 0);
    await bound(rx, LOCAL_B, port);
    const arrived = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 200);
      rx.once('message', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    tx.send(Buffer.from('ctsync warm-up'), port, LOCAL_B);
    if (!(await arrived)) throw new Error(`no datagram from ${LOCAL_A} to ${LOCAL_B} (loopback down?)`);
    return port;
  } finally {
    rx.close();
    tx.close();
  }
}

/** The daemon's configuration with the link moved to the loopback pair and small caches. */
function pairConfig(config: CtsyncConfig, local: string, peer: string, port: number, flows: number): CtsyncConfig {
  const channel: UdpChannel = {
    kind: 'udp', default: true, ipv4Address: local, destination: peer, port, interface: 'lo', checksum: true,
    rcvSocketBuffer: 8 * 1024 * 1024,
  };
  return {
    ...config,
    general: { ...config.general, hashSize: Math.min(config.general.hashSize, 16384), hashLimit: Math.max(flows * 2, 1024) },
    sync: { ...config.sync, startupResync: false, channels: [channel] },
  };
}

/** Synthetic flows in the usual mix: TCP twice as often as UDP and ICMP, one in four IPv6. */
function sampleFlow(i: number): Entry {
  const v6 = (i >> 2) % 4 === 3;
  const proto = [6, 6, 17, v6 ? 58 : 1][i % 4];
  // documentation ranges; with the ports (or ICMP ids) every flow of the 64k is a new one
  const src = v6 ? `2001:db8::${(i & 0xffff).toString(16)}` : `198.51.100.${i & 255}`;
  const dst = v6 ? '2001:db8:1::1' : `203.0.113.${(i >> 8) & 255}`;
  const icmp = proto === 1 || proto === 58;
  const orig = icmp
    ? { src, dst, proto, icmpType: proto === 1 ? 8 : 128, icmpCode: 0, icmpId: i & 0xffff }
    : { src, dst, proto, sport: 1024 + (i % 60000), dport: proto === 6 ? 443 : 53 };
  const reply = icmp
    ? { src: dst, dst: src, proto, icmpType: proto === 1 ? 0 : 129, icmpCode: 0, icmpId: i & 0xffff }
    : { src: dst, dst: src, proto, sport: orig.dport!, dport: orig.sport! };
  return {
    family: v6 ? 10 : 2, orig, reply, id: 0x10000 + i, use: 1, status: proto === 6 ? 14 : 10, timeout: proto === 6 ? 431999 : 30,
    mark: i % 3 === 0 ? i & 0xff : 0,
    tcp: proto === 6 ? { state: 3, wscaleOrig: 7, wscaleReply: 7, flagsOrig: 0x23, flagsReply: 0x23 } : undefined,
  };
}

/** Waits (yielding to the event loop) until `done()`, at most `ms`; whether it came true. */
async function until(done: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!done()) {
    if (Date.now() > end) return false;
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  return true;
}

/**
 * Runs the sync paths over `flows` synthetic flows between two throwaway engines on the
 * loopback interface. Never throws: a warm-up that cannot run (loopback down, no free port)
 * says why in `skipped`, and the daemon starts as it would have without it.
 */
export async function warmUpSyncPaths(config: CtsyncConfig, flows = 5000): Promise<WarmUpResult> {
  const t0 = performance.now();
  const result = (skipped?: string): WarmUpResult => ({ flows, ms: performance.now() - t0, skipped });
  let a: SyncEngine | undefined;
  let b: SyncEngine | undefined;
  try {
    const port = await loopbackPort();
    a = new SyncEngine(pairConfig(config, LOCAL_A, LOCAL_B, port, flows), silentLogger());
    b = new SyncEngine(pairConfig(config, LOCAL_B, LOCAL_A, port, flows), silentLogger());
    await a.startLink();
    await b.startLink();
    const w = new NlWriter(1024 * 1024);
    // one event per datagram, as the kernel sends them
    const feed = async (type: 'NEW' | 'UPDATE' | 'DESTROY', entry: (i: number) => Entry): Promise<void> => {
      const msgType = (NFNL_SUBSYS_CTNETLINK << 8) | (type === 'DESTROY' ? IPCTNL_MSG_CT_DELETE : IPCTNL_MSG_CT_NEW);
      const flags = type === 'NEW' ? NLM_F_CREATE | NLM_F_EXCL : 0;
      for (let i = 0; i < flows;) {
        w.reset();
        const starts: number[] = [];
        for (const last = Math.min(flows, i + EVENTS_PER_TURN); i < last; i++) {
          const e = entry(i);
          starts.push(w.beginNf(msgType, flags, 0, e.family));
          writeDumpAttrs(w, e);
          w.end();
        }
        const buf = w.bytes();
        starts.push(buf.length);
        const datagrams: Uint8Array[] = [];
        for (let k = 0; k + 1 < starts.length; k++) datagrams.push(buf.subarray(starts[k], starts[k + 1]));
        a!.injectKernelEvents(datagrams);
        await new Promise((resolve) => setImmediate(resolve));
      }
    };
    const external = (): number => b!.external.size;
    await feed('NEW', sampleFlow);
    if (!(await until(() => external() === flows, 3000))) return result(`replication stopped at ${external()} of ${flows}`);
    // updates (a new mark, a TCP state change), merged with what the caches hold
    await feed('UPDATE', (i) => ({ ...sampleFlow(i), mark: (i & 0xff) + 1, tcp: i % 4 < 2 ? { state: 4 } : undefined }));
    // (no resync here: one asked for this soon after the pair started waits for the end of
    // FT-FW's HELLO linger, seconds; S1 in ftfw.ts)
    await feed('DESTROY', sampleFlow);
    if (!(await until(() => external() === 0, 3000))) return result(`deletions stopped at ${flows - external()} of ${flows}`);
    return result();
  } catch (err) {
    return result((err as Error).message);
  } finally {
    a?.stop();
    b?.stop();
  }
}
