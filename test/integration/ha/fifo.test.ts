// src/ha/fifo.ts on real FIFOs (mkfifo in a temp dir), with writers behaving like keepalived 2.2.7
// (open O_RDWR|O_NONBLOCK, one write per line, unlink at exit if it created the FIFO): lines in
// order, across writes and writer restarts, no EOF loop, reopen when the FIFO is recreated, waiting
// for a FIFO that does not exist yet, and the whole path FIFO → tracker → machine.
import { strict as assert } from 'node:assert';
import fs from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { NotifyFifoReader, type FifoReaderOptions } from '../../../src/ha/fifo.js';
import { KeepalivedTracker, fifoLineHandler } from '../../../src/ha/keepalived.js';
import { FailoverMachine } from '../../../src/ha/machine.js';
import { RecLog, sleep, recordingActions } from '../../helpers/fakes.js';

async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** A writer like keepalived: its own O_RDWR|O_NONBLOCK descriptor, one write(2) per line. */
class FakeKeepalived {
  private fd: number;
  created = false;
  constructor(readonly path: string) {
    this.fd = fs.openSync(path, fs.constants.O_RDWR | fs.constants.O_NONBLOCK);
  }
  static async start(path: string): Promise<FakeKeepalived> {
    let created = false;
    if (!fs.existsSync(path)) {
      await execa('mkfifo', ['-m', '0644', path]);
      created = true;
    }
    const k = new FakeKeepalived(path);
    k.created = created;
    return k;
  }
  write(text: string): void {
    fs.writeSync(this.fd, text);
  }
  line(l: string): void {
    this.write(`${l}\n`);
  }
  /** keepalived's fifo_close(): close, and unlink if it made the FIFO. */
  stop(): void {
    fs.closeSync(this.fd);
    if (this.created) fs.unlinkSync(this.path);
  }
}

