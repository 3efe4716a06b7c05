// Commit on demand's NFQUEUE rules over a daemon's life. With ha.onDemand on, the start arms them
// (in place, bypassed while no promotion binds the queue) and a clean stop removes them. A ctsync
// killed leaves them (harmless: --queue-bypass lets traffic through with nobody bound): the next
// start replaces them by one set of its own, or removes them when commit on demand is off.
import { strict as assert } from 'node:assert';
import fs from 'node:fs';
import { convertConntrackdConf } from '../../../src/config/load.js';
import { QueueRules, execaIptables } from '../../../src/ha/queue-rules.js';
import { SyncPair } from '../../helpers/syncpair.js';
import { requireRoot } from '../../helpers/netns.js';

describe('daemon: commit on demand rules over a run', function () {
  let pair: SyncPair | undefined;

  before(async function () {
    requireRoot.call(this, 'conntrack', 'iptables', 'ip6tables');
    pair = await SyncPair.create('odstale', { impl: 'ctsync' }, { impl: 'ctsync' });
  });

  after(async function () {
    await pair?.destroy();
  });

  const save = async () => {
    const ns = pair!.nsB;
    return (
      (await ns.exec('iptables-save', ['-t', 'raw'], { reject: true })).stdout +
      (await ns.exec('ip6tables-save', ['-t', 'raw'], { reject: true })).stdout
    );
  };

  it('a killed run leaves them; the next start without commit on demand removes them', async function () {
    const p = pair!;
    const run = execaIptables(['ip', 'netns', 'exec', p.nsB.name]);
    await new QueueRules({ queue: 3780, exemptInterfaces: [] }, run).install();
    assert.match(await save(), /CTSYNC_ONDEMAND/);
    await p.b.start();
    await p.b.kill();
    await p.b.start();
    assert.doesNotMatch(await save(), /CTSYNC_ONDEMAND/, p.b.logTail());
    await p.b.stop();
  });

  it('with commit on demand on: armed from the start, one set after a killed run, none after a stop', async function () {
    const p = pair!;
    const { config } = convertConntrackdConf(fs.readFileSync(p.b.conf, 'utf8'), p.b.conf);
    fs.writeFileSync(
      p.b.conf,
      JSON.stringify({ ...config, ha: { track: { groups: ['G1'] }, onDemand: { enabled: true } } }),
    );
    await p.b.start();
    const armed = await save();
    // both families: the jump first in raw PREROUTING, the sync link exempt
    assert.equal(armed.match(/-A PREROUTING -j CTSYNC_ONDEMAND/g)?.length, 2, armed);
    assert.match(armed, new RegExp(`-A CTSYNC_ONDEMAND -i ${p.b.ifname} -j RETURN`));
    assert.match(p.b.logTail(), /on-demand commit armed/);
    await p.b.kill();
    await p.b.start();
    assert.equal((await save()).match(/-A PREROUTING -j CTSYNC_ONDEMAND/g)?.length, 2, 'one set per family');
    await p.b.stop();
    assert.doesNotMatch(await save(), /CTSYNC_ONDEMAND/, p.b.logTail());
  });
});
