// Hostile input on the sync port: 100,000 random and mutated datagrams from the peer's address,
// and datagrams from a stranger. The daemon stays up, counts them, and keeps syncing. It has
// ExpectationSync on, so well-formed EXP messages among them land in its expectation cache too.
// Its log stays short: what the datagrams make it say is rate-limited (src/log-rate-limit.ts).
import { strict as assert } from 'node:assert';
import fs from 'node:fs';
import path from 'node:path';
import { SyncPair, mixedFlows } from '../../helpers/syncpair.js';
import { requireRoot } from '../../helpers/netns.js';
import { controlRequest } from '../../../src/control/client.js';

const FUZZER = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../../tools/fuzz/fuzz-peer.js');

interface Counters {
  malformed: { total: number };
  channel: { packetsReceived: number; foreign: number };
}

describe('sync receiver under fuzz', function () {
  this.timeout(300_000);
  let pair: SyncPair;

  before(async function () {
    requireRoot.call(this, 'conntrack');
    pair = await SyncPair.create('fuzz', { impl: 'ctsync' }, { impl: 'ctsync', options: ['ExpectationSync on'] });
    await pair.b.start();
  });

  after(async function () {
    await pair?.destroy();
  });

  /** The backup's log: lines, bytes, and what its rate limit's summaries counted. */
  const backupLog = (): { lines: string[]; bytes: number; summarised: number } => {
    const text = fs.readFileSync(pair.b.log, 'utf8');
    const lines = text.split('\n').filter(Boolean);
    const summarised = lines.reduce(
      (n, l) => n + Number(/\((\d+) more like it in the last \d+ s\)$/.exec(l)?.[1] ?? 0),
      0,
    );
    return { lines, bytes: Buffer.byteLength(text), summarised };
  };
  /** Without the rate limit, 100,000 datagrams wrote ~5,600 lines (~390 KB) here. */
  const LOG_LINES_MAX = 150;
  const LOG_BYTES_MAX = 30_000;

  const stats = async (): Promise<Counters> =>
    ((await controlRequest(pair.b.sock, { cmd: 'stats' })) as { counters: Counters }).counters;

  it('survives 100,000 random and mutated datagrams from the peer address, counting them malformed', async function () {
    const r = await pair.a.ns.exec(
      process.execPath,
      [FUZZER, '--from', '192.0.2.1', '--to', '192.0.2.2', '--count', '100000'],
      { timeout: 240_000 },
    );
    assert.equal(r.exitCode, 0, r.stderr);
    const s = await stats();
    assert.ok(s.channel.packetsReceived > 50_000, `most datagrams reached the daemon (${s.channel.packetsReceived})`);
    assert.ok(s.malformed.total > 50_000, `counted as malformed (${s.malformed.total})`);
    console.log(
      `      (${s.channel.packetsReceived} datagrams received, ${s.malformed.total} malformed messages counted)`,
    );
    // mutated HELLO flags make it believe the peer restarted, and answer with a bulk: a line or
    // two each, thousands of times
    const log = backupLog();
    console.log(`      (its log: ${log.lines.length} lines, ${log.bytes} bytes)`);
    assert.ok(
      log.lines.length <= LOG_LINES_MAX && log.bytes <= LOG_BYTES_MAX,
      `the log stays short: ${log.lines.length} lines, ${log.bytes} bytes`,
    );
  });

  it('drops and counts datagrams from anyone but the configured peer', async function () {
    await pair.a.ns.exec('ip', ['addr', 'add', '192.0.2.3/24', 'dev', pair.a.ifname]);
    // let the daemon drain what the fuzzer left queued
    let before = await stats();
    for (;;) {
      await new Promise((res) => setTimeout(res, 300));
      const now = await stats();
      if (now.channel.packetsReceived === before.channel.packetsReceived) break;
      before = now;
    }
    const r = await pair.a.ns.exec(process.execPath, [
      FUZZER,
      '--from',
      '192.0.2.3',
      '--to',
      '192.0.2.2',
      '--count',
      '500',
    ]);
    assert.equal(r.exitCode, 0, r.stderr);
    await new Promise((res) => setTimeout(res, 300));
    const after = await stats();
    assert.ok(after.channel.foreign - before.channel.foreign >= 400, 'stranger datagrams counted');
    assert.equal(after.malformed.total, before.malformed.total, 'and never parsed');
  });

  it('then syncs normally with the real peer', async function () {
    // mutated messages that happen to be valid are indistinguishable from the peer's data: they
    // are in the external cache now, as they would be in conntrackd's; start from a clean one
    assert.equal((await pair.b.client(['-f', 'external'])).exitCode, 0);
    await pair.a.start();
    await pair.load(pair.a, mixedFlows(2000));
    await pair.converge(pair.a, pair.b);
  });

  it('says how many log lines it left out: the counts are written, at the latest when it stops', async function () {
    await pair.b.stop();
    const log = backupLog();
    console.log(
      `      (its log: ${log.lines.length} lines, ${log.bytes} bytes; ${log.summarised} lines left out and counted)`,
    );
    assert.ok(log.lines.length <= LOG_LINES_MAX + 10, `the log stays short: ${log.lines.length} lines`);
    assert.ok(log.summarised > 1000, `the suppressed lines are counted (${log.summarised})`);
    assert.match(log.lines.join('\n'), /\(info\) peer restarted \(\d+ more like it in the last \d+ s\)/);
  });
});
