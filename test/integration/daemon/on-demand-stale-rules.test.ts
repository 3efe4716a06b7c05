// A ctsync killed while commit on demand ran leaves its NFQUEUE rules (harmless: --queue-bypass
// lets traffic through with nobody bound); the next start removes them.
import { strict as assert } from 'node:assert';
import { QueueRules, execaIptables } from '../../../src/ha/queue-rules.js';
import { SyncPair } from '../../helpers/syncpair.js';
import { requireRoot } from '../../helpers/netns.js';

describe('daemon: commit on demand rules left by a killed run', function () {
  let pair: SyncPair | undefined;

  before(async function () {
    requireRoot.call(this, 'conntrack', 'iptables', 'ip6tables');
    pair = await SyncPair.create('odstale', { impl: 'ctsync' }, { impl: 'ctsync' });
  });

  after(async function () {
    await pair?.destroy();
  });

  it('are removed at the next start', async function () {
    const p = pair!;
    const run = execaIptables(['ip', 'netns', 'exec', p.nsB.name]);
    await new QueueRules({ queue: 3780, exemptInterfaces: [] }, run).install();
    const save = async () =>
      (await p.nsB.exec('iptables-save', ['-t', 'raw'], { reject: true })).stdout +
      (await p.nsB.exec('ip6tables-save', ['-t', 'raw'], { reject: true })).stdout;
    assert.match(await save(), /CTSYNC_ONDEMAND/);
    await p.b.start();
    await p.b.kill();
    await p.b.start();
    assert.doesNotMatch(await save(), /CTSYNC_ONDEMAND/, p.b.logTail());
  });
});
