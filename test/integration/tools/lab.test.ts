// The failover lab (tools/lab) as a test: two gateways in namespaces under the real keepalived,
// a strict stateful firewall (nf_conntrack_tcp_loose=0), long-lived TCP connections through the
// VIPs. With ctsync, every connection survives the failover and the failback without a reset
// (keepalived driving ctsync through a primary-backup.sh-style notify script, and through its
// notify FIFO read by ctsync itself); without conntrack sync, the same failover kills them.
import { strict as assert } from 'node:assert';
import { requireRoot } from '../../helpers/netns.js';
import { runExperiment, type ExperimentResult, type LabOptions } from '../../../tools/lab/lab.js';
import { experimentSummary } from '../../../tools/lab/report.js';

const BASE: Omit<LabOptions, 'sync' | 'prefix' | 'failure'> = {
  connections: 3,
  flows: 0,
  failback: true,
  ha: 'script',
  onDemand: false,
  advertInt: 0.2,
  preemptDelay: 2,
  stallMs: 6000,
  holdMs: 1000,
  statusEvery: 0,
};

async function experiment(
  opts: Pick<LabOptions, 'sync' | 'prefix' | 'failure'> & Partial<LabOptions>,
): Promise<ExperimentResult> {
  const lines: string[] = [];
  let result: ExperimentResult | undefined;
  try {
    ({ result } = await runExperiment({ ...BASE, ...opts, failback: opts.sync, print: (l) => lines.push(l) }));
    return result;
  } finally {
    // the lab's progress, for whoever reads a failure
    if (!result?.expected)
      console.log(lines.map((l) => `        ${l}`).join('\n') + (result ? '\n' + experimentSummary(result) : ''));
  }
}

describe('failover lab: keepalived + ctsync, long-lived TCP through a strict stateful firewall', function () {
  this.timeout(120_000);
  before(function () {
    requireRoot.call(this, 'keepalived', 'nft', 'flock');
  });

  const cases = [
    { failure: 'keepalived', ha: 'script', flows: 0, title: 'keepalived stopped; notify script' },
    { failure: 'link', ha: 'script', flows: 0, title: 'links down; notify script' },
    { failure: 'keepalived', ha: 'native', flows: 0, title: "keepalived stopped; keepalived's FIFO read by ctsync" },
    { failure: 'keepalived', ha: 'native', flows: 100_000, title: 'with 100,000 extra flows in the table; FIFO' },
  ] as const;
  for (const { failure, ha, flows, title } of cases) {
    it(`with ctsync, every connection survives failover and failback (${title})`, async function () {
      if (flows) this.timeout(300_000);
      const r = await experiment({
        sync: true,
        prefix: `tlab${failure[0]}${ha[0]}${flows ? 'f' : ''}`,
        failure,
        ha,
        flows,
        ...(flows ? { stallMs: 16_000 } : {}),
      });
      for (const c of r.connections) {
        assert.equal(c.lost, undefined, `connection ${c.conn} was lost: ${JSON.stringify(c.lost)}`);
        assert.equal(c.mismatches, 0, `connection ${c.conn}: the echoed stream differs from what was sent`);
        assert.ok(c.failoverGapMs !== null && c.failbackGapMs !== null);
      }
      assert.equal(r.serverResets, 0, 'the server saw connections reset');
      assert.ok(
        r.failover.commit && r.failover.commit.committed >= BASE.connections + flows && r.failover.commit.failed === 0,
        `gwB's commit: ${JSON.stringify(r.failover.commit)}`,
      );
      assert.ok(
        r.failback.commit && r.failback.commit.failed === 0,
        `gwA's commit: ${JSON.stringify(r.failback.commit)}`,
      );
      assert.ok(r.expected);
    });
  }

  it('without conntrack sync, the same failover kills them (the new gateway drops their packets)', async function () {
    const r = await experiment({ sync: false, prefix: 'tlabc', failure: 'keepalived' });
    for (const c of r.connections)
      assert.equal(c.lost?.reason, 'timeout', `connection ${c.conn}: ${JSON.stringify(c.lost)}`);
    assert.ok((r.firewall.gwB.fwd_invalid ?? 0) > 0, 'gwB dropped packets as ct state invalid');
    assert.ok(r.expected);
  });
});
