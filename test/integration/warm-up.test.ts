// The start-up warm-up (src/engine/warm-up.ts) on the real network stack: two throwaway engines
// replicate 5,000 synthetic flows over a namespace's loopback and leave nothing behind; with the
// loopback down it gives up at once, with the reason, instead of failing the start.
//
// The warm-up does not resync: a resync (-f external, -n) asked for within the first seconds
// after two engines start waits for the end of FT-FW's HELLO linger (S1 in src/sync/ftfw.ts,
// three ALIVE periods: 5,000 flows arrived ~3.5 s late), by design.
import { strict as assert } from 'node:assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { useNetns } from '../helpers/netns.js';

const WARM_UP_URL = new URL('../../src/engine/warm-up.js', import.meta.url).href;
const LOAD_URL = new URL('../../src/config/load.js', import.meta.url).href;

describe('start-up warm-up of the sync paths', function () {
  this.timeout(60_000);
  const ns = useNetns('warmup');
  let dir: string;

  before(function () {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctsync-warmup-'));
    // the daemon's own link is not used: the warm-up moves it to the loopback pair
    fs.writeFileSync(path.join(dir, 'a.conf'), `Sync {
  Mode FTFW {
  }
  UDP Default {
    IPv4_address 192.0.2.1
    IPv4_Destination_Address 192.0.2.2
    Port 3780
    Interface lo
  }
}
General {
  HashSize 32768
  HashLimit 131072
  LockFile ${dir}/a.lock
  UNIX { Path ${dir}/a.sock }
}
`);
  });

  after(function () {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Runs the warm-up in a node process inside the namespace: its result, and the sockets it left open. */
  async function warmUp(): Promise<{ result: { flows: number; ms: number; skipped?: string }; socketsBefore: number; socketsAfter: number }> {
    const code = `
      const fs = await import('node:fs');
      const sockets = () => fs.readdirSync('/proc/self/fd').filter((f) => { try { return fs.readlinkSync('/proc/self/fd/' + f).startsWith('socket:['); } catch { return false; } }).length;
      const { loadConfig } = await import(${JSON.stringify(LOAD_URL)});
      const { warmUpSyncPaths } = await import(${JSON.stringify(WARM_UP_URL)});
      const { config } = await loadConfig(${JSON.stringify(path.join(dir, 'a.conf'))});
      const socketsBefore = sockets();
      const result = await warmUpSyncPaths(config);
      await new Promise((r) => setTimeout(r, 100));
      console.log(JSON.stringify({ result, socketsBefore, socketsAfter: sockets() }));
      process.exit(0);
    `;
    const r = await ns().exec(process.execPath, ['--input-type=module', '-e', code], { timeout: 30_000 });
    assert.equal(r.exitCode, 0, r.stderr);
    return JSON.parse(r.stdout.trim().split('\n').pop()!);
  }

  it('replicates, updates and deletes 5,000 flows between two engines over loopback, then closes every socket', async function () {
    const { result, socketsBefore, socketsAfter } = await warmUp();
    assert.equal(result.skipped, undefined, `not skipped: ${result.skipped}`);
    assert.equal(result.flows, 5000);
    assert.equal(socketsAfter, socketsBefore, 'every socket of the warm-up (UDP, netlink) is closed again');
  });

  it('with the loopback down: skipped before any engine is built, saying why; nothing thrown', async function () {
    await ns().exec('ip', ['link', 'set', 'lo', 'down'], { reject: true });
    try {
      const { result } = await warmUp();
      // the loopback check's reason: it gave up before building any engine
      assert.match(result.skipped ?? '', /no datagram from 127\.0\.0\.1 to 127\.0\.0\.2 \(loopback down\?\)/);
    } finally {
      await ns().exec('ip', ['link', 'set', 'lo', 'up'], { reject: true });
    }
  });
});
