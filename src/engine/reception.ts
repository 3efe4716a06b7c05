// Peer -> FT-FW -> external caches: each datagram's messages go through FT-FW's sequence tracking
// and, when it says so, into the external caches as they arrived. When the peer's answer to one
// of our RESYNCs is known complete, what it left out is removed (ghosts). With DisableExternalCache
// on, the messages go to the kernel instead (kernel-inject.ts).
import type { Expect } from '../conntrack/entry.js';
import { expectKey } from '../cache/expect-cache.js';
import { RefreshStamps } from '../cache/refresh-stamps.js';
import { ObjectState } from '../cache/sync-cache.js';
import type { PeerBulkAnswer } from '../sync/ftfw.js';
import {
  FLAG,
  MSG,
  decodeCtAttrs,
  decodeDatagram,
  type MalformedReason,
  type MsgHeader,
  type SyncVisitor,
} from '../sync/wire.js';
import type { CtScan } from '../sync/wire-attrs.js';
import { EngineFlow, type EngineContext } from './engine-flow.js';
import type { KernelInjector } from './kernel-inject.js';

const INJECT_OP = ['new', 'upd', 'del'] as const;

export interface MalformedCounters {
  total: number;
  truncated: number;
  badSize: number;
  badVersion: number;
  badHeader: number;
  badType: number;
  badPayload: number;
}

export class Reception extends EngineFlow {
  readonly malformed: MalformedCounters = {
    total: 0,
    truncated: 0,
    badSize: 0,
    badVersion: 0,
    badHeader: 0,
    badType: 0,
    badPayload: 0,
  };
  /** Well-formed messages whose entry cannot be used (no addresses or protocol). */
  unusable = 0;
  /** External entries removed because the peer's complete answer to a resync left them out. */
  staleRemoved = 0;
  /** EXP messages dropped because ExpectationSync is off here. */
  expectMessagesIgnored = 0;
  /** RESYNC epoch of each external entry's last refresh by the peer (reconcile). */
  private readonly refreshed = new RefreshStamps();
  /** clock.now() of the datagram being handled (0 outside one): FT-FW's time meanwhile. */
  rxNow = 0;
  /** Unix seconds of the datagram being handled. */
  private rxSec = 0;
  /** DisableExternalCache on: where the peer's messages go instead of the external caches. */
  private readonly injector: KernelInjector | undefined;

  constructor(ctx: EngineContext) {
    super(ctx);
    this.injector = ctx.injector;
  }

  /** A datagram from the peer (PeerChannelHandlers.datagram). */
  readonly onDatagram = (d: Buffer): void => {
    // one clock reading per datagram, for the protocol and the cache (not one per message)
    this.rxNow = this.clock.now();
    this.rxSec = Math.floor(this.rxNow / 1000);
    decodeDatagram(d, d.length, this.rxVisitor);
    this.rxNow = 0;
    this.tx.schedule();
  };

  /** What decodeDatagram calls per message (one object for the engine's lifetime). */
  private readonly rxVisitor: SyncVisitor = {
    // keyed, not decoded: the backup stores what it receives as it arrived
    ctKeyed: (type, flags, seq, scan, buf, start, end) => {
      if (this.ftfw.receiveHeader(type, flags, seq) !== 'apply') return;
      if (this.injector) this.injectCt(this.injector, type, scan, buf as Buffer, start, end);
      else this.applyExternal(type, scan, this.rxSec, buf as Buffer, start, end);
    },
    exp: (type, flags, seq, x) => {
      if (this.ftfw.receiveHeader(type, flags, seq) !== 'apply') return;
      if (!this.injector) this.applyExternalExpect(type, x, this.rxSec);
      else if (this.expectations) this.injector.expect(INJECT_OP[type - MSG.EXP_NEW]!, x);
      else this.expectMessagesIgnored++;
    },
    control: (flags, seq, from, to) => {
      if (this.ftfw.receiveHeader(MSG.CTL, flags, seq, from, to) === 'bad') this.countMalformed('bad-header');
    },
    malformed: (reason, _offset, header) => this.onMalformed(reason, header),
  };

