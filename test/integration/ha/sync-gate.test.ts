// What "no master before synced" relies on in keepalived 2.2.7 itself, with the stanza of
// keepalived/keepalived.conf (a sync group with sync_group_tracking_weight, members tracking
// ctsync's sync state with a weight): two real keepalived in two namespaces, priorities 150
// and 100, each tracking a file as ctsync's health.trackFile writes it (0, or -60 unsynced).
// An unsynced node loses against a synced peer; once synced it wins; alone it takes over even
// unsynced (a weight lowers the priority, it does not fault the instance).
import { strict as assert } from 'node:assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { useNetns, vethPair, type Netns } from '../../helpers/netns.js';
import { keepalivedArgs } from '../../../tools/lib/keepalived.js';
import { sleep } from '../../helpers/fakes.js';

const VIP = '192.0.2.100';

describe('ha sync gate (integration): keepalived weights a track file as ctsync writes it', function () {
  this.timeout(120_000);
  const nsA = useNetns('gate-a', 'keepalived');
  const nsB = useNetns('gate-b', 'keepalived');
  let dir: string;
  let ifA: string;
  let ifB: string;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctsync-gate-'));
    const link = await vethPair(nsA(), nsB(), '192.0.2.1/24', '192.0.2.2/24');
    ifA = link.ifA;
    ifB = link.ifB;
  });
  after(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const trackFile = (name: string): string => path.join(dir, `${name}.synced`);
  const setSynced = (name: string, synced: boolean): void => {
    // as the daemon writes it: whole, by rename
    fs.writeFileSync(`${trackFile(name)}.tmp`, synced ? '0\n' : '-60\n');
    fs.renameSync(`${trackFile(name)}.tmp`, trackFile(name));
  };

  function startKeepalived(ns: Netns, name: string, iface: string, priority: number) {
    const conf = path.join(dir, `keepalived-${name}.conf`);
    fs.writeFileSync(
      conf,
      [
        'global_defs {',
        `  router_id gate_${name}`,
        '  vrrp_version 3',
        '  script_user root',
        '  enable_script_security',
        '}',
        'vrrp_track_file ctsync_synced {',
        `  file ${trackFile(name)}`,
        '  weight 1',
        '}',
        'vrrp_sync_group G1 {',
        '  group {',
        '    VI_1',
        '  }',
        '  sync_group_tracking_weight',
        '}',
        'vrrp_instance VI_1 {',
        '  state BACKUP',
        `  interface ${iface}`,
        '  virtual_router_id 51',
        `  priority ${priority}`,
        '  advert_int 0.2',
        '  track_file {',
        '    ctsync_synced',
        '  }',
        '  virtual_ipaddress {',
        `    ${VIP}/24`,
        '  }',
        '}',
        '',
      ].join('\n'),
    );
    const f = (n: string): string => path.join(dir, `${name}-${n}.pid`);
    return ns.spawn('keepalived', keepalivedArgs(conf, { main: f('main'), vrrp: f('vrrp'), checkers: f('checkers') }));
  }

  const holdsVip = async (ns: Netns): Promise<boolean> =>
    (await ns.exec('ip', ['-4', 'addr', 'show'])).stdout.includes(`inet ${VIP}/`);

  async function master(expect: 'a' | 'b', what: string, ms = 20_000): Promise<void> {
    const end = Date.now() + ms;
    for (;;) {
      const [a, b] = [await holdsVip(nsA()), await holdsVip(nsB())];
      if ((expect === 'a' ? a && !b : b && !a) && Date.now() > end - ms + 2000) return;
      if (Date.now() > end)
        assert.fail(`${what}: the VIP is on ${a ? 'a ' : ''}${b ? 'b' : ''}${!a && !b ? 'neither' : ''}`);
      await sleep(200);
    }
  }

  it('an unsynced node loses to a synced one, wins once synced, and takes over alone unsynced', async () => {
    setSynced('a', false);
    setSynced('b', true);
    startKeepalived(nsB(), 'b', ifB, 100);
    const kaA = startKeepalived(nsA(), 'a', ifA, 150);
    // a: 150 - 60 = 90 < 100
    await master('b', 'unsynced a (priority 150) against synced b (100)');
    await sleep(2000);
    assert.equal(await holdsVip(nsA()), false, 'a did not take over while unsynced');
    setSynced('a', true);
    await master('a', 'a synced: 150 > 100, it preempts');
    // a's peer goes; b is unsynced and alone: it must still take over
    setSynced('b', false);
    // a crash: no goodbye advert, b waits for its master-down timer
    kaA.kill('SIGKILL');
    await master('b', 'b alone, unsynced');
    const state = await nsB().exec('ip', ['-4', 'addr', 'show']);
    assert.match(state.stdout, new RegExp(`inet ${VIP.replace(/\./g, '\\.')}/`));
  });
});
