// keepalived's two ways of telling us about VRRP state (docs/conntrackd-compat.md §2), parsed into typed events, and
// the tracker that turns the events of the instances / sync groups this node follows into a
// target role for the failover machine.
//
// * Generic `notify` script: keepalived appends 4 arguments to the configured command line:
//   TYPE (INSTANCE|GROUP), NAME, STATE (MASTER|BACKUP|FAULT|STOP|DELETED), PRIORITY (effective
//   priority; 0 for groups). parseNotifyArgs takes those trailing arguments (the priority may be
//   left out when typed by hand). Scripts are fork+exec'd without waiting, so they can arrive out of
//   order (docs/conntrackd-compat.md §2.3, §3.2): prefer the FIFO.
// * notify FIFO: one line per event, `INSTANCE "VI_1" MASTER 100`, `GROUP "G1" BACKUP 0`, plus the
//   instance-only states MASTER_RX_LOWER_PRI, MASTER_PRIORITY, BACKUP_PRIORITY, and checker
//   lines (`VS …`, `RS …`) which are ignored.
//
// Bad input never becomes a transition: the parsers throw KeepalivedInputError naming the bad
// argument or field, what was expected and what was found.
import type { HaTrackConfig } from './config.js';
import type { Target } from './machine.js';

export type VrrpType = 'INSTANCE' | 'GROUP';
/** States of the notify script arguments (and of the FIFO). */
export type VrrpState = 'MASTER' | 'BACKUP' | 'FAULT' | 'STOP' | 'DELETED';
/** Extra instance states that only the FIFO carries. */
export type FifoExtraState = 'MASTER_RX_LOWER_PRI' | 'MASTER_PRIORITY' | 'BACKUP_PRIORITY';

export interface KeepalivedEvent {
  type: VrrpType;
  name: string;
  state: VrrpState | FifoExtraState;
  /** Effective priority (instances), 0 for groups; absent when a hand-typed notify left it out. */
  priority?: number;
  /** Where it came from. */
  source: 'notify' | 'fifo';
}

export type FifoLine =
  | { kind: 'vrrp'; event: KeepalivedEvent }
  /** `VS …` / `RS …` lines of the checker (LVS) part of notify_fifo: not ours. */
  | { kind: 'checker'; line: string }
  | { kind: 'empty' };

export class KeepalivedInputError extends Error {
  constructor(
    message: string,
    /** The argument or field: "argument 3 (STATE)", "STATE". */
    readonly field: string,
    readonly expected: string,
    /** The offending text, as found. */
    readonly got: string,
  ) {
    super(message);
    this.name = 'KeepalivedInputError';
  }
}

const TYPES: readonly VrrpType[] = ['INSTANCE', 'GROUP'];
const STATES: readonly VrrpState[] = ['MASTER', 'BACKUP', 'FAULT', 'STOP', 'DELETED'];
const FIFO_STATES: readonly (VrrpState | FifoExtraState)[] = [
  ...STATES,
  'MASTER_RX_LOWER_PRI',
  'MASTER_PRIORITY',
  'BACKUP_PRIORITY',
];

function orList(words: readonly string[]): string {
  return words.length <= 1 ? words.join('') : `${words.slice(0, -1).join(', ')} or ${words[words.length - 1]}`;
}

const EXPECT = {
  type: orList(TYPES),
  name: 'a vrrp_instance or vrrp_sync_group name',
  state: orList(STATES),
  fifoState: orList(FIFO_STATES),
  priority: 'a priority from 0 to 255',
};

function caseHint(got: string, allowed: readonly string[]): string {
  return got !== got.toUpperCase() && allowed.includes(got.toUpperCase())
    ? ' (keepalived writes it in upper case)'
    : '';
}

function parsePriority(
  text: string,
  fail: (field: string, expected: string, got: string) => never,
  field: string,
): number {
  if (!/^[0-9]{1,3}$/.test(text) || Number(text) > 255) fail(field, EXPECT.priority, JSON.stringify(text));
  return Number(text);
}

/**
 * The arguments keepalived appends to a generic `notify` script: TYPE NAME STATE [PRIORITY].
 * Pass only those (the CLI strips its own). Throws KeepalivedInputError.
 */
