// Fake ports for the sync engine (src/engine/ports): a kernel table with an event source the test
// drives, a peer channel that captures datagrams, a commit pool that writes into the fake table,
// a clock that moves only when told. No root, no sockets, no threads.
import type { Entry, EventType, Expect } from '../../src/conntrack/entry.js';
import { flowKey } from '../../src/conntrack/key.js';
import { NlWriter } from '../../src/netlink/attr.js';
import { writeDumpAttrs } from '../../src/netlink/ctnetlink.js';
import type { CpuStats, CreateFailure, CreateResult } from '../../src/netlink/conntrack-client.js';
import type { ArenaCache } from '../../src/cache/arena-cache.js';
import { ObjectState } from '../../src/cache/sync-cache.js';
import type { CommitOptions, CommitResult } from '../../src/engine/commit-pool.js';
import type {
  CommitPoolPort,
  EngineClock,
  EnginePorts,
  KernelEventHandlers,
  KernelEventOptions,
  KernelEventSource,
  KernelPort,
  PeerChannel,
  PeerChannelHandlers,
} from '../../src/engine/ports/index.js';
import { newChannelStats, type ChannelStats } from '../../src/sync/channel.js';
import { DatagramBuilder, FLAG, decodeDatagram } from '../../src/sync/wire.js';
import { withDefaults, type CtsyncConfig, type CtsyncConfigInput } from '../../src/config/model.js';
import { ManualClock, RecLog } from './fakes.js';
import { SyncEngine } from '../../src/engine/sync-engine.js';
import type { Logger } from '../../src/log.js';

// ------------------------------------------------------------------------------------ clock

/** ManualClock plus the loop turns: nextTurn() callbacks run when the test says turn(). */
export class FakeClock extends ManualClock implements EngineClock {
  private turns: Array<() => void> = [];

  monotonic(): number {
    return this.t;
  }

  nextTurn(cb: () => void): void {
    this.turns.push(cb);
  }

  /** Runs what was scheduled for the next turn (what that schedules waits for the turn after). */
  turn(): number {
    const now = this.turns;
    this.turns = [];
    for (const cb of now) cb();
    return now.length;
  }

  /** Runs turns until none is scheduled (at most `max`). */
  settle(max = 1000): void {
    for (let i = 0; i < max && this.turn() > 0; i++);
  }

  /** Moves time forward by `ms`: each timer fires when due, and the loop turns it caused run. */
  run(ms: number): void {
    this.settle();
    const end = this.t + ms;
    while (this.fireNext(end)) this.settle();
    this.t = end;
    this.settle();
  }
}

// ------------------------------------------------------------------------------------ kernel

const IPCTNL_MSG_CT_NEW = (1 << 8) | 0;
const IPCTNL_MSG_CT_DELETE = (1 << 8) | 2;

/** A ctnetlink event message for `e`, as the kernel sends it. */
export function eventBytes(type: EventType, e: Entry): Buffer {
  const w = new NlWriter(1024);
  w.beginNf(type === 'DESTROY' ? IPCTNL_MSG_CT_DELETE : IPCTNL_MSG_CT_NEW, 0, 0, e.family);
  writeDumpAttrs(w, e);
  w.end();
  return Buffer.from(w.bytes());
}

export class FakeEventSource implements KernelEventSource {
  received = 0;
  receiveBufferSize: number;
  ignored: number[] = [];
  /** Whether the NEW group is joined (hearNew). */
  hearingNew = true;
  hearNewCalls: boolean[] = [];
  started = false;
  closed = false;

  constructor(
    readonly opts: KernelEventOptions,
    readonly handlers: KernelEventHandlers,
  ) {
    this.receiveBufferSize = opts.rcvbuf;
  }

  ignorePorts(ports: number[]): void {
    this.ignored = ports;
  }

  hearNew(on: boolean): void {
    this.hearingNew = on;
    this.hearNewCalls.push(on);
  }

  start(): void {
    this.started = true;
  }

  stop(): void {
    this.started = false;
  }

  close(): void {
    this.closed = true;
  }

