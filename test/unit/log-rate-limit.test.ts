// The log's rate limiter, on a clock that moves only when the test says so.
import { strict as assert } from 'node:assert';
import Transport from 'winston-transport';
import { LogRateLimiter, messageKind } from '../../src/log-rate-limit.js';
import { createLogger } from '../../src/log.js';
import { ManualClock } from '../helpers/fakes.js';

/** A limiter with its clock, what it let through and what it emitted. */
function setup(opts = {}) {
  const clock = new ManualClock();
  const emitted: string[] = [];
  const limiter = new LogRateLimiter(clock, (level, message) => emitted.push(`${level} ${message}`), opts);
  const passed: string[] = [];
  const log = (level: string, message: string): void => {
    if (limiter.admit(level, message)) passed.push(`${level} ${message}`);
  };
  return { clock, limiter, emitted, passed, log };
}

/** What the summaries of `lines` count in all (the N of "(N more like it …)"). */
const summarised = (lines: string[]): number =>
  lines.reduce((n, l) => n + Number(/\((\d+) more like it/.exec(l)?.[1] ?? 0), 0);

describe('LogRateLimiter', () => {
  it('lets a burst of 5 of a kind through, counts the rest and says how many at the end of the 10 s window', () => {
    const { clock, emitted, passed, log } = setup();
    for (let i = 0; i < 1000; i++) log('info', 'peer restarted');
    assert.equal(passed.length, 5);
    assert.deepEqual(emitted, []);
    clock.advance(9_999);
    assert.deepEqual(emitted, [], 'nothing before the window ends');
    clock.advance(1);
    assert.deepEqual(emitted, ['info peer restarted (995 more like it in the last 10 s)']);
  });

  it('takes numbers and addresses out of the kind, and shows the last suppressed message in the summary', () => {
    assert.equal(
      messageKind('warn', 'sync channel: 192.0.2.1:3780 said 42 (fe80::1a2b)'),
      messageKind('warn', 'sync channel: 198.51.100.7:80 said 7 (fe80::9)'),
    );
    assert.notEqual(messageKind('warn', 'peer restarted'), messageKind('warn', 'peer contacted us'));
    assert.notEqual(messageKind('warn', 'peer restarted'), messageKind('error', 'peer restarted'));
    const { clock, emitted, passed, log } = setup();
    for (let i = 1; i <= 8; i++) log('warn', `external cache full: ${i} entries refused (HashLimit 5000)`);
    assert.equal(passed.length, 5);
    clock.advance(10_000);
    assert.deepEqual(emitted, [
      'warn external cache full: 8 entries refused (HashLimit 5000) (3 more like it in the last 10 s)',
    ]);
  });

  it('keeps kinds and levels apart', () => {
    const { clock, emitted, passed, log } = setup();
    for (let i = 0; i < 20; i++) {
      log('info', 'peer restarted');
      log('error', 'peer restarted');
      log('info', `sending the internal cache to the peer (${i} entries)`);
    }
    assert.equal(passed.length, 15);
    clock.advance(10_000);
    assert.deepEqual(emitted.sort(), [
      'error peer restarted (15 more like it in the last 10 s)',
      'info peer restarted (15 more like it in the last 10 s)',
      'info sending the internal cache to the peer (19 entries) (15 more like it in the last 10 s)',
    ]);
  });

  it('while a flood lasts: no new burst, one line per window, the window doubling up to a minute', () => {
    const { clock, emitted, passed, log } = setup();
    let sent = 0;
    // 10 messages a second for 10 minutes
    for (let ms = 0; ms < 600_000; ms += 100) {
      log('warn', 'sync channel: recvmsg ECONNREFUSED');
      sent++;
      clock.advance(100);
    }
    clock.advance(60_000);
    assert.equal(passed.length, 5, 'only the first burst');
    assert.deepEqual(
      emitted.slice(0, 4).map((l) => /in the last (\d+) s/.exec(l)?.[1]),
      ['10', '20', '40', '60'],
    );
    assert.ok(emitted.length <= 14, `one line per window (${emitted.length})`);
    assert.equal(passed.length + summarised(emitted), sent, 'every message is shown or counted');
  });

  it('starts with a burst again after a window without the kind', () => {
    const { clock, emitted, passed, log } = setup();
    for (let i = 0; i < 7; i++) log('info', 'peer restarted');
    clock.advance(10_000); // summary of 2; the next window (20 s) lets none through
    log('info', 'peer restarted');
    assert.equal(passed.length, 5);
    clock.advance(20_000); // the summary of 1; the next window is 40 s long
    assert.equal(emitted.length, 2);
    clock.advance(40_000); // a whole window without it
    log('info', 'peer restarted');
    assert.equal(passed.length, 6, 'a new burst');
    clock.advance(60_000);
    assert.equal(emitted.length, 2, 'nothing suppressed, nothing to say');
  });

  it('loses no warning or error: flush() reports what open windows counted', () => {
    const { clock, emitted, passed, log, limiter } = setup();
    for (let i = 0; i < 12; i++) log('error', `commit: EEXIST: flow ${i}`);
    clock.advance(3_000);
    limiter.flush();
    assert.deepEqual(emitted, ['error commit: EEXIST: flow 11 (7 more like it in the last 3 s)']);
    assert.equal(passed.length + summarised(emitted), 12);
    assert.equal(clock.pendingTimers, 0);
  });

  it("tracks a bounded number of kinds: beyond, a level's messages share one count", () => {
    const { clock, emitted, passed, log, limiter } = setup({ maxKinds: 4, burst: 1 });
    const words = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel'];
    for (const w of words) log('info', `kind ${w}`);
    assert.equal(limiter.kinds, 5, '4 kinds and the shared one');
    assert.deepEqual(passed, [
      'info kind alpha',
      'info kind bravo',
      'info kind charlie',
      'info kind delta',
      'info kind echo',
    ]);
    clock.advance(10_000);
    assert.deepEqual(emitted, [
      'info 3 more info messages of other kinds in the last 10 s (too many kinds at once to count them apart)',
    ]);
    // the windows that ended are forgotten when room is needed
    clock.advance(60_000);
    log('info', 'kind india');
    assert.deepEqual(passed.at(-1), 'info kind india');
  });
});

describe('createLogger rate limiting', () => {
  class Capture extends Transport {
    lines: string[] = [];
    override log(info: Record<string | symbol, unknown>, next: () => void): void {
      this.lines.push(String(info[Symbol.for('message')]));
      next();
    }
  }

  it("limits every call site through one format, and the log's end flushes the counts", async () => {
    const clock = new ManualClock();
    const log = createLogger({ console: false, clock, level: 'info' });
    const out = new Capture();
    log.add(out);
    for (let i = 0; i < 100; i++) log.info('peer restarted');
    for (let i = 0; i < 3; i++) log.log('warn', `sync channel: recvmsg ECONNREFUSED ${i}`);
    for (let i = 0; i < 100; i++) log.debug('below the level: not counted');
    await new Promise((r) => setImmediate(r));
    assert.equal(out.lines.length, 8);
    clock.advance(10_000);
    await new Promise((r) => setImmediate(r));
    assert.match(out.lines.at(-1)!, /^\[.*\] \(info\) peer restarted \(95 more like it in the last 10 s\)$/);
    for (let i = 0; i < 10; i++) log.error('cannot write');
    const finished = new Promise((r) => log.on('finish', r));
    log.end();
    await finished;
    assert.match(out.lines.at(-1)!, /\(error\) cannot write \(5 more like it in the last 1 s\)$/);
    assert.equal(out.lines.length, 8 + 1 + 5 + 1);
  });

  it('can be turned off', async () => {
    const log = createLogger({ console: false, rateLimit: false });
    const out = new Capture();
    log.add(out);
    for (let i = 0; i < 50; i++) log.info('peer restarted');
    await new Promise((r) => setImmediate(r));
    assert.equal(out.lines.length, 50);
  });
});
