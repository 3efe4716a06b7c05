// The NFQUEUE rules of commit on demand (engine/on-demand-commit.ts): while a promotion's commit
// runs, packets coming in on any interface but the exempt ones (loopback, the sync link) are
// queued to ctsync before conntrack sees them. iptables, because this kernel has the xt NFQUEUE
// target and not nftables' `queue` expression (iptables-nft uses the xt target through
// nft_compat; iptables-legacy works too). One chain per family in the raw table, jumped to first
// from PREROUTING (raw, priority -300: before conntrack at -200):
//
//   -N CTSYNC_ONDEMAND
//   -A CTSYNC_ONDEMAND -i lo -j RETURN
//   -A CTSYNC_ONDEMAND -i <sync link> -j RETURN
//   -A CTSYNC_ONDEMAND -p vrrp -j RETURN                 (112: keepalived itself)
//   -A CTSYNC_ONDEMAND -p ipv6-icmp -j RETURN            (IPv6 only: neighbour discovery)
//   -A CTSYNC_ONDEMAND -j NFQUEUE --queue-num N --queue-bypass
//   -I PREROUTING 1 -j CTSYNC_ONDEMAND
//
// --queue-bypass: with nobody bound to the queue (ctsync gone) packets pass as if the rule were
// not there. The kernel has no timeout for iptables rules: a ctsync killed while they are in
// place leaves them (harmless, by the bypass), and the next start removes them (clearStale).
// Locally generated packets (OUTPUT) are not queued.
import { execaNft, type NftRunner } from './guard.js';

export const QUEUE_CHAIN = 'CTSYNC_ONDEMAND';

export interface QueueRulesConfig {
  queue: number;
  /** Interfaces whose packets are never queued (the sync link); `lo` always. */
  exemptInterfaces: string[];
  chain?: string;
}

function checkIfName(i: string): string {
  if (!/^[A-Za-z0-9_.@+-]{1,15}$/.test(i) || i === '.' || i === '..')
    throw new Error(`on-demand commit: ${JSON.stringify(i)} is not an interface name`);
  return i;
}

/** The iptables-restore --noflush input that installs the rules for one family (4 or 6). */
export function queueRulesScript(cfg: QueueRulesConfig, family: 4 | 6): string {
  const chain = cfg.chain ?? QUEUE_CHAIN;
  if (!Number.isInteger(cfg.queue) || cfg.queue < 0 || cfg.queue > 65535)
    throw new Error(`on-demand commit: queue number ${cfg.queue} is not in 0..65535`);
  const exempt = ['lo', ...cfg.exemptInterfaces.filter((i) => i !== 'lo')].map(checkIfName);
  const L = ['*raw', `:${chain} - [0:0]`];
  for (const i of exempt) L.push(`-A ${chain} -i ${i} -j RETURN`);
  L.push(`-A ${chain} -p 112 -j RETURN`);
  if (family === 6) L.push(`-A ${chain} -p ipv6-icmp -j RETURN`);
  L.push(`-A ${chain} -j NFQUEUE --queue-num ${cfg.queue} --queue-bypass`);
  L.push(`-I PREROUTING 1 -j ${chain}`);
  L.push('COMMIT', '');
  return L.join('\n');
}

/** Runs iptables or ip6tables (`-w` is added) with these arguments. */
export type IptablesRunner = (family: 4 | 6, args: string[], input?: string) => ReturnType<NftRunner>;

export class QueueRules {
  private readonly chain: string;
  /** True once this instance removed (or never found) the rules: an install then needs no removal first. */
  private clean = false;

  constructor(
    private readonly cfg: QueueRulesConfig,
    private readonly run: IptablesRunner,
  ) {
    this.chain = cfg.chain ?? QUEUE_CHAIN;
    queueRulesScript(cfg, 4); // refuse a bad configuration now
  }

  /**
   * Installs the rules for both families; throws (with nothing left behind) when either fails. It
   * runs while packets to the new VIPs meet an empty table, so the families go in parallel and,
   * when this instance removed the rules last, without another removal first: one iptables-restore
   * each.
   */
  async install(): Promise<void> {
    const failures = await Promise.all(
      ([4, 6] as const).map(async (family) => {
        if (!this.clean) await this.removeFamily(family);
        const r = await this.run(family, ['restore', '--noflush'], queueRulesScript(this.cfg, family));
        return r.ok ? undefined : `ip${family === 6 ? '6' : ''}tables-restore failed: ${r.stderr.trim()}`;
      }),
    );
    this.clean = false;
    const failed = failures.filter((f) => f !== undefined);
    if (failed.length) {
      await this.remove();
      throw new Error(`on-demand commit: ${failed.join('; ')}`);
    }
  }

  /** Removes the rules of both families, whether or not they are there (also a crashed run's). */
  async remove(): Promise<void> {
    await Promise.all(([4, 6] as const).map((family) => this.removeFamily(family)));
    this.clean = true;
  }

  private async removeFamily(family: 4 | 6): Promise<void> {
    // a jump may have been inserted more than once by runs that died
    for (let i = 0; i < 8; i++) {
      const r = await this.run(family, ['-t', 'raw', '-D', 'PREROUTING', '-j', this.chain]);
      if (!r.ok) break;
    }
    await this.run(family, ['-t', 'raw', '-F', this.chain]);
    await this.run(family, ['-t', 'raw', '-X', this.chain]);
  }

  /** Packets the NFQUEUE rules matched (both families), from their counters; undefined if unreadable. */
  async queuedPackets(): Promise<number | undefined> {
    const counts = await Promise.all(
      ([4, 6] as const).map(async (family) => {
        const r = await this.run(family, ['-t', 'raw', '-L', this.chain, '-v', '-x', '-n']);
        if (!r.ok) return NaN;
        const line = r.stdout.split('\n').find((l) => l.includes('NFQUEUE'));
        return line ? Number(line.trim().split(/\s+/)[0]) : NaN;
      }),
    );
    const total = counts[0] + counts[1];
    return Number.isFinite(total) ? total : undefined;
  }
}

/**
 * The real iptables/ip6tables (and their -restore), with -w. `prefix` runs them elsewhere, e.g.
 * ['ip', 'netns', 'exec', 'ns1']; `variant` picks a backend ('-legacy', '-nft'; '' the default).
 */
export function execaIptables(prefix: readonly string[] = [], variant = ''): IptablesRunner {
  return (family, args, input) => {
    const base = family === 4 ? 'iptables' : 'ip6tables';
    const restore = args[0] === 'restore';
    const tool = restore ? `${base}${variant}-restore` : `${base}${variant}`;
    return execaNft([...prefix, tool])(['-w', ...(restore ? args.slice(1) : args)], input);
  };
}
