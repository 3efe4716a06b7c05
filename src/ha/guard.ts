// The traffic guard for keepalived's failover race (docs/conntrackd-compat.md §3.1): keepalived raises the VIPs before
// the notify reaches us, so packets of flows that are not committed yet meet an empty conntrack
// table on the new master and get reset (a reject rule, or the local stack answering RST). While
// the commit runs, the guard DROPS (never rejects) those packets: clients retransmit, and by then
// the flow's entry is in the table.
//
// One nftables table, installed and removed atomically:
//
//   table inet ctsync_guard {
//     counter held { }
//     set vip4   { type ipv4_addr; flags timeout; elements = { 192.0.2.1 timeout 2000ms } }
//     set vip6   { type ipv6_addr; flags timeout; elements = { 2001:db8::1 timeout 2000ms } }
//     set ifaces { type ifname;    flags timeout; elements = { "eth1" timeout 2000ms } }
//     chain hold {
//       type filter hook prerouting priority -300; policy accept;   # raw: before conntrack (-200)
//       meta l4proto 112 accept                                       # VRRP itself
//       icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit, nd-router-advert } accept
//       ip saddr { 198.51.100.0/24 } accept                           # exemptSources
//       ip daddr @vip4 counter name "held" drop
//       ip6 daddr @vip6 counter name "held" drop
//       iifname @ifaces counter name "held" drop
//     }
//   }
//
// * Dropping at priority -300 keeps the packets away from conntrack too, so no fresh half-known
//   entry is created from a mid-stream packet before the commit brings the real one.
// * virtualAddresses hold traffic *to* the VIPs (DNAT'ed public addresses, services on the VIP);
//   on a router the VIP is the clients' next hop, not the destination of forwarded packets: list
//   the inside interfaces in `interfaces` to hold those.
// * The maximum hold is enforced twice: a timer removes the table after maxHoldMs even if the
//   commit hangs, and the set elements carry the same kernel timeout, so the kernel stops
//   dropping by itself even if the daemon dies while holding. clearStale() removes a leftover
//   (empty) table at start-up.
// * Removal is in two parts: deleting the chain (the only time-critical call: traffic flows again),
//   then reading the counter and deleting the table.
import net from 'node:net';
import type { GuardConfig } from './config.js';
import type { HaLog } from './log.js';
import { realClock, type Clock } from './machine.js';

export interface NftResult {
  ok: boolean;
  stdout: string;
  stderr: string;
}

/** Runs `nft ...args`, with `input` on stdin. */
export type NftRunner = (args: string[], input?: string) => Promise<NftResult>;

/** The real nft. `command` may prefix it, e.g. ['ip', 'netns', 'exec', 'ns1', 'nft']. */
export function execaNft(command: readonly string[] = ['nft'], timeoutMs = 10_000): NftRunner {
  const [file, ...pre] = command as [string, ...string[]];
  // loaded for a guard only, not with every daemon (~130 modules, ~3 MB of heap); now, in the
  // background, not in the time of the first hold
  const loaded = import('execa');
  loaded.catch(() => undefined);
  return async (args, input) => {
    const { execa } = await loaded;
    const r = await execa(file, [...pre, ...args], {
      reject: false,
      timeout: timeoutMs,
      ...(input === undefined ? { stdin: 'ignore' as const } : { input }),
    });
    const ok = !r.failed && r.exitCode === 0;
    const stdout = String(r.stdout ?? '');
    const stderr = String(r.stderr ?? '');
    return { ok, stdout, stderr: ok ? stderr : stderr || r.shortMessage || r.message || 'nft failed' };
  };
}

export const GUARD_TABLE = 'ctsync_guard';

export interface GuardScriptOptions {
  /** Table name (tests use their own). Default ctsync_guard. */
  table?: string;
}

function validTable(t: string): string {
  if (!/^[A-Za-z][A-Za-z0-9_]{0,30}$/.test(t)) throw new Error(`guard: bad nftables table name ${JSON.stringify(t)}`);
  return t;
}

function isCidr(s: string): 4 | 6 | 0 {
  const slash = s.indexOf('/');
  const addr = slash < 0 ? s : s.slice(0, slash);
  const fam = net.isIP(addr);
  if (fam === 0 || addr.includes('%')) return 0;
  if (slash >= 0) {
    const len = s.slice(slash + 1);
    if (!/^[0-9]{1,3}$/.test(len) || Number(len) > (fam === 4 ? 32 : 128)) return 0;
  }
  return fam as 4 | 6;
}

/**
 * The nft script that installs the guard (replacing any previous one) in one transaction.
 * Throws on an address, interface or network that is not valid (nothing is ever pasted into the
 * script unchecked).
 */