export function parseNotifyArgs(args: readonly string[]): KeepalivedEvent {
  const fail = (field: string, expected: string, got: string): never => {
    throw new KeepalivedInputError(`keepalived notify ${field} must be ${expected}, got ${got}`, field, expected, got);
  };
  if (args.length < 3 || args.length > 4) {
    const expected = 'TYPE NAME STATE [PRIORITY] (the arguments keepalived appends to a notify script)';
    const got =
      args.length === 0
        ? 'no arguments'
        : `${args.length} argument${args.length === 1 ? '' : 's'}: ${args.map((a) => JSON.stringify(a)).join(' ')}`;
    throw new KeepalivedInputError(`keepalived notify: expected ${expected}, got ${got}`, 'arguments', expected, got);
  }
  const [type, name, state, prio] = args as [string, string, string, string | undefined];
  if (!TYPES.includes(type as VrrpType))
    fail('argument 1 (TYPE)', EXPECT.type, `${JSON.stringify(type)}${caseHint(type, TYPES)}`);
  if (name === '' || /[\s"]/.test(name))
    fail(
      'argument 2 (NAME)',
      `${EXPECT.name} (no spaces or quotes)`,
      name === '' ? 'an empty string' : JSON.stringify(name),
    );
  if (!STATES.includes(state as VrrpState))
    fail('argument 3 (STATE)', EXPECT.state, `${JSON.stringify(state)}${caseHint(state, STATES)}`);
  const ev: KeepalivedEvent = { type: type as VrrpType, name, state: state as VrrpState, source: 'notify' };
  if (prio !== undefined) ev.priority = parsePriority(prio, fail, 'argument 4 (PRIORITY)');
  return ev;
}

/**
 * One line of keepalived's notify FIFO, without its newline (a trailing \r is tolerated).
 * Throws KeepalivedInputError for a line that is neither a VRRP nor a checker line.
 */
export function parseFifoLine(rawLine: string): FifoLine {
  const line = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
  if (line.trim() === '') return { kind: 'empty' };
  if (/^(VS|RS) /.test(line)) return { kind: 'checker', line };
  const shown = line.length > 120 ? `${line.slice(0, 117)}...` : line;
  const fail = (field: string, expected: string, got: string): never => {
    throw new KeepalivedInputError(
      `keepalived FIFO line ${JSON.stringify(shown)}: ${field} must be ${expected}, got ${got}`,
      field,
      expected,
      got,
    );
  };
  const sp = line.indexOf(' ');
  const type = sp < 0 ? line : line.slice(0, sp);
  if (!TYPES.includes(type as VrrpType))
    fail('TYPE', `${EXPECT.type} (or VS/RS for checker lines)`, `${JSON.stringify(type)}${caseHint(type, TYPES)}`);
  const rest = sp < 0 ? '' : line.slice(sp + 1);
  // The name is written as "%s"; names are single config tokens, so the last '" ' ends it.
  const m = /^"(.+)" (\S+)(?: (\S+))?$/.exec(rest);
  if (!m) {
    if (!rest.startsWith('"') || rest.indexOf('"', 1) < 0)
      fail(
        'NAME',
        `${EXPECT.name} in double quotes, e.g. "VI_1"`,
        rest === '' ? 'nothing' : JSON.stringify(rest.split(' ')[0]),
      );
    fail(
      'STATE and PRIORITY',
      `"STATE PRIORITY" after the name, e.g. ${type} "${rest.slice(1, rest.indexOf('"', 1)) || 'VI_1'}" MASTER 100`,
      JSON.stringify(rest.slice(rest.indexOf('"', 1) + 1)),
    );
  }
  const [, name, state, prio] = m as RegExpExecArray & [string, string, string, string | undefined];
  if (!FIFO_STATES.includes(state as VrrpState))
    fail('STATE', EXPECT.fifoState, `${JSON.stringify(state)}${caseHint(state, FIFO_STATES)}`);
  const ev: KeepalivedEvent = {
    type: type as VrrpType,
    name,
    state: state as VrrpState | FifoExtraState,
    source: 'fifo',
  };
  if (prio !== undefined) ev.priority = parsePriority(prio, fail, 'PRIORITY');
  return { kind: 'vrrp', event: ev };
}

/** The event in FIFO form, for logs and reasons: `INSTANCE "VI_1" MASTER 100`. */
export function eventText(ev: KeepalivedEvent): string {
  return `${ev.type} "${ev.name}" ${ev.state}${ev.priority === undefined ? '' : ` ${ev.priority}`}`;
}

// ---------------------------------------------------------------------------------- tracking

/** What the tracker remembers per followed name. */
export type TrackedState = 'MASTER' | 'BACKUP' | 'FAULT' | 'STOP' | 'DELETED';

/** The state an event says the instance or group is in. */
const IMPLIED: Record<VrrpState | FifoExtraState, TrackedState> = {
  MASTER: 'MASTER',
  BACKUP: 'BACKUP',
  FAULT: 'FAULT',
  STOP: 'STOP',
  DELETED: 'DELETED',
  // still MASTER, but an advert with a lower priority came in (the peer thinks it is master too)
  MASTER_RX_LOWER_PRI: 'MASTER',
  // priority changed, state unchanged
  MASTER_PRIORITY: 'MASTER',
  BACKUP_PRIORITY: 'BACKUP',
};

/** Informational states: they confirm a state rather than report a change. */
const INFORMATIONAL = new Set<string>(['MASTER_RX_LOWER_PRI', 'MASTER_PRIORITY', 'BACKUP_PRIORITY']);

export type TrackDecision =
  /** Ask the machine for this target (the machine collapses repeats). */
  | { kind: 'request'; target: Exclude<Target, 'stopped'>; detail: string }
  /** The event is not about what this node follows. */
  | { kind: 'ignored'; why: string }
  /** Followed names have not all reported yet, and none says fault or backup. */
  | { kind: 'waiting'; missing: string[]; detail: string }
  /** An informational event that does not change the target. */
  | { kind: 'unchanged'; target?: Exclude<Target, 'stopped'>; detail: string };

export interface TrackerSnapshot {
  follows: 'groups' | 'instances' | 'any';
  names: Record<string, { state?: TrackedState; priority?: number }>;
  target?: Exclude<Target, 'stopped'>;
}

/**
 * Turns keepalived events into target roles for the names in `ha.track`.
 *
 * * With `groups`, only GROUP events count (member instances keep reporting their own states,
 *   which keepalived may not have aligned yet); instance events are ignored.
 * * With several instances (or groups), the node is active only while ALL of them are MASTER:
 *   the conntrack state is committed once, for the whole node, so a node that holds only some
 *   of the VIPs must not commit. Any FAULT → fault (the node is unfit); otherwise any BACKUP,
 *   STOP or DELETED → backup (keepalived stopping reports STOP for everything; a deleted instance
 *   leaves the node unable to be fully master until ha.track is updated). While some names have
 *   not reported at all and the others are MASTER, nothing is requested (`waiting`).
 * * Plain states (MASTER, BACKUP, FAULT, STOP, DELETED) always produce a request when the target
 *   is known, even if it did not change: the machine treats repeats as no-ops, and a repeat is
 *   how a promotion aborted by a pre-hook gets retried. Informational FIFO states
 *   (MASTER_RX_LOWER_PRI, *_PRIORITY) only produce one when they change the target.
 * * The daemon's own shutdown is not a keepalived event: it requests `stopped` itself.
 */
export class KeepalivedTracker {
  /**
   * 'any': no `ha.track` configured (a plain conntrackd.conf, primary-backup.sh style): every
   * event counts on its own, as each notify script call would.
   */
  private readonly follows: 'groups' | 'instances' | 'any';
  private readonly names: readonly string[];
  private readonly states = new Map<string, { state: TrackedState; priority?: number }>();
  private target?: Exclude<Target, 'stopped'>;

  constructor(track: HaTrackConfig) {
    if (track.groups && track.groups.length > 0) {
      this.follows = 'groups';
      this.names = [...new Set(track.groups)];
    } else if (track.instances && track.instances.length > 0) {
      this.follows = 'instances';
      this.names = [...new Set(track.instances)];
    } else {
      this.follows = 'any';
      this.names = [];
    }
  }

  update(ev: KeepalivedEvent): TrackDecision {
    if (this.follows === 'any') {
      const state = IMPLIED[ev.state];
      const target = state === 'MASTER' ? 'active' : state === 'FAULT' ? 'fault' : 'backup';
      const changed = target !== this.target;
      this.target = target;
      this.states.set(`${ev.type} ${ev.name}`, { state });
      if (INFORMATIONAL.has(ev.state) && !changed) return { kind: 'unchanged', target, detail: eventText(ev) };
      return { kind: 'request', target, detail: eventText(ev) };
    }
    const want: VrrpType = this.follows === 'groups' ? 'GROUP' : 'INSTANCE';
    if (ev.type !== want)
      return {
        kind: 'ignored',
        why: `${ev.type.toLowerCase()} event; following ${this.follows} ${this.names.join(', ')}`,
      };
    if (!this.names.includes(ev.name))
      return {
        kind: 'ignored',
        why: `${ev.type.toLowerCase()} ${ev.name} is not tracked (following ${this.names.join(', ')})`,
      };
    const entry: { state: TrackedState; priority?: number } = { state: IMPLIED[ev.state] };
    if (ev.priority !== undefined) entry.priority = ev.priority;
    this.states.set(ev.name, entry);

    const text = eventText(ev);
    const agg = this.aggregate();
    const detail = this.names.length > 1 && agg.note ? `${text} (${agg.note})` : text;
    if (agg.target === undefined) return { kind: 'waiting', missing: agg.missing, detail };
    const changed = agg.target !== this.target;
    this.target = agg.target;
    if (INFORMATIONAL.has(ev.state) && !changed) return { kind: 'unchanged', target: agg.target, detail };
    return { kind: 'request', target: agg.target, detail };
  }

  snapshot(): TrackerSnapshot {
    const names: TrackerSnapshot['names'] = {};
    for (const n of this.follows === 'any' ? [...this.states.keys()] : this.names) {
      const s = this.states.get(n);
      names[n] = s ? { ...s } : {};
    }
    const out: TrackerSnapshot = { follows: this.follows, names };
    if (this.target) out.target = this.target;
    return out;
  }

  private aggregate(): { target?: Exclude<Target, 'stopped'>; missing: string[]; note?: string } {
    const missing = this.names.filter((n) => !this.states.has(n));
    const with_ = (pred: (s: TrackedState) => boolean) =>
      this.names.filter((n) => {
        const s = this.states.get(n);
        return s !== undefined && pred(s.state);
      });
    const faulted = with_((s) => s === 'FAULT');
    if (faulted.length > 0) return { target: 'fault', missing, note: `FAULT: ${faulted.join(', ')}` };
    const notMaster = with_((s) => s !== 'MASTER');
    if (notMaster.length > 0)
      return {
        target: 'backup',
        missing,
        note: `not MASTER: ${notMaster.map((n) => `${n} ${this.states.get(n)!.state}`).join(', ')}`,
      };
    if (missing.length > 0) return { missing, note: `waiting for ${missing.join(', ')}` };
    return { target: 'active', missing, note: `all of ${this.names.join(', ')} MASTER` };
  }
}

// ------------------------------------------------------------------------------------- wiring

/** The part of the failover machine the keepalived inputs use. */
export interface RequestSink {
  request(target: Target, reason: { source: 'notify' | 'fifo'; detail: string }): Promise<unknown>;
}

/** Feeds one event to the tracker and, if it yields a target, to the machine. Returns the decision (for logs, tests). */
export function applyKeepalivedEvent(
  ev: KeepalivedEvent,
  tracker: KeepalivedTracker,
  machine: RequestSink,
  log: { verbose(m: string): unknown; debug(m: string): unknown },
): TrackDecision {
  const d = tracker.update(ev);
  switch (d.kind) {
    case 'request':
      void machine.request(d.target, { source: ev.source, detail: d.detail });
      break;
    case 'ignored':
      log.debug(`ha: keepalived ${eventText(ev)} ignored: ${d.why}`);
      break;
    case 'waiting':
      log.verbose(`ha: keepalived ${eventText(ev)}: waiting for ${d.missing.join(', ')} before choosing a role`);
      break;
    case 'unchanged':
      log.debug(`ha: keepalived ${eventText(ev)}: role unchanged`);
      break;
  }
  return d;
}

/**
 * A FifoReader onLine handler: parse, track, request. Bad lines are logged (warn) and change
 * nothing.
 */
export function fifoLineHandler(
  tracker: KeepalivedTracker,
  machine: RequestSink,
  log: { warn(m: string): unknown; verbose(m: string): unknown; debug(m: string): unknown },
): (line: string) => void {
  return (line) => {
    let parsed: FifoLine;
    try {
      parsed = parseFifoLine(line);
    } catch (err) {
      log.warn(`ha: ${(err as Error).message}; line ignored`);
      return;
    }
    if (parsed.kind === 'vrrp') applyKeepalivedEvent(parsed.event, tracker, machine, log);
  };
}
