// The NFQUEUE rules' script and their install/remove through a fake iptables.
import { strict as assert } from 'node:assert';
import { QueueRules, queueRulesScript, type IptablesRunner } from '../../../src/ha/queue-rules.js';

describe('ha/queue-rules', () => {
  it('queues everything but loopback, the sync link, VRRP (and ICMPv6), first in raw PREROUTING', () => {
    assert.equal(
      queueRulesScript({ queue: 3780, exemptInterfaces: ['eth9'] }, 6),
      [
        '*raw',
        ':CTSYNC_ONDEMAND - [0:0]',
        '-A CTSYNC_ONDEMAND -i lo -j RETURN',
        '-A CTSYNC_ONDEMAND -i eth9 -j RETURN',
        '-A CTSYNC_ONDEMAND -p 112 -j RETURN',
        '-A CTSYNC_ONDEMAND -p ipv6-icmp -j RETURN',
        '-A CTSYNC_ONDEMAND -j NFQUEUE --queue-num 3780 --queue-bypass',
        '-I PREROUTING 1 -j CTSYNC_ONDEMAND',
        'COMMIT',
        '',
      ].join('\n'),
    );
    assert.ok(!queueRulesScript({ queue: 1, exemptInterfaces: [] }, 4).includes('ipv6-icmp'));
  });

  it('refuses a bad interface name or queue number', () => {
    assert.throws(
      () => queueRulesScript({ queue: 1, exemptInterfaces: ['eth0 -j DROP'] }, 4),
      /"eth0 -j DROP" is not an interface name/,
    );
    assert.throws(
      () => queueRulesScript({ queue: 70000, exemptInterfaces: [] }, 4),
      /queue number 70000 is not in 0\.\.65535/,
    );
  });

  it('install removes leftovers first; a failed install leaves nothing and says why', async () => {
    const calls: string[] = [];
    const run: IptablesRunner = async (family, args) => {
      calls.push(`${family} ${args.join(' ')}`);
      const ok = !(family === 6 && args[0] === 'restore');
      return { ok, stdout: '', stderr: ok ? '' : 'no NFQUEUE' };
    };
    const rules = new QueueRules({ queue: 5, exemptInterfaces: [] }, run);
    await assert.rejects(rules.install(), /ip6tables-restore failed: no NFQUEUE/);
    assert.deepEqual(
      calls.filter((c) => c.includes('restore')),
      ['4 restore --noflush', '6 restore --noflush'],
    );
    assert.ok(calls[calls.length - 1] === '6 -t raw -X CTSYNC_ONDEMAND', 'the removal ran after the failure');
  });

  it('after its own removal, an install is one iptables-restore per family', async () => {
    const calls: string[] = [];
    const run: IptablesRunner = async (family, args) => {
      calls.push(`${family} ${args.join(' ')}`);
      return { ok: !args.includes('-D'), stdout: '', stderr: '' };
    };
    const rules = new QueueRules({ queue: 5, exemptInterfaces: [] }, run);
    await rules.remove();
    calls.length = 0;
    await rules.install();
    assert.deepEqual(calls.sort(), ['4 restore --noflush', '6 restore --noflush']);
    await rules.install(); // installed: a second install removes first
    assert.ok(calls.includes('4 -t raw -X CTSYNC_ONDEMAND') && calls.includes('6 -t raw -X CTSYNC_ONDEMAND'));
  });

  it('reads the NFQUEUE rules packet counters of both families', async () => {
    const listing = (n: number) =>
      `Chain CTSYNC_ONDEMAND (1 references)\n    pkts      bytes target     prot opt in     out     source               destination\n       0        0 RETURN     all  --  lo     *       0.0.0.0/0            0.0.0.0/0\n      ${n}     ${n * 60} NFQUEUE    all  --  *      *       0.0.0.0/0            0.0.0.0/0            NFQUEUE num 5 bypass\n`;
    const rules = new QueueRules({ queue: 5, exemptInterfaces: [] }, async (family) => ({
      ok: true,
      stdout: listing(family === 4 ? 7 : 2),
      stderr: '',
    }));
    assert.equal(await rules.queuedPackets(), 9);
  });
});
