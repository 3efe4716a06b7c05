// The kernel port in production: ctnetlink requests (ConntrackClient) and event subscriptions
// (ConntrackEvents, raw mode: conntrack events reach the handler as bytes).
import { readFileSync } from 'node:fs';
import type { Entry, Expect } from '../../conntrack/entry.js';
import type { RequestOptions } from '../../netlink/ctnetlink.js';
import {
  ConntrackClient,
  type CpuStats,
  type CreateFailure,
  type CreateOptions,
  type CreateResult,
  type DumpFilter,
  type ExpectCreateOptions,
  type ExpectDumpFilter,
} from '../../netlink/conntrack-client.js';
import { ConntrackEvents } from '../../netlink/conntrack-events.js';
import type { KernelEventHandlers, KernelEventOptions, KernelEventSource, KernelPort } from '../ports/kernel.js';

/** Where the kernel says how many buckets its conntrack hash has (the nf_conntrack `hashsize`). */
const BUCKETS_FILE = '/proc/sys/net/netfilter/nf_conntrack_buckets';

export class NetlinkKernel implements KernelPort {
  private readonly client = new ConntrackClient();

  get portId(): number {
    return this.client.portId;
  }

  dump(filter: DumpFilter, onEntry: (e: Entry) => void): Promise<number> {
    return this.client.dump(filter, onEntry);
  }

  dumpExpect(filter: ExpectDumpFilter, onExpect: (x: Expect) => void): Promise<number> {
    return this.client.dumpExpect(filter, onExpect);
  }

  delete(entries: Entry[]): Promise<{ deleted: number; missing: number; failed: CreateFailure[] }> {
    return this.client.delete(entries);
  }

  create(entries: Entry[], opts: CreateOptions): Promise<CreateResult> {
    return this.client.create(entries, opts);
  }

  update(
    entries: Entry[],
    opts: RequestOptions,
  ): Promise<{ updated: number; missing: number; missingAt: number[]; failed: CreateFailure[] }> {
    return this.client.update(entries, opts);
  }

  deleteExpect(list: Expect[]): Promise<{ deleted: number; missing: number; failed: CreateFailure<Expect>[] }> {
    return this.client.deleteExpect(list);
  }

  createExpect(list: Iterable<Expect>, opts?: ExpectCreateOptions): Promise<CreateResult<Expect>> {
    return this.client.createExpect(list, opts);
  }

  updateExpect(list: Expect[]): Promise<{ updated: number; missing: number; failed: CreateFailure<Expect>[] }> {
    return this.client.updateExpect(list);
  }

  flushExpect(): Promise<number> {
    return this.client.flushExpect();
  }

  cpuStats(): Promise<CpuStats[]> {
    return this.client.cpuStats();
  }

  hashBuckets(): number | undefined {
    try {
      const n = Number(readFileSync(BUCKETS_FILE, 'utf8'));
      return n > 0 ? n : undefined;
    } catch {
      return undefined;
    }
  }

  subscribe(opts: KernelEventOptions, h: KernelEventHandlers): KernelEventSource {
    const events = new ConntrackEvents({
      rcvbuf: opts.rcvbuf,
      rcvbufMax: opts.rcvbufMax,
      iterationLimit: opts.iterationLimit,
      raw: true,
      expectations: opts.expectations,
      reliable: opts.reliable,
    });
    // byte to byte: one plain call per conntrack event, no Entry, no emit
    events.onRawConntrack = h.conntrack;
    events.onDrain = h.batch;
    events.on('expect', h.expect);
    events.on('overrun', ({ bufferSize }) => h.overrun(bufferSize));
    events.on('malformed', h.malformed);
    events.on('error', h.error);
    return events;
  }

  close(): void {
    this.client.close();
  }
}
