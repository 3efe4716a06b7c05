// The lab's summaries: one per experiment, and the comparison of the two.
import type { Commit, ExperimentResult } from './lab.js';

const ms = (v: number | null | undefined): string =>
  v === null || v === undefined ? '-' : v < 10_000 ? `${Math.round(v)} ms` : `${(v / 1000).toFixed(1)} s`;

function bytes(n: number): string {
  return n < 1024 ? `${n} B` : n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} kB` : `${(n / 1024 / 1024).toFixed(1)} MB`;
}

function commitText(c: Commit | undefined): string {
  if (!c) return 'no commit seen';
  const wall = c.wallMs !== undefined ? ` (the \`ctsync -c\` call took ${c.wallMs} ms, node start included)` : '';
  return `${c.committed} entries (${c.replaced} replaced, ${c.failed} failed) in ${(c.seconds * 1000).toFixed(1)} ms${wall}`;
}

function gapCell(v: number | null, lost: boolean): string {
  if (lost) return 'LOST';
  if (v === null) return '-';
  return v === 0 ? '< 100 ms' : ms(v);
}

// eslint-disable-next-line max-lines-per-function -- listed exception, to be split
export function experimentSummary(r: ExperimentResult, gapThresholdMs = 100): string {
  const out: string[] = [];
  const what = r.failure === 'keepalived' ? 'keepalived stopped on gwA' : "all of gwA's links down";
  out.push('');
  const how =
    r.ha === 'native' ? 'keepalived FIFO read by ctsync' : 'keepalived notify script, primary-backup.sh style';
  out.push(
    `=== ${r.sync ? `WITH ctsync (${how})` : 'CONTROL: without conntrack sync'} (failure: ${what}${r.withFailback ? ', then failback to gwA' : ''}) ===`,
  );
  const kept = r.connections.filter((c) => !c.lost);
  const lostReasons = new Map<string, number>();
  for (const c of r.connections) if (c.lost) lostReasons.set(c.lost.reason, (lostReasons.get(c.lost.reason) ?? 0) + 1);
  const reasons = [...lostReasons].map(([k, n]) => `${n} × ${k}`).join(', ');
  out.push(
    `TCP connections kept: ${kept.length}/${r.connections.length}${reasons ? ` (lost: ${reasons})` : ' (no reset, echoed stream intact)'}`,
  );
  out.push(`  #  client socket           failover gap  ${r.withFailback ? 'failback gap  ' : ''}received`);
  for (const c of r.connections) {
    const fo = c.lost && c.lost.phase !== 'failback' ? `LOST ${c.lost.reason}` : gapCell(c.failoverGapMs, false);
    const fb = c.lost?.phase === 'failback' ? `LOST ${c.lost.reason}` : gapCell(c.failbackGapMs, !!c.lost);
    out.push(
      `  ${String(c.conn).padStart(2)} ${(c.local ?? '?').padEnd(22)} ${fo.padStart(13)}  ${r.withFailback ? `${fb.padStart(12)}  ` : ''}${bytes(c.rxBytes)}${c.mismatches ? `  (${c.mismatches} echo mismatches!)` : ''}`,
    );
  }
  out.push(
    `  (gap: last byte received before the switch -> first byte after; the client sends every 50 ms, so gaps under ${gapThresholdMs} ms are not counted.`,
  );
  out.push(
    '   Lost segments are retransmitted about 0.2, 0.6, 1.4, 3.0, 6.2 s after the first loss: the gap ends at the first retransmission after the commit.)',
  );
  const udpLost = Math.max(0, r.udp.tx - r.udp.rx);
  out.push(
    `UDP flow: failover gap ${gapCell(r.udp.failoverGapMs, false)}${r.withFailback ? `, failback gap ${gapCell(r.udp.failbackGapMs, false)}` : ''}, ${udpLost} of ${r.udp.tx} datagrams unanswered` +
      (r.sync
        ? ''
        : ' (the firewall lets the client open new UDP flows, so UDP recovers without sync: the difference shows in TCP)'),
  );
  out.push(
    `keepalived: gwB MASTER ${ms(r.failover.masterAfterMs)} after the failure` +
      (r.withFailback
        ? `; gwA back ${ms(r.failback.startedAtMs)} after the failure, MASTER again ${ms(r.failback.masterAfterMs)} after its return (preempt_delay)`
        : ''),
  );
  if (r.sync) {
    const done = r.ha === 'native' ? "ctsync's promotion done" : 'notify script done';
    out.push(
      `commit on gwB (failover): ${commitText(r.failover.commit)}; ${done} ${ms(r.failover.commitDoneAfterMs)} after the failure`,
    );
    if (r.withFailback)
      out.push(
        `commit on gwA (failback): ${commitText(r.failback.commit)}; ${done} ${ms(r.failback.commitDoneAfterMs)} after gwA's return`,
      );
  }
  if (r.flows.loaded > 0) {
    out.push(
      `synthetic flows: ${r.flows.loaded} loaded into gwA` +
        (r.sync
          ? `, in gwB's external cache ${ms(r.flows.replicatedMs)} after the load began; gwB's kernel table held ${r.flows.inBackupKernelAfterFailover ?? '?'} entries at the end`
          : ' (not replicated: no sync)'),
    );
  }
  const fw = (g: 'gwA' | 'gwB'): string =>
    `${g} dropped ${r.firewall[g].fwd_invalid ?? '?'} packets as ct state invalid, accepted ${r.firewall[g].fwd_new_tcp ?? '?'} new TCP connections`;
  out.push(`firewall: ${fw('gwA')}; ${fw('gwB')}`);
  if (r.vrrpFlaps)
    out.push(
      `WARNING: keepalived changed roles ${r.vrrpFlaps} more time(s) than the experiment asked for (missed VRRP adverts: an overloaded machine? try a larger --advert-int)`,
    );
  if (r.serverResets) out.push(`server: ${r.serverResets} connection(s) ended with an error (reset)`);
  out.push(
    r.expected
      ? r.sync
        ? 'RESULT: as expected, every TCP connection survived.'
        : 'RESULT: as expected, the connections died without conntrack sync.'
      : r.sync
        ? 'RESULT: UNEXPECTED, connections were lost although ctsync ran.'
        : 'RESULT: UNEXPECTED, connections survived without conntrack sync.',
  );
  return out.join('\n');
}

export function comparison(withSync: ExperimentResult | undefined, control: ExperimentResult | undefined): string {
  if (!withSync || !control) return '';
  const max = (vals: Array<number | null>): number | undefined => {
    const v = vals.filter((x): x is number => x !== null);
    return v.length ? Math.max(...v) : undefined;
  };
  const s = withSync.connections;
  const c = control.connections;
  const keptS = s.filter((x) => !x.lost).length;
  const keptC = c.filter((x) => !x.lost).length;
  return [
    '',
    '=== Same failover, with and without ctsync ===',
    `with ctsync:    ${keptS}/${s.length} TCP connections survived the failover (longest gap ${ms(max(s.map((x) => x.failoverGapMs)))})` +
      (withSync.withFailback ? ` and the failback (longest gap ${ms(max(s.map((x) => x.failbackGapMs)))})` : ''),
    `without ctsync: ${keptC}/${c.length} survived; gwB did not know them and dropped ${control.firewall.gwB.fwd_invalid ?? '?'} of their packets as invalid`,
  ].join('\n');
}
