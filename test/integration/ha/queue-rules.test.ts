// The NFQUEUE rules on the real kernel, with both iptables backends: installed first in raw
// PREROUTING with --queue-bypass (traffic passes while nobody is bound), and removed, also when
// runs that died left them twice (what the next start does).
import { strict as assert } from 'node:assert';
import { QueueRules, execaIptables } from '../../../src/ha/queue-rules.js';
import { commandMissing, useNetns } from '../../helpers/netns.js';

describe('ha/queue-rules on the real kernel', function () {
  const ns = useNetns('qrules', 'iptables', 'ip6tables');

  for (const variant of ['-nft', '-legacy']) {
    it(`installs and removes the rules with iptables${variant}`, async function () {
      if (commandMissing(`iptables${variant}`) || commandMissing(`ip6tables${variant}`)) this.skip();
      const run = execaIptables(['ip', 'netns', 'exec', ns().name], variant);
      const rules = new QueueRules({ queue: 7, exemptInterfaces: ['veth9'] }, run);
      const save = async (tool: string) =>
        (await ns().exec(`${tool}${variant}-save`, ['-t', 'raw'], { reject: true })).stdout;
      await rules.install();
      await new QueueRules({ queue: 7, exemptInterfaces: ['veth9'] }, run).install(); // a second run's
      for (const tool of ['iptables', 'ip6tables']) {
        const s = await save(tool);
        assert.match(s, /-A PREROUTING -j CTSYNC_ONDEMAND\n/);
        assert.equal(s.match(/-j CTSYNC_ONDEMAND/g)?.length, 1, 'a new install replaces what is there');
        assert.match(s, /-A CTSYNC_ONDEMAND -i veth9 -j RETURN/);
        assert.match(s, /-A CTSYNC_ONDEMAND -j NFQUEUE --queue-num 7 --queue-bypass/);
      }
      assert.equal(await rules.queuedPackets(), 0);
      // as runs killed between install and removal would leave it: the jump twice
      await ns().exec(`iptables${variant}`, ['-t', 'raw', '-I', 'PREROUTING', '1', '-j', 'CTSYNC_ONDEMAND'], {
        reject: true,
      });
      await new QueueRules({ queue: 7, exemptInterfaces: [] }, run).remove();
      for (const tool of ['iptables', 'ip6tables']) assert.doesNotMatch(await save(tool), /CTSYNC_ONDEMAND/);
    });
  }
});