describe("ha fifo (integration): reading keepalived's notify FIFO", function () {
  this.timeout(30_000);
  let dir: string;
  let reader: NotifyFifoReader | undefined;
  let writers: FakeKeepalived[] = [];
  let n = 0;
  let path: string;

  beforeEach(() => {
    path = join(dir, `notify-${n++}.fifo`);
  });
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'ctsync-ha-fifo-'));
  });
  afterEach(async () => {
    await reader?.stop();
    reader = undefined;
    for (const w of writers)
      try {
        w.stop();
      } catch {
        /* already */
      }
    writers = [];
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  function start(opts: Partial<FifoReaderOptions> = {}) {
    const lines: string[] = [];
    const log = new RecLog();
    const opens: number[] = [];
    reader = new NotifyFifoReader({
      path,
      onLine: (l) => lines.push(l),
      log,
      checkIntervalMs: 100,
      retryMinMs: 20,
      retryMaxMs: 200,
      onOpen: (i) => opens.push(i.ino),
      ...opts,
    });
    reader.start();
    return { lines, log, opens, r: reader };
  }
  async function keepalived(): Promise<FakeKeepalived> {
    const k = await FakeKeepalived.start(path);
    writers.push(k);
    return k;
  }

  it('creates the FIFO when missing (mkfifo) and reads lines in order, also across writes', async () => {
    const { lines, opens } = start();
    await until(() => opens.length === 1, 'open');
    assert.ok(fs.statSync(path).isFIFO());
    assert.equal((fs.statSync(path).mode & 0o777).toString(8), '600');
    const k = await keepalived();
    assert.equal(k.created, false, 'keepalived finds the FIFO and will not unlink it');
    k.line('INSTANCE "VI_1" BACKUP 100');
    k.write('GROUP "G1" MAS');
    await sleep(50);
    k.write('TER 0\nINSTANCE "VI_1" MASTER 100\n');
    await until(() => lines.length === 3, '3 lines');
    assert.deepEqual(lines, ['INSTANCE "VI_1" BACKUP 100', 'GROUP "G1" MASTER 0', 'INSTANCE "VI_1" MASTER 100']);
  });

  it('keeps reading when writers come and go (no EOF, no reopen), and a burst arrives complete and in order', async () => {
    const { lines, opens, r } = start();
    await until(() => opens.length === 1, 'open');
    const k1 = await keepalived();
    k1.line('GROUP "G1" BACKUP 0');
    k1.stop(); // keepalived exits (did not create it: the FIFO stays)
    // a shell writer: open O_WRONLY does not block, since we hold the FIFO open
    await execa('sh', ['-c', `printf 'GROUP "G1" MASTER 0\\n' > '${path}'`], { timeout: 5000 });
    const k2 = await keepalived();
    for (let i = 0; i < 2000; i++) k2.line(`INSTANCE "VI_${i}" MASTER ${i % 256}`);
    await until(() => lines.length === 2002, '2002 lines');
    assert.deepEqual(lines.slice(0, 2), ['GROUP "G1" BACKUP 0', 'GROUP "G1" MASTER 0']);
    for (let i = 0; i < 2000; i++) assert.equal(lines[i + 2], `INSTANCE "VI_${i}" MASTER ${i % 256}`);
    await sleep(300);
    assert.equal(opens.length, 1);
    assert.equal(r.stats.reopens, 0);
  });

  it('reopens when keepalived recreates the FIFO (new inode) and reads the new one', async () => {
    const { lines, opens, log, r } = start({ create: false });
    const k1 = await keepalived(); // keepalived creates it
    assert.equal(k1.created, true);
    await until(() => opens.length === 1, 'first open');
    k1.line('GROUP "G1" MASTER 0');
    await until(() => lines.length === 1, 'line 1');
    k1.stop(); // unlinks it
    const k2 = await keepalived(); // restarted keepalived: a new FIFO
    k2.line('GROUP "G1" BACKUP 0'); // written before we reopen: buffered by keepalived's own descriptor
    await until(() => lines.length === 2, 'line from the new FIFO');
    assert.deepEqual(lines, ['GROUP "G1" MASTER 0', 'GROUP "G1" BACKUP 0']);
    assert.equal(opens.length, 2);
    assert.notEqual(opens[0], opens[1]);
    assert.ok(r.stats.reopens >= 1);
    assert.ok(
      log.lines.some((l) =>
        /^info ha: fifo: reopening .* (is gone \(ENOENT\)|was replaced \(inode \d+ → \d+\))$/.test(l),
      ),
      log.lines.join('\n'),
    );
  });

  it('waits for a FIFO that does not exist yet (create: false), logging it once', async () => {
    const { lines, opens, log } = start({ create: false });
    await sleep(400);
    assert.equal(opens.length, 0);
    const waiting = log.lines.filter((l) => l.includes('does not exist (yet); waiting for keepalived to create it'));
    assert.equal(waiting.length, 1, log.lines.join('\n'));
    const k = await keepalived();
    k.line('INSTANCE "VI_1" MASTER 100'); // keepalived writes its first states right away
    await until(() => lines.length === 1, 'the line written before we opened');
    assert.deepEqual(lines, ['INSTANCE "VI_1" MASTER 100']);
  });

  it('recreates the FIFO when it is removed under it (create: true)', async () => {
    const { lines, opens } = start();
    await until(() => opens.length === 1, 'open');
    fs.unlinkSync(path);
    await until(() => opens.length === 2, 'reopen');
    assert.ok(fs.statSync(path).isFIFO());
    const k = await keepalived();
    k.line('GROUP "G1" FAULT 0');
    await until(() => lines.length === 1, 'line');
  });

  it('refuses a path that is not a FIFO, and picks the FIFO up once it is one', async () => {
    fs.writeFileSync(path, 'not a fifo\n');
    const { lines, opens, log } = start();
    await sleep(200);
    assert.equal(opens.length, 0);
    assert.ok(log.lines.some((l) => l === `warn ha: fifo: ${path} is not a FIFO; retrying`));
    fs.unlinkSync(path);
    await until(() => opens.length === 1, 'open');
    (await keepalived()).line('GROUP "G1" BACKUP 0');
    await until(() => lines.length === 1, 'line');
  });

  it('drops an unfinished line when the FIFO is replaced', async () => {
    const { lines, opens, log, r } = start({ create: false });
    const k1 = await keepalived();
    await until(() => opens.length === 1, 'open');
    k1.write('GROUP "G1" MAS'); // half a line (two readers: docs/conntrackd-compat.md §3.3)
    await sleep(50);
    k1.stop();
    const k2 = await keepalived();
    k2.line('GROUP "G1" BACKUP 0');
    await until(() => lines.length === 1, 'line');
    assert.deepEqual(lines, ['GROUP "G1" BACKUP 0']);
    assert.equal(r.stats.partialDropped, 1);
    assert.ok(log.lines.some((l) => l.startsWith('warn ha: fifo: dropped an unfinished line of 14 bytes')));
  });

  it('stop() closes the FIFO but never removes it', async () => {
    const { opens, r } = start();
    await until(() => opens.length === 1, 'open');
    await r.stop();
    reader = undefined;
    assert.ok(fs.statSync(path).isFIFO());
  });

  it("FIFO → tracker → machine: keepalived's group events switch the role, MASTER twice commits once", async () => {
    const { actions, calls } = recordingActions();
    const log = new RecLog();
    const m = new FailoverMachine({ actions, log });
    const { opens } = start({ onLine: fifoLineHandler(new KeepalivedTracker({ groups: ['G1'] }), m, log) });
    await until(() => opens.length === 1, 'open');
    const k = await keepalived();
    // what keepalived writes for a sync group G1 {VI_1 VI_2} becoming master, plus a checker line
    for (const l of [
      'INSTANCE "VI_1" BACKUP 100',
      'INSTANCE "VI_2" BACKUP 100',
      'GROUP "G1" BACKUP 0',
      'INSTANCE "VI_1" MASTER 100',
      'INSTANCE "VI_2" MASTER 100',
      'GROUP "G1" MASTER 0',
      'VS [192.0.2.10]:tcp:80 UP',
      'GROUP "G1" MASTER 0',
    ])
      k.line(l);
    await until(() => m.currentRole === 'active' && calls.includes('bulk'), 'active');
    await m.idle();
    assert.deepEqual(calls, ['resync', 'purge', 'commit', 'flush', 'reload', 'bulk']);
    assert.deepEqual(
      m.status().history.map((h) => [h.kind, h.reason.detail]),
      [
        ['demote', 'GROUP "G1" BACKUP 0'],
        ['promote', 'GROUP "G1" MASTER 0'],
      ],
    );
    k.line('GROUP "G1" FAULT 0');
    await until(() => m.currentRole === 'fault', 'fault');
  });
});
