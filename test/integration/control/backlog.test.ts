// `UNIX { Backlog N }` is the control socket's listen(2) backlog: the kernel shows it as the
// listening socket's Send-Q (ss -xl).
import { strict as assert } from 'node:assert';
import { SyncPair } from '../../helpers/syncpair.js';
import { requireRoot } from '../../helpers/netns.js';

describe('control socket: UNIX { Backlog }', function () {
  this.timeout(120_000);
  let pair: SyncPair | undefined;

  before(function () {
    requireRoot.call(this, 'ss');
  });

  after(async () => {
    await pair?.destroy();
  });

  it('is applied as the listen backlog', async () => {
    pair = await SyncPair.create('backlog', { impl: 'ctsync' }, { impl: 'ctsync', general: ['UNIX { Backlog 7 }'] });
    await pair.b.start();
    const r = await pair.b.ns.exec('ss', ['-xlH', 'src', pair.b.sock]);
    assert.equal(r.exitCode, 0, r.stderr);
    // Netid State Recv-Q Send-Q Local ...: for a listening socket Send-Q is the backlog
    const fields = r.stdout.trim().split(/\s+/);
    assert.equal(fields[3], '7', r.stdout);
  });
});