  /**
   * Applies a peer's message to the external cache. conntrackd accepts any attribute subset; an
   * entry without addresses or protocol cannot be keyed nor committed, so it is counted as
   * unusable instead (never stored, never a crash).
   */
  private applyExternal(type: number, scan: CtScan, now: number, buf: Buffer, start: number, end: number): void {
    const kl = scan.keyLen;
    if (kl === 0) {
      this.unusable++;
      return;
    }
    // the last commit's copy takes the external entries as they were committed
    if (this.caches.adoptPending) this.caches.settle();
    const ext = this.caches.external;
    const kb = scan.keyBytes;
    if (type === MSG.CT_DEL) {
      ext.removeRaw(kb, 0, kl);
      return;
    }
    // a message for a flow we do not hold, or one that carries every attribute the held flow
    // has (what conntrackd and ctsync send: the whole cached entry), is stored as received; only
    // a partial update of a held flow is merged field by field
    let h = 0;
    if (type === MSG.CT_NEW) h = ext.store(kb, 0, kl, buf, start, end, now, ObjectState.NEW);
    else {
      const rec = ext.find(kb, 0, kl);
      if (rec < 0) h = ext.store(kb, 0, kl, buf, start, end, now, ObjectState.ALIVE);
      else if (ext.coveredBy(rec, scan.maskLo, scan.maskHi)) {
        h = ext.handleAt(rec);
        ext.overwrite(rec, buf, start, end, now);
      } else {
        try {
          const e = decodeCtAttrs(buf, start, end);
          if (e) {
            h = ext.handleAt(rec);
            ext.mergeUpdate(rec, e, now);
          }
        } catch (err) {
          this.unusable++;
          this.log.debug(`peer entry not stored: ${(err as Error).message}`);
        }
      }
    }
    if (h !== 0) this.refreshed.stamp(h, this.ftfw.resyncEpoch);
  }

  /** DisableExternalCache on: a peer's conntrack message, decoded, goes to the kernel. */
  private injectCt(to: KernelInjector, type: number, scan: CtScan, buf: Buffer, start: number, end: number): void {
    let e = null;
    try {
      e = scan.keyLen === 0 ? null : decodeCtAttrs(buf, start, end);
    } catch (err) {
      this.log.debug(`peer entry not injected: ${(err as Error).message}`);
    }
    if (e === null) {
      this.unusable++;
      return;
    }
    to.conntrack(INJECT_OP[type - MSG.CT_NEW]!, e);
  }

  /** Applies a peer's EXP message to the external expectation cache (when ExpectationSync is on). */
  private applyExternalExpect(type: number, x: Expect, now: number): void {
    if (!this.expectations) {
      this.expectMessagesIgnored++;
      return;
    }
    const key = expectKey(x);
    const cache = this.caches.externalExpect;
    try {
      if (type === MSG.EXP_DEL) cache.remove(key);
      else {
        const obj = type === MSG.EXP_NEW ? cache.add(x, now, key) : cache.replace(x, now, key);
        if (obj) obj.refreshed = this.ftfw.resyncEpoch;
      }
    } catch (err) {
      // decodable but not storable (e.g. no master tuple): as for conntracks, counted, never a crash
      this.unusable++;
      this.log.debug(`peer expectation not stored: ${(err as Error).message}`);
    }
  }

  /**
   * The peer's answer to one of our RESYNCs arrived whole (FtFwHooks.peerBulkComplete): what the
   * external caches hold and the peer did not send since is gone from the peer's table (deleted
   * while its DEL could not reach us), and would be committed at the next failover.
   */
  reconcile({ epoch, clean }: PeerBulkAnswer): void {
    if (!clean) {
      this.log.info(
        `the peer's answer to our resync arrived with gaps: entries it no longer has may stay in the external cache (a resync is asked again later)`,
      );
      return;
    }
    this.caches.settle();
    const flows = this.refreshed.sweep(this.caches.external, epoch);
    const externalExpect = this.caches.externalExpect;
    let expects = 0;
    for (const obj of [...externalExpect.values()]) {
      if (obj.refreshed >= epoch) continue;
      externalExpect.remove(obj.key);
      expects++;
    }
    this.staleRemoved += flows + expects;
    const what = `${flows} flows${this.expectations ? ` and ${expects} expectations` : ''}`;
    if (flows + expects > 0)
      this.log.info(`external cache reconciled with the peer's table: removed ${what} the peer no longer has`);
    else this.log.verbose("external cache reconciled with the peer's table: nothing stale");
  }

  private onMalformed(reason: MalformedReason, header?: MsgHeader): void {
    // conntrackd runs its sequence tracking on these too (see wire.ts SyncVisitor.malformed)
    if (header && reason !== 'bad-version')
      this.ftfw.receive({ type: header.type, flags: header.flags & (FLAG.HELLO | FLAG.HELLO_BACK), seq: header.seq });
    this.countMalformed(reason);
  }

  private countMalformed(reason: MalformedReason): void {
    this.malformed.total++;
    switch (reason) {
      case 'truncated':
        this.malformed.truncated++;
        break;
      case 'bad-size':
        this.malformed.badSize++;
        break;
      case 'bad-version':
        this.malformed.badVersion++;
        break;
      case 'bad-header':
        this.malformed.badHeader++;
        break;
      case 'bad-type':
        this.malformed.badType++;
        break;
      case 'bad-payload':
        this.malformed.badPayload++;
        break;
    }
  }
}