  /** Delivers a batch of conntrack events, as the kernel would (bytes, one batch). */
  conntrack(events: Array<[EventType, Entry]>, pid = 0): void {
    this.handlers.batch();
    for (const [type, e] of events) {
      if (type === 'NEW' && !this.hearingNew) continue;
      const b = eventBytes(type, e);
      this.received++;
      this.handlers.conntrack(type, b, 0, b.length, pid);
    }
  }

  expect(type: EventType, x: Expect, pid = 0): void {
    this.handlers.batch();
    this.received++;
    this.handlers.expect(type, x, pid);
  }

  overrun(bufferSize = this.receiveBufferSize): void {
    this.handlers.overrun(bufferSize);
  }
}

/** A conntrack table in memory: what dumps return, what commits and deletes change. */
export class FakeKernel implements KernelPort {
  readonly portId = 4242;
  readonly table = new Map<string, Entry>();
  readonly expectations: Expect[] = [];
  /** Per-CPU insert counters (cpuStats). */
  inserts = [0, 0];
  buckets: number | undefined = 65536;
  events?: FakeEventSource;
  dumps = 0;
  /** Per dump: whether the event source was delivering then. */
  dumpsWhileListening: boolean[] = [];
  createdExpect: Expect[][] = [];
  updatedExpect: Expect[][] = [];
  closed = false;

  /** Puts `e` in the table (as a packet would). */
  add(e: Entry): void {
    this.table.set(flowKey(e), e);
    this.inserts[0]++;
  }

  remove(e: Entry): void {
    this.table.delete(flowKey(e));
  }

  async dump(_filter: unknown, onEntry: (e: Entry) => void): Promise<number> {
    this.dumps++;
    this.dumpsWhileListening.push(this.events?.started ?? false);
    const all = [...this.table.values()];
    for (const e of all) onEntry(e);
    return all.length;
  }

  async dumpExpect(_filter: unknown, onExpect: (x: Expect) => void): Promise<number> {
    for (const x of this.expectations) onExpect(x);
    return this.expectations.length;
  }

  async delete(entries: Entry[]): Promise<{ deleted: number; missing: number; failed: CreateFailure[] }> {
    let deleted = 0;
    for (const e of entries) if (this.table.delete(flowKey(e))) deleted++;
    return { deleted, missing: entries.length - deleted, failed: [] };
  }

  /** Creates (DisableExternalCache's injection): an existing entry is replaced. */
  async create(entries: Entry[]): Promise<CreateResult> {
    let created = 0;
    let replaced = 0;
    for (const e of entries) {
      if (this.table.has(flowKey(e))) replaced++;
      else created++;
      this.add(e);
    }
    return { created, existing: 0, replaced, failed: [] };
  }

  async update(
    entries: Entry[],
  ): Promise<{ updated: number; missing: number; missingAt: number[]; failed: CreateFailure[] }> {
    const missingAt: number[] = [];
    entries.forEach((e, i) => {
      if (this.table.has(flowKey(e))) this.table.set(flowKey(e), e);
      else missingAt.push(i);
    });
    return { updated: entries.length - missingAt.length, missing: missingAt.length, missingAt, failed: [] };
  }

  async deleteExpect(list: Expect[]): Promise<{ deleted: number; missing: number; failed: CreateFailure<Expect>[] }> {
    return { deleted: list.length, missing: 0, failed: [] };
  }

  async createExpect(list: Iterable<Expect>): Promise<CreateResult<Expect>> {
    const all = [...list];
    this.createdExpect.push(all);
    this.expectations.push(...all);
    return { created: all.length, existing: 0, replaced: 0, failed: [] };
  }

  async updateExpect(list: Expect[]): Promise<{ updated: number; missing: number; failed: CreateFailure<Expect>[] }> {
    this.updatedExpect.push(list);
    return { updated: list.length, missing: 0, failed: [] };
  }

  async flushExpect(): Promise<number> {
    const n = this.expectations.length;
    this.expectations.length = 0;
    return n;
  }

  async cpuStats(): Promise<CpuStats[]> {
    return this.inserts.map((insert, cpu) => ({ cpu, insert }));
  }

  hashBuckets(): number | undefined {
    return this.buckets;
  }