export function guardInstallScript(
  cfg: Pick<GuardConfig, 'virtualAddresses' | 'interfaces' | 'exemptSources' | 'maxHoldMs'>,
  opts: GuardScriptOptions = {},
): string {
  const table = validTable(opts.table ?? GUARD_TABLE);
  if (!Number.isInteger(cfg.maxHoldMs) || cfg.maxHoldMs < 1)
    throw new Error(`guard: maxHoldMs must be a positive whole number of milliseconds, got ${cfg.maxHoldMs}`);
  const v4: string[] = [];
  const v6: string[] = [];
  for (const a of cfg.virtualAddresses) {
    const fam = net.isIP(a);
    if (fam === 0 || a.includes('%'))
      throw new Error(`guard: virtualAddresses: ${JSON.stringify(a)} is not an IPv4 or IPv6 address`);
    (fam === 4 ? v4 : v6).push(a);
  }
  for (const i of cfg.interfaces) {
    if (!/^[A-Za-z0-9_.@+-]{1,15}$/.test(i) || i === '.' || i === '..')
      throw new Error(`guard: interfaces: ${JSON.stringify(i)} is not an interface name`);
  }
  const ex4: string[] = [];
  const ex6: string[] = [];
  for (const s of cfg.exemptSources) {
    const fam = isCidr(s);
    if (fam === 0) throw new Error(`guard: exemptSources: ${JSON.stringify(s)} is not an address or network`);
    (fam === 4 ? ex4 : ex6).push(s);
  }
  if (v4.length + v6.length + cfg.interfaces.length === 0)
    throw new Error('guard: nothing to hold (virtualAddresses and interfaces are empty)');
  const t = `timeout ${cfg.maxHoldMs}ms`;
  const elems = (xs: string[]) => xs.map((x) => `${x} ${t}`).join(', ');
  const L: string[] = [];
  // create-then-delete: removes a leftover table without failing when there is none, atomically
  L.push(`table inet ${table}`, `delete table inet ${table}`, `table inet ${table} {`);
  L.push('  counter held { }');
  if (v4.length) L.push(`  set vip4 { type ipv4_addr; flags timeout; elements = { ${elems(v4)} } }`);
  if (v6.length) L.push(`  set vip6 { type ipv6_addr; flags timeout; elements = { ${elems(v6)} } }`);
  if (cfg.interfaces.length)
    L.push(
      `  set ifaces { type ifname; flags timeout; elements = { ${cfg.interfaces.map((i) => `"${i}" ${t}`).join(', ')} } }`,
    );
  L.push('  chain hold {');
  L.push('    type filter hook prerouting priority -300; policy accept;');
  L.push('    meta l4proto 112 accept');
  L.push('    icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit, nd-router-advert } accept');
  if (ex4.length) L.push(`    ip saddr { ${ex4.join(', ')} } accept`);
  if (ex6.length) L.push(`    ip6 saddr { ${ex6.join(', ')} } accept`);
  if (v4.length) L.push('    ip daddr @vip4 counter name "held" drop');
  if (v6.length) L.push('    ip6 daddr @vip6 counter name "held" drop');
  if (cfg.interfaces.length) L.push('    iifname @ifaces counter name "held" drop');
  L.push('  }', '}', '');
  return L.join('\n');
}

/** Stops the holding (the time-critical part of the removal). */
export function guardReleaseScript(opts: GuardScriptOptions = {}): string {
  return `delete chain inet ${validTable(opts.table ?? GUARD_TABLE)} hold\n`;
}

/** Removes the table whether or not it exists. */
export function guardRemoveScript(opts: GuardScriptOptions = {}): string {
  const table = validTable(opts.table ?? GUARD_TABLE);
  return `table inet ${table}\ndelete table inet ${table}\n`;
}

/** packets/bytes of the `held` counter from `nft -j list counter inet T held`. */
export function parseHeldCounter(json: string): { packets: number; bytes: number } | undefined {
  try {
    const doc = JSON.parse(json) as { nftables?: Array<Record<string, unknown>> };
    for (const item of doc.nftables ?? []) {
      const c = item.counter as { name?: string; packets?: number; bytes?: number } | undefined;
      if (c && c.name === 'held' && typeof c.packets === 'number' && typeof c.bytes === 'number')
        return { packets: c.packets, bytes: c.bytes };
    }
  } catch {
    // not JSON
  }
  return undefined;
}

export interface GuardReport {
  /** How long traffic was held: install → hold chain deleted (at most maxHoldMs). */
  heldMs: number;
  /** 'caller' (the commit finished), 'max-hold' (the timer fired first). */
  releasedBy: 'caller' | 'max-hold';
  droppedPackets?: number;
  droppedBytes?: number;
  /** Set when removal failed (the kernel element timeouts still end the hold at maxHoldMs). */
  error?: string;
}

export interface TrafficGuardOptions {
  log: HaLog;
  nft?: NftRunner;
  clock?: Clock;
  table?: string;
}

/** One hold: from install to release. release() is idempotent and shared with the max-hold timer. */
export class GuardHold {
  private done?: Promise<GuardReport>;
  private timer: unknown;

