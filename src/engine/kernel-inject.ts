// DisableExternalCache on: what the peer sends goes into the kernel as it arrives, instead of into
// the external cache (conntrackd's "external inject"). A NEW is a create (an existing entry is
// deleted and created again), an UPD an update (created when the kernel has no such entry,
// deleted and created again when the update fails otherwise), a DEL a delete (a missing entry is
// fine). The requests go out in arrival order; a run of messages of one kind is one batch.
// Events our requests cause carry the kernel port's id and are dropped in the kernel, as
// conntrackd ignores the events of its injection.
import type { Entry, Expect } from '../conntrack/entry.js';
import { flowKey } from '../conntrack/key.js';
import type { CreateFailure } from '../netlink/conntrack-client.js';
import type { Logger } from '../log.js';
import type { KernelPort } from './ports/kernel.js';

/** What the injection did, per kind of message (conntrackd's `-s` "external inject" block). */
export interface InjectCounters {
  created: number;
  createFailed: number;
  updated: number;
  updateFailed: number;
  deleted: number;
  deleteFailed: number;
}

export const newInjectCounters = (): InjectCounters => ({
  created: 0,
  createFailed: 0,
  updated: 0,
  updateFailed: 0,
  deleted: 0,
  deleteFailed: 0,
});

type Op = 'new' | 'upd' | 'del';

interface Pending {
  op: Op;
  ct?: Entry;
  exp?: Expect;
}

/** Messages per kernel batch: large enough for a bulk, small enough to keep the loop turning. */
const RUN_MAX = 2048;

export class KernelInjector {
  readonly ct = newInjectCounters();
  readonly exp = newInjectCounters();
  private readonly queue: Pending[] = [];
  private head = 0;
  private running: Promise<void> | undefined;

  constructor(
    private readonly kernel: KernelPort,
    /** Force TCP's BE_LIBERAL flag on what is created (TCPWindowTracking off). */
    private readonly liberal: boolean,
    private readonly log: Logger,
  ) {}

  /** Requests not sent to the kernel yet. */
  get pending(): number {
    return this.queue.length - this.head;
  }

  conntrack(op: Op, e: Entry): void {
    this.queue.push({ op, ct: e });
    this.kick();
  }

  expect(op: Op, x: Expect): void {
    this.queue.push({ op, exp: x });
    this.kick();
  }

  /** Resolves once every request queued so far is done. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private kick(): void {
    if (this.running) return;
    this.running = this.drain().finally(() => {
      this.running = undefined;
    });
  }

  private async drain(): Promise<void> {
    // after the datagram being read: its messages form one run
    await Promise.resolve();
    while (this.head < this.queue.length) {
      const first = this.queue[this.head]!;
      const isCt = first.ct !== undefined;
      let end = this.head + 1;
      while (
        end < this.queue.length &&
        end - this.head < RUN_MAX &&
        this.queue[end]!.op === first.op &&
        (this.queue[end]!.ct !== undefined) === isCt
      )
        end++;
      const run = this.queue.slice(this.head, end);
      this.head = end;
      if (this.head === this.queue.length) {
        this.queue.length = 0;
        this.head = 0;
      }
      try {
        if (isCt)
          await this.conntracks(
            first.op,
            run.map((p) => p.ct!),
          );
        else
          await this.expectations(
            first.op,
            run.map((p) => p.exp!),
          );
      } catch (err) {
        const c = isCt ? this.ct : this.exp;
        if (first.op === 'new') c.createFailed += run.length;
        else if (first.op === 'upd') c.updateFailed += run.length;
        else c.deleteFailed += run.length;
        this.log.error(`injecting the peer's ${isCt ? 'flows' : 'expectations'}: ${(err as Error).message}`);
      }
    }
  }

  private async conntracks(op: Op, all: Entry[]): Promise<void> {
    const c = this.ct;
    // a flow sent twice in one run (a retransmission) is one request: the later state wins; two
    // creates of one flow in a batch would make the second fail even when replacing
    const list = lastPerFlow(all);
    const opts = { liberal: this.liberal, replace: true };
    if (op === 'new') {
      const r = await this.kernel.create(list, opts);
      c.created += r.created + r.existing + r.replaced;
      this.failed('inject-add', r.failed, (n) => (c.createFailed += n));
      return;
    }
    if (op === 'del') {
      const r = await this.kernel.delete(list);
      c.deleted += r.deleted;
      this.failed('inject-del', r.failed, (n) => (c.deleteFailed += n));
      return;
    }
    const r = await this.kernel.update(list, { liberal: this.liberal });
    c.updated += r.updated;
    // missing: created; refused (e.g. a status bit the kernel will not clear): deleted and created
    const again = [...r.missingAt.map((i) => list[i]!), ...r.failed.map((f) => f.entry)];
    if (again.length === 0) return;
    const created = await this.kernel.create(again, opts);
    c.updated += created.created + created.existing + created.replaced;
    this.failed('inject-upd', created.failed, (n) => (c.updateFailed += n));
  }

  private async expectations(op: Op, list: Expect[]): Promise<void> {
    const c = this.exp;
    if (op === 'del') {
      const r = await this.kernel.deleteExpect(list);
      c.deleted += r.deleted;
      this.failed('inject-del', r.failed, (n) => (c.deleteFailed += n));
      return;
    }
    const r = await this.kernel.createExpect(list, { replace: true });
    const done = r.created + r.existing + r.replaced;
    if (op === 'new') c.created += done;
    else c.updated += done;
    this.failed(op === 'new' ? 'inject-add' : 'inject-upd', r.failed, (n) =>
      op === 'new' ? (c.createFailed += n) : (c.updateFailed += n),
    );
  }

  private failed<T>(what: string, failures: CreateFailure<T>[], count: (n: number) => void): void {
    if (failures.length === 0) return;
    count(failures.length);
    this.log.warn(`${what}: ${failures.length} refused by the kernel, first: ${failures[0]!.reason}`);
  }
}

/** The entries with one per flow key, each at the place of its flow's last occurrence. */
function lastPerFlow(list: Entry[]): Entry[] {
  if (list.length < 2) return list;
  const last = new Map<string, number>();
  list.forEach((e, i) => last.set(flowKey(e), i));
  return last.size === list.length ? list : list.filter((e, i) => last.get(flowKey(e)) === i);
}