  subscribe(opts: KernelEventOptions, handlers: KernelEventHandlers): KernelEventSource {
    this.events = new FakeEventSource(opts, handlers);
    return this.events;
  }

  close(): void {
    this.closed = true;
  }
}

// ------------------------------------------------------------------------------------ channel

/** One message of a captured datagram. */
export interface SentMessage {
  type: number;
  flags: number;
  seq: number;
  entry?: Entry;
  expect?: Expect;
  from?: number;
  to?: number;
}

export class FakeChannel implements PeerChannel {
  readonly description = 'fake link';
  readonly maxDatagram = 1472;
  readonly opts = { kind: 'udp' as const, interface: 'fake0' };
  readonly stats: ChannelStats = newChannelStats();
  /** Datagrams sent (copies), in order. */
  readonly sent: Buffer[] = [];
  handlers?: PeerChannelHandlers;
  flushes = 0;
  closed = false;

  async open(handlers: PeerChannelHandlers): Promise<void> {
    this.handlers = handlers;
  }

  send(data: Uint8Array): void {
    this.sent.push(Buffer.from(data));
    this.stats.packetsSent++;
    this.stats.bytesSent += data.length;
  }

  flush(): void {
    this.flushes++;
  }

  close(): void {
    this.closed = true;
  }

  /** A datagram from the peer. */
  deliver(d: Buffer): void {
    this.stats.packetsReceived++;
    this.handlers!.datagram(d);
  }

  /** Every message sent so far, decoded; `take` empties the capture. */
  messages(take = true): SentMessage[] {
    const out: SentMessage[] = [];
    for (const d of this.sent) {
      decodeDatagram(d, d.length, {
        ct: (type, flags, seq, entry) => void out.push({ type, flags, seq, entry }),
        exp: (type, flags, seq, expect) => void out.push({ type, flags, seq, expect }),
        control: (flags, seq, from, to) => void out.push({ type: 10, flags, seq, from, to }),
        malformed: (reason) => {
          throw new Error(`the engine sent a malformed message: ${reason}`);
        },
      });
    }
    if (take) this.sent.length = 0;
    return out;
  }
}

/** Builds the peer's datagrams (one per call), in the order of the calls on `b`. */
export function datagram(fill: (b: DatagramBuilder) => void): Buffer {
  const b = new DatagramBuilder({ mtu: 65535 });
  fill(b);
  b.flush();
  const [d, ...more] = b.take();
  if (!d || more.length) throw new Error('datagram(): expected exactly one datagram');
  return d;
}

// ------------------------------------------------------------------------------------ commit pool

/** Writes the live entries of the committed cache into the fake kernel's table. */
export class FakeCommitPool implements CommitPoolPort {
  readonly portIds = [5001, 5002];
  started = false;
  stopped = false;
  onPorts?: (portIds: number[]) => void;
  commits: CommitOptions[] = [];
  /** Keys the next commit fails (with EINVAL). */
  failKeys = new Set<string>();
  /** Runs during a commit, before it resolves (a test's "meanwhile"). */
  during?: () => void;

  constructor(private readonly kernel: FakeKernel) {}

  get size(): number {
    return this.started && !this.stopped ? this.portIds.length : 0;
  }

  readonly busy = false;

  async start(): Promise<void> {
    this.started = true;
    this.stopped = false;
    this.onPorts?.(this.portIds);
  }

  async commit(cache: ArenaCache, opts: CommitOptions): Promise<CommitResult> {
    this.commits.push(opts);
    const failed: CommitResult['failed'] = [];
    let committed = 0;
    let inserted = 0;
    for (const obj of cache.values()) {
      if (obj.state === ObjectState.DEAD) continue;
      const e = cache.entry(obj);
      const key = flowKey(e);
      if (this.failKeys.has(key)) {
        failed.push({ entry: e, key, errno: 22, reason: 'Invalid argument' });
        continue;
      }
      if (!this.kernel.table.has(key)) inserted++;
      this.kernel.table.set(key, e);
      committed++;
    }
    this.kernel.inserts[1] += inserted;
    this.during?.();
    return { committed, replaced: 0, inserted, failed, seconds: 0 };
  }

