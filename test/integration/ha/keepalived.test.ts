// The notify FIFO with the real keepalived 2.2.7 (not a stand-in writer): keepalived runs in a
// namespace with one vrrp_instance VI_1 in vrrp_sync_group G1 and writes its vrrp_notify_fifo;
// ctsync's reader → tracker → machine follow it. Link down → FAULT → fault; link up → BACKUP, then
// MASTER → active; keepalived stopping → STOP → backup. Every line keepalived writes must parse.
// The FIFO is created by us first, so keepalived reuses it and does not unlink it: a restarted
// keepalived keeps writing to the same inode, read without reopening.
import { strict as assert } from 'node:assert';
import fs from 'node:fs';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useNetns, vethPair } from '../../helpers/netns.js';
import { keepalivedArgs } from '../../../tools/lib/keepalived.js';
import { NotifyFifoReader } from '../../../src/ha/fifo.js';
import { KeepalivedTracker, fifoLineHandler, parseFifoLine } from '../../../src/ha/keepalived.js';
import { FailoverMachine, type Role } from '../../../src/ha/machine.js';
import { RecLog, sleep, recordingActions } from '../../helpers/fakes.js';

async function until(cond: () => boolean, what: string, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) assert.fail(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(20);
  }
}

describe('ha keepalived (integration): the real keepalived drives the machine through its notify FIFO', function () {
  this.timeout(90_000);
  const peer = useNetns('ha-ka-peer', 'keepalived');
  const gw = useNetns('ha-ka-gw', 'keepalived');
  let dir: string;
  let iface: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ctsync-ha-ka-'));
    iface = (await vethPair(peer(), gw(), '192.0.2.1/24', '192.0.2.2/24')).ifB;
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function startKeepalived(fifo: string, run: number) {
    const conf = join(dir, `keepalived-${run}.conf`);
    writeFileSync(
      conf,
      [
        'global_defs {',
        '  router_id ctsync_ha_test',
        `  vrrp_notify_fifo ${fifo}`,
        '  script_user root',
        '  enable_script_security',
        '}',
        'vrrp_sync_group G1 {',
        '  group {',
        '    VI_1',
        '  }',
        '}',
        'vrrp_instance VI_1 {',
        '  state MASTER',
        `  interface ${iface}`,
        '  virtual_router_id 51',
        '  priority 200',
        '  advert_int 1',
        '  virtual_ipaddress {',
        '    192.0.2.100/24',
        '  }',
        '}',
        '',
      ].join('\n'),
    );
    const f = (n: string) => join(dir, `${n}-${run}.pid`);
    return gw().spawn(
      'keepalived',
      keepalivedArgs(conf, { main: f('main'), vrrp: f('vrrp'), checkers: f('checkers') }),
    );
  }

  it('follows keepalived through MASTER, FAULT, BACKUP, MASTER and STOP, and across a keepalived restart', async () => {
    const fifo = join(dir, 'notify.fifo');
    const { actions, calls } = recordingActions();
    const log = new RecLog();
    const machine = new FailoverMachine({ actions, log });
    const raw: string[] = [];
    const handle = fifoLineHandler(new KeepalivedTracker({ groups: ['G1'] }), machine, log);
    const opens: number[] = [];
    const reader = new NotifyFifoReader({
      path: fifo,
      log,
      checkIntervalMs: 200,
      onLine: (l) => {
        raw.push(l);
        handle(l);
      },
      onOpen: (i) => opens.push(i.ino),
    });
    const role = (r: Role) => () => machine.currentRole === r;
    reader.start();
    // our FIFO first: keepalived unlinks at exit a FIFO it created itself (the reader's mkfifo
    // runs as a child process, so starting keepalived at once raced it)
    try {
      await until(() => opens.length === 1, 'the reader to open the FIFO', 5000);
    } catch (err) {
      await reader.stop();
      throw err;
    }
    let ka = startKeepalived(fifo, 1);
    try {
      await until(role('active'), 'MASTER → active', 20_000);
      assert.ok(raw.includes('INSTANCE "VI_1" MASTER 200'), raw.join('\n'));
      assert.ok(raw.includes('GROUP "G1" MASTER 0'), raw.join('\n'));

      await gw().exec('ip', ['link', 'set', iface, 'down'], { reject: true });
      await until(role('fault'), 'link down → FAULT → fault', 10_000);
      await gw().exec('ip', ['link', 'set', iface, 'up'], { reject: true });
      await until(
        () =>
          raw.filter((l) => l === 'GROUP "G1" BACKUP 0').length >= 1 &&
          machine.currentRole === 'active' &&
          raw.lastIndexOf('GROUP "G1" MASTER 0') > raw.indexOf('GROUP "G1" FAULT 0'),
        'link up → BACKUP → MASTER → active',
        20_000,
      );

      ka.kill('SIGTERM');
      await ka;
      await until(role('backup'), 'keepalived stopping → STOP → backup', 10_000);
      assert.deepEqual(raw.slice(-2), ['INSTANCE "VI_1" STOP 200', 'GROUP "G1" STOP 0']);

      // keepalived reused our FIFO (EEXIST) and left it in place
      assert.ok(fs.statSync(fifo).isFIFO());
      assert.equal(fs.statSync(fifo).ino, opens[0]);

      ka = startKeepalived(fifo, 2);
      await until(role('active'), 'restarted keepalived → MASTER → active', 20_000);
      assert.equal(opens.length, 1, 'same FIFO, no reopen');
    } finally {
      if (ka.exitCode === null && ka.signalCode === null) {
        ka.kill('SIGTERM');
        await ka;
      }
      await reader.stop();
      await machine.idle();
    }
    // every line keepalived wrote is understood; none was a checker line (-P: VRRP only)
    for (const l of raw) assert.equal(parseFifoLine(l).kind, 'vrrp', l);
    assert.deepEqual(
      log.lines.filter((l) => l.startsWith('warn ha: keepalived')),
      [],
    );
    // each promotion committed once, although keepalived reports INSTANCE and GROUP lines
    const kinds = machine.status().history.map((h) => h.kind);
    assert.equal(calls.filter((c) => c === 'commit').length, kinds.filter((k) => k === 'promote').length);
    for (const h of machine.status().history) assert.equal(h.reason.source, 'fifo');
    assert.ok(
      kinds.includes('fault') && kinds.includes('demote') && kinds.filter((k) => k === 'promote').length >= 3,
      kinds.join(' '),
    );
  });
});
