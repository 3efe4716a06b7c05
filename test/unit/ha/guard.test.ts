// src/ha/guard.ts without nft: the generated scripts (exact text), input validation, the counter
// parser, and the hold/release life cycle on a fake clock with a scripted nft (max hold timer,
// idempotent release, failures). The real kernel side is test/integration/ha/guard.test.ts.
import { strict as assert } from 'node:assert';
import {
  GUARD_TABLE,
  TrafficGuard,
  guardInstallScript,
  guardReleaseScript,
  guardRemoveScript,
  parseHeldCounter,
  type NftResult,
  type NftRunner,
} from '../../../src/ha/guard.js';
import type { Clock } from '../../../src/ha/machine.js';
import { RecLog } from '../../helpers/fakes.js';

class FakeClock implements Clock {
  t = 1_000_000;
  timers: Array<{ at: number; id: number; cb: () => void }> = [];
  private seq = 0;
  now() {
    return this.t;
  }
  setTimer(ms: number, cb: () => void) {
    const id = ++this.seq;
    this.timers.push({ at: this.t + ms, id, cb });
    return id;
  }
  clearTimer(h: unknown) {
    this.timers = this.timers.filter((x) => x.id !== h);
  }
  advance(ms: number) {
    this.t += ms;
    for (const x of this.timers.filter((y) => y.at <= this.t)) {
      this.clearTimer(x.id);
      x.cb();
    }
  }
}

const COUNTER_JSON = JSON.stringify({
  nftables: [
    { metainfo: { version: '1.0.6' } },
    { counter: { family: 'inet', name: 'held', table: 'ctsync_guard', handle: 2, packets: 7, bytes: 420 } },
  ],
});

/** Records nft calls; each takes `cost` ms of fake time; results scripted per call kind. */
function fakeNft(
  clock: FakeClock,
  cost = 5,
  results: Partial<Record<'install' | 'release' | 'list' | 'remove', NftResult>> = {},
) {
  const calls: Array<{ args: string[]; input?: string; kind: string }> = [];
  const run: NftRunner = async (args, input) => {
    const kind =
      args[0] === '-j'
        ? 'list'
        : input?.startsWith('delete chain')
          ? 'release'
          : input?.includes('{')
            ? 'install'
            : 'remove';
    calls.push({ args, input, kind });
    clock.t += cost;
    await Promise.resolve();
    return results[kind as 'install'] ?? { ok: true, stdout: kind === 'list' ? COUNTER_JSON : '', stderr: '' };
  };
  return { run, calls };
}

const CFG = {
  virtualAddresses: ['192.0.2.1', '2001:db8::1', '192.0.2.2'],
  interfaces: ['eth1'],
  exemptSources: ['198.51.100.0/24', '2001:db8:1::/48', '203.0.113.7'],
  maxHoldMs: 2000,
};