  stop(): void {
    this.stopped = true;
  }
}

// ------------------------------------------------------------------------------------ the lot

export interface FakePorts extends EnginePorts {
  kernel: FakeKernel;
  channel: FakeChannel;
  commitPool: FakeCommitPool;
  clock: FakeClock;
}

export function fakePorts(): FakePorts {
  const kernel = new FakeKernel();
  return { kernel, channel: new FakeChannel(), commitPool: new FakeCommitPool(kernel), clock: new FakeClock() };
}

/** A config for the engine under test: one UDP link, defaults otherwise. */
export function engineConfig(patch: (c: CtsyncConfigInput) => void = () => undefined): CtsyncConfig {
  const input: CtsyncConfigInput = {
    sync: {
      channels: [{ kind: 'udp', ipv4Address: '192.0.2.1', destination: '192.0.2.2', port: 3780, interface: 'fake0' }],
    },
    general: { hashSize: 1024 },
  };
  patch(input);
  return withDefaults(input);
}

/** A UDP flow 198.51.100.x:port -> 203.0.113.1:53, with its reply tuple. */
export function udpFlow(i: number, extra: Partial<Entry> = {}): Entry {
  const src = `198.51.100.${1 + (i % 250)}`;
  const sport = 10000 + Math.floor(i / 250);
  return {
    family: 2,
    orig: { src, dst: '203.0.113.1', proto: 17, sport, dport: 53 },
    reply: { src: '203.0.113.1', dst: src, proto: 17, sport: 53, dport: sport },
    status: 0x8,
    timeout: 30,
    ...extra,
  };
}

/** An engine on fake ports, started (its start-up dump of the fake table done), and its fakes. */
export interface EngineRig extends FakePorts {
  engine: SyncEngine;
  log: RecLog;
  events: FakeEventSource;
}

export async function startedEngine(
  patch?: (c: CtsyncConfigInput) => void,
  before?: (p: FakePorts) => void,
): Promise<EngineRig> {
  const ports = fakePorts();
  before?.(ports);
  const log = new RecLog();
  const engine = new SyncEngine(engineConfig(patch), log as unknown as Logger, ports);
  await engine.start();
  ports.clock.settle();
  return { ...ports, engine, log, events: ports.kernel.events! };
}

/** The other node, as datagrams it sends to the engine: sequence numbers in order from `seq`. */
export class FakePeer {
  constructor(
    private readonly channel: FakeChannel,
    public seq = 5000,
  ) {}

  /** Delivers one datagram; `fill` adds its messages, taking a sequence number each from `next()`. */
  send(fill: (b: DatagramBuilder, next: () => number) => void): void {
    this.channel.deliver(datagram((b) => fill(b, () => this.seq++)));
  }

  /** Skips `n` sequence numbers (messages lost on the way). */
  lose(n = 1): void {
    this.seq += n;
  }
}

/** The peer acknowledges every message the engine sent since the last look (or says ALIVE). */
export function ackAll(rig: EngineRig, peer: FakePeer): SentMessage[] {
  const out = rig.channel.messages();
  if (out.length === 0) peer.send((b, next) => b.addControl(FLAG.ALIVE, next()));
  else peer.send((b, next) => b.addControl(FLAG.ACK, next(), out[0].seq, out[out.length - 1].seq));
  return out;
}

/**
 * The engine and `peer` meet: HELLO both ways, then `seconds` of ALIVE periods in which the peer
 * acknowledges everything (the engine's HELLO replay and linger are over after 6). What the
 * engine sent meanwhile is consumed; returned.
 */
export function handshake(rig: EngineRig, peer: FakePeer, seconds = 6): SentMessage[] {
  const seen: SentMessage[] = [];
  peer.send((b, next) => b.addControl(FLAG.ALIVE | FLAG.HELLO, next()));
  rig.clock.run(1000);
  seen.push(...rig.channel.messages());
  peer.send((b, next) => b.addControl(FLAG.ALIVE | FLAG.HELLO_BACK, next()));
  for (let i = 0; i < seconds; i++) {
    rig.clock.run(1000);
    seen.push(...ackAll(rig, peer));
  }
  rig.clock.settle();
  return seen;
}