  /** @internal made by TrafficGuard.hold() */
  constructor(
    private readonly guard: TrafficGuard,
    readonly installedAt: number,
    private readonly maxHoldMs: number,
    private readonly clock: Clock,
  ) {
    this.timer = clock.setTimer(maxHoldMs, () => void this.release('max-hold'));
  }

  get released(): boolean {
    return this.done !== undefined;
  }

  release(by: 'caller' | 'max-hold' = 'caller'): Promise<GuardReport> {
    if (!this.done) {
      this.clock.clearTimer(this.timer);
      this.done = this.guard.remove(this, by, this.maxHoldMs);
    }
    return this.done;
  }
}

export class TrafficGuard {
  private readonly nft: NftRunner;
  private readonly clock: Clock;
  private readonly log: HaLog;
  private readonly table: string;
  private current?: GuardHold;

  constructor(
    private readonly cfg: Pick<GuardConfig, 'virtualAddresses' | 'interfaces' | 'exemptSources' | 'maxHoldMs'>,
    opts: TrafficGuardOptions,
  ) {
    this.nft = opts.nft ?? execaNft();
    this.clock = opts.clock ?? realClock;
    this.log = opts.log;
    this.table = validTable(opts.table ?? GUARD_TABLE);
    guardInstallScript(cfg, { table: this.table }); // fail early on a bad config
  }

  /** Holds released since the start, and the packets they dropped (metrics). */
  readonly totals = { holds: 0, droppedPackets: 0 };

  /** The hold in progress, if any. */
  get active(): GuardHold | undefined {
    return this.current && !this.current.released ? this.current : undefined;
  }

  /** Installs the guard and starts the max-hold timer. Throws when nft fails (nothing is installed then). */
  async hold(): Promise<GuardHold> {
    if (this.current) await this.current.release('caller'); // never two holds at once
    const r = await this.nft(['-f', '-'], guardInstallScript(this.cfg, { table: this.table }));
    if (!r.ok) throw new Error(`guard: nft could not install table inet ${this.table}: ${oneLine(r.stderr)}`);
    const hold = new GuardHold(this, this.clock.now(), this.cfg.maxHoldMs, this.clock);
    this.current = hold;
    const what = [
      ...this.cfg.virtualAddresses.map((a) => `to ${a}`),
      ...this.cfg.interfaces.map((i) => `in on ${i}`),
    ].join(', ');
    this.log.info(`ha: guard on: dropping new traffic ${what} for at most ${this.cfg.maxHoldMs} ms`);
    return hold;
  }

  /** Removes a table left by an earlier run (start-up). */
  async clearStale(): Promise<void> {
    const r = await this.nft(['-f', '-'], guardRemoveScript({ table: this.table }));
    if (!r.ok) this.log.warn(`ha: guard: could not remove a leftover table inet ${this.table}: ${oneLine(r.stderr)}`);
  }

  /** @internal GuardHold.release() */
  async remove(hold: GuardHold, by: 'caller' | 'max-hold', maxHoldMs: number): Promise<GuardReport> {
    const r = await this.nft(['-f', '-'], guardReleaseScript({ table: this.table }));
    const releasedAt = this.clock.now();
    const report: GuardReport = {
      heldMs: Math.min(Math.max(0, releasedAt - hold.installedAt), maxHoldMs),
      releasedBy: by,
    };
    if (!r.ok) report.error = `nft could not delete chain hold: ${oneLine(r.stderr)}`;
    const c = await this.nft(['-j', 'list', 'counter', 'inet', this.table, 'held']);
    const counter = c.ok ? parseHeldCounter(c.stdout) : undefined;
    if (counter) {
      report.droppedPackets = counter.packets;
      report.droppedBytes = counter.bytes;
    }
    const d = await this.nft(['-f', '-'], guardRemoveScript({ table: this.table }));
    if (!d.ok) {
      const msg = `nft could not delete table inet ${this.table}: ${oneLine(d.stderr)}`;
      report.error = report.error ? `${report.error}; ${msg}` : msg;
    }
    if (this.current === hold) this.current = undefined;
    this.totals.holds++;
    this.totals.droppedPackets += report.droppedPackets ?? 0;
    const dropped = report.droppedPackets !== undefined ? `, ${report.droppedPackets} packets dropped` : '';
    if (report.error) {
      this.log.error(
        `ha: guard off FAILED after ${report.heldMs} ms: ${report.error} (the kernel stops holding after ${maxHoldMs} ms by itself)`,
      );
    } else if (by === 'max-hold') {
      this.log.warn(`ha: guard off after its maximum hold of ${maxHoldMs} ms, before the commit finished${dropped}`);
    } else {
      this.log.info(`ha: guard off after ${report.heldMs} ms${dropped}`);
    }
    return report;
  }
}

function oneLine(s: string): string {
  const t = s.trim().replace(/\s*\n\s*/g, ' | ');
  return t === '' ? 'no message' : t;
}