describe('ha guard: nft scripts', () => {
  it('installs one table with timed sets, a raw-priority prerouting chain and exemptions', () => {
    assert.equal(
      guardInstallScript(CFG),
      [
        'table inet ctsync_guard',
        'delete table inet ctsync_guard',
        'table inet ctsync_guard {',
        '  counter held { }',
        '  set vip4 { type ipv4_addr; flags timeout; elements = { 192.0.2.1 timeout 2000ms, 192.0.2.2 timeout 2000ms } }',
        '  set vip6 { type ipv6_addr; flags timeout; elements = { 2001:db8::1 timeout 2000ms } }',
        '  set ifaces { type ifname; flags timeout; elements = { "eth1" timeout 2000ms } }',
        '  chain hold {',
        '    type filter hook prerouting priority -300; policy accept;',
        '    meta l4proto 112 accept',
        '    icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit, nd-router-advert } accept',
        '    ip saddr { 198.51.100.0/24, 203.0.113.7 } accept',
        '    ip6 saddr { 2001:db8:1::/48 } accept',
        '    ip daddr @vip4 counter name "held" drop',
        '    ip6 daddr @vip6 counter name "held" drop',
        '    iifname @ifaces counter name "held" drop',
        '  }',
        '}',
        '',
      ].join('\n'),
    );
  });

  it('leaves out what is not configured', () => {
    const s = guardInstallScript(
      { virtualAddresses: ['192.0.2.1'], interfaces: [], exemptSources: [], maxHoldMs: 750 },
      { table: 'tguard' },
    );
    assert.equal(
      s,
      [
        'table inet tguard',
        'delete table inet tguard',
        'table inet tguard {',
        '  counter held { }',
        '  set vip4 { type ipv4_addr; flags timeout; elements = { 192.0.2.1 timeout 750ms } }',
        '  chain hold {',
        '    type filter hook prerouting priority -300; policy accept;',
        '    meta l4proto 112 accept',
        '    icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit, nd-router-advert } accept',
        '    ip daddr @vip4 counter name "held" drop',
        '  }',
        '}',
        '',
      ].join('\n'),
    );
  });

  it('release and removal scripts', () => {
    assert.equal(guardReleaseScript(), 'delete chain inet ctsync_guard hold\n');
    assert.equal(guardRemoveScript({ table: 'x1' }), 'table inet x1\ndelete table inet x1\n');
    assert.equal(GUARD_TABLE, 'ctsync_guard');
  });

  it('refuses anything that is not an address, network or interface name (nothing unchecked reaches nft)', () => {
    const base = { virtualAddresses: ['192.0.2.1'], interfaces: [], exemptSources: [], maxHoldMs: 1000 };
    const cases: Array<[object, string]> = [
      [
        { virtualAddresses: ['192.0.2.1; flush ruleset'] },
        'guard: virtualAddresses: "192.0.2.1; flush ruleset" is not an IPv4 or IPv6 address',
      ],
      [
        { virtualAddresses: ['192.0.2.0/24'] },
        'guard: virtualAddresses: "192.0.2.0/24" is not an IPv4 or IPv6 address',
      ],
      [
        { virtualAddresses: ['fe80::1%eth0'] },
        'guard: virtualAddresses: "fe80::1%eth0" is not an IPv4 or IPv6 address',
      ],
      [{ interfaces: ['eth1" drop'] }, 'guard: interfaces: "eth1\\" drop" is not an interface name'],
      [
        { interfaces: ['averyveryverylongname'] },
        'guard: interfaces: "averyveryverylongname" is not an interface name',
      ],
      [{ exemptSources: ['198.51.100.0/33'] }, 'guard: exemptSources: "198.51.100.0/33" is not an address or network'],
      [{ exemptSources: ['any'] }, 'guard: exemptSources: "any" is not an address or network'],
      [{ virtualAddresses: [] }, 'guard: nothing to hold (virtualAddresses and interfaces are empty)'],
      [{ maxHoldMs: 0 }, 'guard: maxHoldMs must be a positive whole number of milliseconds, got 0'],
    ];
    for (const [patch, msg] of cases) assert.throws(() => guardInstallScript({ ...base, ...patch }), { message: msg });
    assert.throws(() => guardInstallScript(base, { table: 'bad name' }), {
      message: 'guard: bad nftables table name "bad name"',
    });
  });

  it('reads the held counter from nft -j output', () => {
    assert.deepEqual(parseHeldCounter(COUNTER_JSON), { packets: 7, bytes: 420 });
    assert.equal(parseHeldCounter('{"nftables":[]}'), undefined);
    assert.equal(parseHeldCounter('Error: No such file or directory'), undefined);
  });
});

