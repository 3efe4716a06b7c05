// conntrackd's `Helper` section on this machine's kernel, which has no nfnetlink_cthelper (the
// real conntrackd 1.4.7 refuses to start with VyOS's block: "trying to configure cthelper `tns':
// Invalid argument"). ctsync asks the kernel at start, starts anyway, and logs one warning per
// helper naming what will not work; `config check` on VyOS's rendered config says the same and
// nothing else.
import { strict as assert } from 'node:assert';
import fs from 'node:fs';
import path from 'node:path';
import { SyncPair } from '../../helpers/syncpair.js';
import { ctsyncBin, requireRoot } from '../../helpers/netns.js';
import { repoRoot } from '../../helpers/fakes.js';

const VYOS_HELPER_BLOCK = fs
  .readFileSync(path.join(repoRoot(), 'test/fixtures/conntrackd/vyos-udp.conf'), 'utf8')
  .match(/^Helper \{\n[\s\S]*?\n\}\n/m)![0];

describe('user-space helpers on a kernel without nfnetlink_cthelper', function () {
  this.timeout(120_000);
  let pair: SyncPair;

  before(async function () {
    requireRoot.call(this, 'conntrack');
    pair = await SyncPair.create('helper', { impl: 'ctsync' }, { impl: 'ctsync' });
  });

  after(async function () {
    await pair?.b.stop();
    await pair?.destroy();
  });

  const ctsync = (args: string[]) => pair.b.ns.exec(process.execPath, [ctsyncBin(), ...args], { timeout: 60_000 });
  const helperLines = (text: string): string[] => text.split('\n').filter((l) => l.includes("' (QueueNum "));

  it("config check on VyOS's rendered UDP and Multicast configs: ok, and only the three helper warnings", async () => {
    for (const file of ['vyos-udp.conf', 'vyos-udp-no-listen-address.conf', 'vyos-multicast.conf']) {
      const r = await ctsync(['config', 'check', path.join(repoRoot(), 'test/fixtures/conntrackd', file)]);
      assert.equal(r.exitCode, 0, r.stderr);
      const warnings = r.stderr.split('\n').filter((l) => l !== '');
      assert.deepEqual(
        warnings.map((w) => w.replace(/ \(QueueNum.*/, '')),
        [
          "warning: helper 'Type rpc inet tcp'",
          "warning: helper 'Type rpc inet udp'",
          "warning: helper 'Type tns inet tcp'",
        ],
      );
      for (const w of warnings)
        assert.match(
          w,
          /does not run: this kernel has no user-space conntrack helper support \(nfnetlink_cthelper: NFNL_SUBSYS_CTHELPER answered EINVAL;/,
        );
      assert.match(r.stdout, /ok \(conntrackd\.conf, 3 warning\(s\)\)/);
    }
  });

  it('the daemon starts with the Helper block and logs exactly one warning per helper', async () => {
    fs.appendFileSync(pair.b.conf, VYOS_HELPER_BLOCK);
    await pair.b.start();
    const log = fs.readFileSync(pair.b.log, 'utf8');
    const lines = helperLines(log);
    assert.equal(lines.length, 3, log);
    for (const [i, label] of ['Type rpc inet tcp', 'Type rpc inet udp', 'Type tns inet tcp'].entries()) {
      assert.ok(
        lines[i]!.includes(
          `(warn) helper '${label}' (QueueNum ${i + 3}) does not run: this kernel has no user-space conntrack helper support (nfnetlink_cthelper: NFNL_SUBSYS_CTHELPER answered EINVAL`,
        ),
        lines[i],
      );
    }
    assert.equal((await pair.b.client(['-s', 'rsqueue'])).exitCode, 0, 'the daemon answers');
  });
});
