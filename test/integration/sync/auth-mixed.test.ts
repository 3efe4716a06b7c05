// A signed ctsync node (Authentication, Mode permissive) paired with a stock conntrackd 1.4.7
// (docs/ftfw-protocol.md §13.7): conntrackd skips each trailer as a message of a wrong protocol
// version and keeps syncing; ctsync passes conntrackd's unsigned datagrams on and counts them.
import { strict as assert } from 'node:assert';
import fs from 'node:fs';
import path from 'node:path';
import { SyncPair, mixedFlows, sleep } from '../../helpers/syncpair.js';
import { requireRoot } from '../../helpers/netns.js';
import { generateKeyFile } from '../../../src/config/auth-keys.js';

describe('a signed ctsync node with a stock conntrackd 1.4.7', function () {
  this.timeout(300_000);
  let pair: SyncPair;

  before(async function () {
    requireRoot.call(this, 'conntrack', 'conntrackd');
    pair = await SyncPair.create('amx', { impl: 'ctsync' }, { impl: 'conntrackd' });
    const keyFile = path.join(pair.dir, 'sync-1.key');
    generateKeyFile(keyFile);
    const auth = ['  Authentication {', '    Mode permissive', `    Key 1 ${keyFile}`, '  }'];
    fs.writeFileSync(pair.a.conf, fs.readFileSync(pair.a.conf, 'utf8').replace(/^\}$/m, `${auth.join('\n')}\n}`));
    await pair.b.start();
    await pair.a.start();
  });

  after(async function () {
    await pair?.destroy();
  });

  it('syncs both ways; conntrackd counts each signed datagram as a wrong-version message', async function () {
    await pair.load(pair.a, mixedFlows(50));
    await pair.converge(pair.a, pair.b);
    await pair.load(pair.b, mixedFlows(30, 5000));
    await pair.converge(pair.b, pair.a);
    await sleep(1000);
    const b = await pair.b.client(['-s']);
    const bad = /(\d+)\s+Malformed msgs/.exec(b.stdout) ?? /malformed[^\n]*?(\d+)/i.exec(b.stdout);
    process.stdout.write(
      `      conntrackd -s (network section):\n${b.stdout
        .split('\n')
        .filter((l) => /alformed|version|Msgs|msgs/.test(l))
        .join('\n')}\n`,
    );
    assert.ok(bad, b.stdout);
    assert.ok(Number(bad[1]) > 0, 'conntrackd counted the trailers as malformed');
    const a = await pair.a.client(['-s']);
    const noTrailer = /\tauth no trailer:\s+(\d+)/.exec(a.stdout);
    assert.ok(noTrailer && Number(noTrailer[1]) > 0, a.stdout);
    assert.match(a.stdout, /\tauth dropped:\s+0\n/);
  });
});
