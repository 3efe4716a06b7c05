// withDefaults(): conntrackd 1.4.7's defaults, ctsync's four deliberate differences, shorthands.
import { strict as assert } from 'node:assert';
import {
  DEFAULTS,
  defaultChannelIndex,
  withDefaults,
  type CtsyncConfig,
  type CtsyncConfigInput,
} from '../../../src/config/model.js';

const MINIMAL: CtsyncConfigInput = {
  sync: {
    channels: [{ kind: 'udp', ipv4Address: '10.0.0.1', destination: '10.0.0.2', port: 3780, interface: 'eth1' }],
  },
};

describe('config: model defaults', () => {
  it('fills in every default of a minimal config', () => {
    const expected: CtsyncConfig = {
      sync: {
        mode: 'ftfw',
        resendQueueSize: 131072,
        ackWindowSize: 300,
        purgeTimeout: 60,
        disableExternalCache: false,
        startupResync: false,
        channels: [
          {
            kind: 'udp',
            default: false,
            ipv4Address: '10.0.0.1',
            destination: '10.0.0.2',
            port: 3780,
            interface: 'eth1',
            checksum: true,
          },
        ],
        options: { tcpWindowTracking: false, expectationSync: false },
      },
      general: {
        systemd: true,
        hashSize: 65536,
        hashLimit: 262144,
        logFile: false,
        syslog: false,
        lockFile: '/var/lock/conntrackd.lock',
        unix: { path: '/var/run/conntrackd.ctl' },
        netlinkBufferSizeMaxGrowth: 0,
        netlinkOverrunResync: 30,
        netlinkEventsReliable: false,
        eventIterationLimit: 100,
        filter: { from: 'userspace' },
      },
    };
    assert.deepStrictEqual(withDefaults(MINIMAL), expected);
  });

  it("differs from conntrackd's defaults in exactly three documented places", () => {
    const c = withDefaults(MINIMAL);
    assert.equal(c.sync.startupResync, false); // as conntrackd (its man page: off)
    assert.equal(c.general.unix.path, '/var/run/conntrackd.ctl'); // conntrackd: none
    assert.equal(c.general.scheduler, undefined); // conntrackd: SCHED_RR priority 99
    const g = withDefaults({ ...MINIMAL, general: { netlinkBufferSize: 4194304 } }).general;
    assert.equal(g.netlinkBufferSizeMaxGrowth, 4194304); // conntrackd: 0, and then ignores NetlinkBufferSize
    assert.equal(
      withDefaults({ ...MINIMAL, general: { netlinkBufferSize: 1000, netlinkBufferSizeMaxGrowth: 8000 } }).general
        .netlinkBufferSizeMaxGrowth,
      8000,
    );
  });

  it('leaves "not set" options absent (no undefined-valued keys)', () => {
    const c = withDefaults(MINIMAL);
    for (const k of ['commitTimeout'] as const) assert.ok(!(k in c.sync), k);
    for (const k of ['netlinkBufferSize', 'pollSecs', 'scheduler'] as const) assert.ok(!(k in c.general), k);
    assert.ok(!('backlog' in c.general.unix));
    assert.ok(!('sndSocketBuffer' in c.sync.channels[0]!) && !('rcvSocketBuffer' in c.sync.channels[0]!));
    assert.ok(!('ha' in c) && !('hooks' in c) && !('log' in c) && !('metrics' in c));
    assert.equal(JSON.stringify(c).includes('undefined'), false);
  });

  it('expands the `true` shorthands', () => {
    const g = withDefaults({
      ...MINIMAL,
      general: { logFile: true, syslog: true, netlinkOverrunResync: true },
    }).general;
    assert.equal(g.logFile, '/var/log/conntrackd.log');
    assert.equal(g.syslog, 'daemon');
    assert.equal(g.netlinkOverrunResync, 30);
  });

  it('resolves protocol names (any case) to numbers and fills empty address lists', () => {
    const f = withDefaults({
      ...MINIMAL,
      general: {
        filter: {
          protocol: { mode: 'ignore', protocols: ['TCP', 17, 'ipv6-icmp'] },
          address: { mode: 'ignore', ipv6: ['::1'] },
        },
      },
    }).general.filter;
    assert.deepStrictEqual(f, {
      from: 'userspace',
      protocol: { mode: 'ignore', protocols: [6, 17, 58] },
      address: { mode: 'ignore', ipv4: [], ipv6: ['::1'] },
    });
  });

  it('is idempotent and does not share arrays with its input', () => {
    const input: CtsyncConfigInput = { ...MINIMAL, sync: { ...MINIMAL.sync, options: { expectationSync: ['ftp'] } } };
    const once = withDefaults(input);
    assert.deepStrictEqual(withDefaults(once), once);
    (once.sync.options.expectationSync as string[]).push('sip');
    assert.deepStrictEqual(input.sync.options!.expectationSync, ['ftp']);
  });

  it('passes the ctsync-only sections through', () => {
    const c = withDefaults({
      ...MINIMAL,
      ha: { track: { groups: ['G1'] }, fifo: { path: '/run/keepalived.fifo' } },
      metrics: { address: '127.0.0.1', port: 9100 },
    });
    assert.deepStrictEqual(c.ha, { track: { groups: ['G1'] }, fifo: { path: '/run/keepalived.fifo' } });
    assert.deepStrictEqual(c.metrics, { address: '127.0.0.1', port: 9100 });
  });

  it('the first link is the default unless one is marked', () => {
    const chans = withDefaults({
      sync: { channels: [MINIMAL.sync.channels[0]!, { ...MINIMAL.sync.channels[0]!, port: 3781, default: true }] },
    }).sync.channels;
    assert.equal(defaultChannelIndex(chans), 1);
    assert.equal(defaultChannelIndex(withDefaults(MINIMAL).sync.channels), 0);
  });

  it('DEFAULTS holds conntrackd 1.4.7 values', () => {
    assert.equal(DEFAULTS.sync.resendQueueSize, 131072);
    assert.equal(DEFAULTS.sync.ackWindowSize, 300);
    assert.equal(DEFAULTS.sync.purgeTimeout, 60);
    assert.equal(DEFAULTS.general.hashSize, 65536);
    assert.equal(DEFAULTS.general.hashLimit, 262144);
    assert.equal(DEFAULTS.general.eventIterationLimit, 100);
    assert.equal(DEFAULTS.general.netlinkOverrunResync, 30);
    assert.equal(DEFAULTS.general.lockFile, '/var/lock/conntrackd.lock');
  });
});
