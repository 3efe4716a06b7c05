// FT-FW's queues: what waits for transmission (tx, controls apart from objects) and what waits
// for its ACK (the resend queue), one record per object, records recycled through a free list.
import type { FtFwHooks, ReleaseReason } from './ftfw-types.js';

/** Record kinds: an object, or a control message. */
export const RECORD = { OBJ: 0, ACK: 1, NACK: 2, RESYNC: 3, ALIVE: 4 } as const;
/** Which list a record is in. */
export const WHERE = { NONE: 0, TX: 1, RS: 2 } as const;

// module-local copies (see ftfw-types.ts)
const K_OBJ = RECORD.OBJ;
const { NONE: W_NONE, TX: W_TX, RS: W_RS } = WHERE;

/**
 * Records kept for reuse (per FtFw); beyond this, released records are left to the GC. About
 * what is in flight while a bulk goes out paced (a few loop turns' worth): ~2.5 MB at most.
 */
const FREE_MAX = 16384;

/**
 * One queued thing: an object (one record per key, or per object in intrusive mode) or a control
 * message. Intrusive list node; recycled through the owning FtFwQueues' free list.
 */
export class QNode<O> {
  prev: QNode<O> | null = null;
  next: QNode<O> | null = null;
  where: number = W_NONE;
  /** Seq and flags of the last transmission (valid while in the resend queue). */
  seq = 0;
  flags = 0;
  /** S1: transmitted while we hold entries (HELLO phase or linger): ACKs do not release it. */
  held = false;
  /** S1: transmitted with HELLO at least once (replayed after the handshake). */
  helloSent = false;
  /** S1: an ACK covered it while it was held. */
  acked = false;
  /** env.now() of the last transmission (S3). */
  sentAt = 0;
  /**
   * env.now() of the first transmission since the record was made (-1: not sent yet); kept
   * through resends and updates, so the replication lag probe sees how long the peer has left
   * this object unacknowledged.
   */
  firstSentAt = -1;
  /** S3 back-off exponent. */
  retries = 0;
  constructor(
    /** The queues this record belongs to (intrusive mode: a record left by another instance is ignored). */
    readonly owner: object,
    public kind: number,
    public obj: O | undefined,
    public key: unknown,
    public from: number,
    public to: number,
  ) {}
}

export class QList<O> {
  head: QNode<O> | null = null;
  tail: QNode<O> | null = null;
  length = 0;
  constructor(private readonly tag: number) {}

  push(n: QNode<O>): void {
    n.prev = this.tail;
    n.next = null;
    if (this.tail) this.tail.next = n;
    else this.head = n;
    this.tail = n;
    n.where = this.tag;
    this.length++;
  }

  remove(n: QNode<O>): void {
    if (n.prev) n.prev.next = n.next;
    else this.head = n.next;
    if (n.next) n.next.prev = n.prev;
    else this.tail = n.prev;
    n.prev = n.next = null;
    n.where = W_NONE;
    this.length--;
  }
}

/** How an FtFw finds the record of an object (see FtFwOptions.keyOf, nodeOf, setNodeOf). */
export interface RecordAccess<O> {
  keyOf: (obj: O) => unknown;
  /** Intrusive mode (both set) or a Map by key (both null). */
  nodeOf: ((obj: O) => object | undefined) | null;
  setNodeOf: ((obj: O, node: object | undefined) => void) | null;
}

/**
 * The tx queue (control messages apart from objects: they go out first, and only objects wait
 * for room in the resend queue, S7), the resend queue and the records of the objects in them.
 */
export class FtFwQueues<O> {
  readonly txCtl = new QList<O>(W_TX);
  readonly txObj = new QList<O>(W_TX);
  readonly rs = new QList<O>(W_RS);
  private readonly keyOf: (obj: O) => unknown;
  private readonly nodeOf: ((obj: O) => object | undefined) | null;
  private readonly setNodeOf: ((obj: O, node: object | undefined) => void) | null;
  /** Records by key when not intrusive. */
  private readonly nodes = new Map<unknown, QNode<O>>();
  /** Released records kept for reuse (linked through `next`). */
  private free: QNode<O> | null = null;
  private freeLen = 0;

  constructor(
    access: RecordAccess<O>,
    private readonly hooks: FtFwHooks<O>,
  ) {
    this.keyOf = access.keyOf;
    this.nodeOf = access.nodeOf;
    this.setNodeOf = access.setNodeOf;
  }

  /** Messages waiting for a transmit pass. */
  get txLength(): number {
    return this.txCtl.length + this.txObj.length;
  }

