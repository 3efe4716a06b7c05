// The kernel as the engine sees it: requests on the conntrack and expectation tables, the
// insert counters, and a subscription to their events. Production: production/netlink-kernel.ts
// (ctnetlink over netlink sockets); tests: a fake table and an event source they drive.
import type { Entry, EventType, Expect } from '../../conntrack/entry.js';
import type { RequestOptions } from '../../netlink/ctnetlink.js';
import type {
  CpuStats,
  CreateFailure,
  CreateOptions,
  CreateResult,
  DumpFilter,
  ExpectCreateOptions,
  ExpectDumpFilter,
} from '../../netlink/conntrack-client.js';

/**
 * What the event source calls, as plain functions (no `this`): give bound functions or arrows.
 * Every call happens from the event loop, one event at a time.
 */
export interface KernelEventHandlers {
  /**
   * A conntrack event as ctnetlink bytes: buf[off, off + len) is the whole message (nlmsghdr
   * included), valid during the call only. `pid`: the port id of the socket whose request caused
   * it (0: a packet). A NetlinkDecodeError thrown here counts as a malformed event.
   */
  conntrack(type: EventType, buf: Buffer, off: number, len: number, pid: number): void;
  /** An expectation event (ExpectationSync on), decoded. */
  expect(type: EventType, x: Expect, pid: number): void;
  /** Before each batch of events (read the clock once for all of them). */
  batch(): void;
  /** The kernel dropped events (the receive buffer overran, now `bufferSize` bytes). */
  overrun(bufferSize: number): void;
  /** An event that could not be decoded (skipped). */
  malformed(err: Error): void;
  error(err: Error): void;
}

export interface KernelEventOptions {
  /** Receive buffer in bytes, and how far it may grow on overruns. */
  rcvbuf: number;
  rcvbufMax: number;
  /** Events handled per readiness before the loop gets a turn (EventIterationLimit). */
  iterationLimit: number;
  /** Subscribe to expectation events too. */
  expectations: boolean;
  /** NetlinkEventsReliable: the kernel keeps events the socket has no room for (see ConntrackEvents). */
  reliable: boolean;
}

/** A subscription to the kernel's events: created idle, delivers from start() to stop(). */
export interface KernelEventSource {
  /** Events read so far. */
  readonly received: number;
  /** The receive buffer's current size in bytes. */
  readonly receiveBufferSize: number;
  /** Events caused by requests from these port ids are dropped in the kernel (they are ours). */
  ignorePorts(ports: number[]): void;
  /** Leaves (false) or rejoins (true) the NEW events group. */
  hearNew(on: boolean): void;
  start(): void;
  stop(): void;
  close(): void;
}

export interface KernelPort {
  /** Port id of this port's request socket: events its requests cause carry it as `pid`. */
  readonly portId: number;
  /** Dumps the conntrack table; returns the number of entries. */
  dump(filter: DumpFilter, onEntry: (e: Entry) => void): Promise<number>;
  /** Dumps the expectation table; returns the number of expectations. */
  dumpExpect(filter: ExpectDumpFilter, onExpect: (x: Expect) => void): Promise<number>;
  delete(entries: Entry[]): Promise<{ deleted: number; missing: number; failed: CreateFailure[] }>;
  /** Creates conntracks (DisableExternalCache's injection; commits go through the commit pool). */
  create(entries: Entry[], opts: CreateOptions): Promise<CreateResult>;
  /** Updates conntracks; `missingAt`: positions of those the kernel did not have. */
  update(
    entries: Entry[],
    opts: RequestOptions,
  ): Promise<{ updated: number; missing: number; missingAt: number[]; failed: CreateFailure[] }>;
  deleteExpect(list: Expect[]): Promise<{ deleted: number; missing: number; failed: CreateFailure<Expect>[] }>;
  createExpect(list: Iterable<Expect>, opts?: ExpectCreateOptions): Promise<CreateResult<Expect>>;
  updateExpect(list: Expect[]): Promise<{ updated: number; missing: number; failed: CreateFailure<Expect>[] }>;
  /** Empties the expectation table; returns how many were deleted. */
  flushExpect(): Promise<number>;
  /** Per-CPU conntrack statistics (the `insert` counter counts every entry created). */
  cpuStats(): Promise<CpuStats[]>;
  /** Buckets of the kernel's conntrack hash table, undefined when unreadable. */
  hashBuckets(): number | undefined;
  /** A subscription to the conntrack (and expectation) events, not started yet. */
  subscribe(opts: KernelEventOptions, handlers: KernelEventHandlers): KernelEventSource;
  close(): void;
}