describe('ha guard: hold and release', () => {
  it('holds, then releases on request: measures the hold, reads the counter, removes the table', async () => {
    const clock = new FakeClock();
    const nft = fakeNft(clock);
    const log = new RecLog();
    const g = new TrafficGuard(CFG, { log, nft: nft.run, clock });
    const hold = await g.hold();
    assert.equal(hold.installedAt, 1_000_005);
    assert.equal(g.active, hold);
    clock.t += 340; // the commit
    const r = await hold.release();
    assert.deepEqual(r, { heldMs: 345, releasedBy: 'caller', droppedPackets: 7, droppedBytes: 420 });
    assert.deepEqual(
      nft.calls.map((c) => c.kind),
      ['install', 'release', 'list', 'remove'],
    );
    assert.deepEqual(nft.calls[2]!.args, ['-j', 'list', 'counter', 'inet', 'ctsync_guard', 'held']);
    assert.equal(g.active, undefined);
    assert.deepEqual(g.totals, { holds: 1, droppedPackets: 7 }, 'the totals the metrics read');
    assert.equal(clock.timers.length, 0, 'the max-hold timer is cleared');
    assert.deepEqual(log.lines, [
      'info ha: guard on: dropping new traffic to 192.0.2.1, to 2001:db8::1, to 192.0.2.2, in on eth1 for at most 2000 ms',
      'info ha: guard off after 345 ms, 7 packets dropped',
    ]);
  });

  it('releases itself after maxHoldMs when the commit hangs; the late release gets the same report', async () => {
    const clock = new FakeClock();
    const nft = fakeNft(clock, 0);
    const log = new RecLog();
    const g = new TrafficGuard({ ...CFG, maxHoldMs: 2000 }, { log, nft: nft.run, clock });
    const hold = await g.hold();
    clock.advance(1999);
    assert.deepEqual(
      nft.calls.map((c) => c.kind),
      ['install'],
    );
    clock.advance(1);
    assert.equal(hold.released, true);
    const late = await hold.release();
    assert.deepEqual(late, { heldMs: 2000, releasedBy: 'max-hold', droppedPackets: 7, droppedBytes: 420 });
    assert.deepEqual(
      nft.calls.map((c) => c.kind),
      ['install', 'release', 'list', 'remove'],
      'removed once',
    );
    assert.ok(
      log.lines.includes(
        'warn ha: guard off after its maximum hold of 2000 ms, before the commit finished, 7 packets dropped',
      ),
    );
  });

  it('concurrent releases share one removal', async () => {
    const clock = new FakeClock();
    const nft = fakeNft(clock);
    const hold = await new TrafficGuard(CFG, { log: new RecLog(), nft: nft.run, clock }).hold();
    const [a, b] = await Promise.all([hold.release(), hold.release()]);
    assert.equal(a, b);
    assert.equal(nft.calls.filter((c) => c.kind === 'release').length, 1);
  });

  it('a failed install throws and leaves no timer', async () => {
    const clock = new FakeClock();
    const nft = fakeNft(clock, 1, {
      install: { ok: false, stdout: '', stderr: 'Error: Could not process rule: Operation not permitted\n' },
    });
    const g = new TrafficGuard(CFG, { log: new RecLog(), nft: nft.run, clock });
    await assert.rejects(g.hold(), {
      message:
        'guard: nft could not install table inet ctsync_guard: Error: Could not process rule: Operation not permitted',
    });
    assert.equal(clock.timers.length, 0);
    assert.equal(g.active, undefined);
  });

  it('a failed removal is reported (the kernel timeouts still end the hold)', async () => {
    const clock = new FakeClock();
    const nft = fakeNft(clock, 1, {
      release: { ok: false, stdout: '', stderr: 'Error: Could not process rule: Device or resource busy' },
      remove: { ok: false, stdout: '', stderr: 'Error: busy' },
    });
    const log = new RecLog();
    const hold = await new TrafficGuard(CFG, { log, nft: nft.run, clock }).hold();
    const r = await hold.release();
    assert.equal(
      r.error,
      'nft could not delete chain hold: Error: Could not process rule: Device or resource busy; nft could not delete table inet ctsync_guard: Error: busy',
    );
    assert.ok(
      log.lines.some(
        (l) =>
          l.startsWith('error ha: guard off FAILED after 1 ms: ') &&
          l.endsWith('(the kernel stops holding after 2000 ms by itself)'),
      ),
    );
  });

  it('a new hold first ends the previous one', async () => {
    const clock = new FakeClock();
    const nft = fakeNft(clock);
    const g = new TrafficGuard(CFG, { log: new RecLog(), nft: nft.run, clock });
    const h1 = await g.hold();
    const h2 = await g.hold();
    assert.equal(h1.released, true);
    assert.equal(g.active, h2);
    assert.deepEqual(
      nft.calls.map((c) => c.kind),
      ['install', 'release', 'list', 'remove', 'install'],
    );
  });

  it('clearStale removes a leftover table whether or not there is one', async () => {
    const clock = new FakeClock();
    const nft = fakeNft(clock);
    await new TrafficGuard(CFG, { log: new RecLog(), nft: nft.run, clock }).clearStale();
    assert.deepEqual(nft.calls, [
      { args: ['-f', '-'], input: 'table inet ctsync_guard\ndelete table inet ctsync_guard\n', kind: 'remove' },
    ]);
  });

  it('rejects a bad configuration when constructed', () => {
    assert.throws(
      () => new TrafficGuard({ ...CFG, virtualAddresses: ['nope'] }, { log: new RecLog() }),
      /guard: virtualAddresses: "nope"/,
    );
  });
});