  /**
   * Schedules `obj` for the next transmit pass: idempotent per key; an object waiting in the
   * resend queue moves back to the tx queue.
   */
  queueObject(obj: O): void {
    let n: QNode<O> | undefined;
    if (this.nodeOf !== null) {
      n = this.ownNode(obj);
      if (n === undefined) {
        n = this.alloc(K_OBJ, obj, undefined, 0, 0);
        (this.setNodeOf as (obj: O, node: object | undefined) => void)(obj, n);
        this.txObj.push(n);
        return;
      }
    } else {
      const key = this.keyOf(obj);
      n = this.nodes.get(key);
      if (n === undefined) {
        n = this.alloc(K_OBJ, obj, key, 0, 0);
        this.nodes.set(key, n);
        this.txObj.push(n);
        return;
      }
      if (n.obj !== obj) {
        const old = n.obj as O;
        n.obj = obj;
        this.hooks.released?.(old, 'replaced');
      }
    }
    n.retries = 0;
    if (n.where === W_RS) {
      this.rs.remove(n);
      this.txObj.push(n);
    }
  }

  /** The record of `obj` (by key), if queued. */
  recordOf(obj: O): QNode<O> | undefined {
    return this.nodeOf !== null ? this.ownNode(obj) : this.nodes.get(this.keyOf(obj));
  }

  /** Is this object (by key) queued for transmission or waiting for its ACK? */
  holds(obj: O): boolean {
    return this.nodeOf !== null ? this.ownNode(obj) !== undefined : this.nodes.has(this.keyOf(obj));
  }

  /** Intrusive mode: the object's record, if it is one of ours. */
  private ownNode(obj: O): QNode<O> | undefined {
    const n = (this.nodeOf as (obj: O) => object | undefined)(obj) as QNode<O> | undefined;
    return n !== undefined && n.owner === this ? n : undefined;
  }

  /** Queues a control message of `kind` (ACK / NACK: the range; others 0, 0). */
  queueCtl(kind: number, from: number, to: number): void {
    this.txCtl.push(this.alloc(kind, undefined, undefined, from, to));
  }

  /** Moves a resend-queue record back to its tx queue. */
  requeue(n: QNode<O>): void {
    this.rs.remove(n);
    this.txList(n).push(n);
  }

  /** Takes `n` out of its list and recycles it; an object's release is reported to the owner. */
  dropNode(n: QNode<O>, reason: ReleaseReason): void {
    if (n.where === W_TX) this.txList(n).remove(n);
    else if (n.where === W_RS) this.rs.remove(n);
    if (n.kind === K_OBJ) {
      const obj = n.obj as O;
      if (this.setNodeOf !== null) this.setNodeOf(obj, undefined);
      else this.nodes.delete(n.key);
      this.recycle(n);
      this.hooks.released?.(obj, reason);
    } else {
      this.recycle(n);
    }
  }

  /** `n` is in no list and nothing refers to it any more. */
  recycle(n: QNode<O>): void {
    n.obj = undefined;
    n.key = undefined;
    if (this.freeLen >= FREE_MAX) return;
    n.prev = null;
    n.next = this.free;
    this.free = n;
    this.freeLen++;
  }

  private alloc(kind: number, obj: O | undefined, key: unknown, from: number, to: number): QNode<O> {
    const n = this.free;
    if (n === null) return new QNode<O>(this, kind, obj, key, from, to);
    this.free = n.next;
    this.freeLen--;
    n.next = null;
    n.kind = kind;
    n.obj = obj;
    n.key = key;
    n.from = from;
    n.to = to;
    n.seq = 0;
    n.flags = 0;
    n.held = false;
    n.helloSent = false;
    n.acked = false;
    n.sentAt = 0;
    n.firstSentAt = -1;
    n.retries = 0;
    return n;
  }

  /**
   * The earliest first transmission (env.now()) among the objects sent and not yet acknowledged
   * by the peer (in the resend queue, or back in tx for a resend or an update); undefined when
   * there is none. Walks the queues: for the metrics, once per scrape.
   */
  oldestUnackedSentAt(): number | undefined {
    let oldest: number | undefined;
    for (const list of [this.rs, this.txObj]) {
      for (let n = list.head; n !== null; n = n.next) {
        // an object acknowledged while held (S1) has arrived; it only waits for the linger to end
        if (n.kind !== K_OBJ || n.firstSentAt < 0 || (n.held && n.acked)) continue;
        if (oldest === undefined || n.firstSentAt < oldest) oldest = n.firstSentAt;
      }
    }
    return oldest;
  }

  private txList(n: QNode<O>): QList<O> {
    return n.kind === K_OBJ ? this.txObj : this.txCtl;
  }
}
