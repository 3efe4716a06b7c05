// One warning per configured helper, naming it, its queue, why it does not run and what will not work.
import { strict as assert } from 'node:assert';
import { helperWarnings } from '../../../src/daemon/helper-notice.js';

describe('daemon: the warnings about user-space helpers', () => {
  const helpers = [
    { name: 'rpc', family: 'inet' as const, protocol: 'udp' as const, queueNum: 4 },
    { name: 'tns', family: 'inet' as const, protocol: 'tcp' as const, queueNum: 5 },
  ];

  it('a kernel without nfnetlink_cthelper: one warning per helper with the kernel answer', () => {
    assert.deepEqual(helperWarnings(helpers, { supported: false, reason: 'NFNL_SUBSYS_CTHELPER answered EINVAL' }), [
      "helper 'Type rpc inet udp' (QueueNum 4) does not run: this kernel has no user-space conntrack helper support (nfnetlink_cthelper: NFNL_SUBSYS_CTHELPER answered EINVAL; conntrackd 1.4.7 refuses to start here). Sun RPC services whose ports the portmapper announces (NFS, mountd, …) get no expectations through this gateway, and packets a ruleset sends to NFQUEUE 4 are dropped unless the rule has 'bypass'",
      "helper 'Type tns inet tcp' (QueueNum 5) does not run: this kernel has no user-space conntrack helper support (nfnetlink_cthelper: NFNL_SUBSYS_CTHELPER answered EINVAL; conntrackd 1.4.7 refuses to start here). Oracle TNS connections redirected to another port get no expectations through this gateway, and packets a ruleset sends to NFQUEUE 5 are dropped unless the rule has 'bypass'",
    ]);
  });

  it('a kernel with it: ctsync itself does not run them, and says so', () => {
    const [w] = helperWarnings(helpers.slice(0, 1), { supported: true });
    assert.match(
      w!,
      /^helper 'Type rpc inet udp' \(QueueNum 4\) does not run: ctsync does not implement conntrackd's user-space helpers\. /,
    );
  });

  it('no helper, no warning', () => assert.deepEqual(helperWarnings([], { supported: true }), []));
});
