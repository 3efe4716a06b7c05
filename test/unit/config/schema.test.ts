// The native (JSON) configuration: schema validation names every problem with its key path and
// what was expected; unknown keys are errors; checks beyond the schema (one transport, families,
// multicast ranges, protocol names); lint warnings.
import { strict as assert } from 'node:assert';
import { ConfigError } from '../../../src/config/errors.js';
import { withDefaults, type CtsyncConfigInput } from '../../../src/config/model.js';
import { checkConfig, keyPath, lintConfig, validateConfig } from '../../../src/config/schema.js';

const udp = (extra: Record<string, unknown> = {}) => ({
  kind: 'udp',
  ipv4Address: '10.0.0.1',
  destination: '10.0.0.2',
  port: 3780,
  interface: 'eth1',
  ...extra,
});
const minimal = (extra: Record<string, unknown> = {}) => ({ sync: { channels: [udp()] }, ...extra });

function errorOf(value: unknown): string {
  try {
    validateConfig(value, 'ctsync.json');
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${String(e)}`);
    return e.message;
  }
  assert.fail('expected a ConfigError');
}

/** Shallow-merges `patch` into a fresh minimal config's sync / general. */
function withSync(patch: Record<string, unknown>) {
  return { sync: { channels: [udp()], ...patch } };
}
function withGeneral(patch: Record<string, unknown>) {
  return { ...minimal(), general: patch };
}

describe('config: JSON schema', () => {
  it('accepts a minimal config and returns it unchanged', () => {
    const value = minimal();
    assert.equal(validateConfig(value, 'x'), value);
  });

  it("accepts $schema, validates the ha and hooks sections with the failover layer's schema", () => {
    const value = {
      $schema: 'urn:ctsync:schema:config',
      ...minimal(),
      ha: { track: { groups: ['G1'] }, fifo: { path: '/run/keepalived.fifo' } },
      hooks: { prePromote: '/etc/ctsync/pre' },
      log: { level: 'debug' },
      metrics: { address: '::1', port: 9469 },
    };
    assert.doesNotThrow(() => validateConfig(value, 'x'));
    assert.throws(
      () => validateConfig({ ...minimal(), ha: { anything: [1, 2] }, hooks: 'x' }, 'x'),
      /ha\.track: is missing[\s\S]*ha\.anything: unknown key[\s\S]*hooks: must be the hooks section/,
    );
  });

  it('refuses a metrics section without an address and port, or with a bad one', () => {
    assert.throws(() => validateConfig({ ...minimal(), metrics: null }, 'x'), /metrics: must be the metrics section/);
    assert.throws(
      () => validateConfig({ ...minimal(), metrics: {} }, 'x'),
      /metrics\.address: is missing[\s\S]*metrics\.port: is missing/,
    );
    const bad = /(metrics\..*)/g;
    let message = '';
    try {
      validateConfig({ ...minimal(), metrics: { address: 'localhost', port: 70000, path: '/m' } }, 'x');
    } catch (err) {
      message = (err as Error).message;
    }
    assert.deepStrictEqual(message.match(bad), [
      'metrics.path: unknown key (expected one of: address, port)',
      'metrics.address: must be an IPv4 or IPv6 address to listen on, got "localhost"',
      'metrics.port: must be <= 65535, got 70000',
    ]);
  });

  it('accepts every documented key', () => {
    const full: CtsyncConfigInput = {
      sync: {
        mode: 'ftfw',
        resendQueueSize: 1000,
        ackWindowSize: 10,
        commitTimeout: 60,
        purgeTimeout: 5,
        disableExternalCache: true,
        startupResync: false,
        channels: [
          {
            kind: 'multicast',
            default: true,
            group: '225.0.0.50',
            port: 3780,
            ipv4Interface: '192.168.100.1',
            interface: 'eth2',
            sndSocketBuffer: 1,
            rcvSocketBuffer: 2,
            checksum: false,
          },
          { kind: 'multicast', group: 'ff02::1:3', port: 3781, interface: 'eth3' },
        ],
        options: { tcpWindowTracking: true, expectationSync: ['ftp'] },
      },
      general: {
        systemd: false,
        hashSize: 1,
        hashLimit: 2,
        logFile: '/var/log/x',
        syslog: 'local1',
        lockFile: '/run/x.lock',
        unix: { path: '/run/x.ctl', backlog: 5 },
        netlinkBufferSize: 10,
        netlinkBufferSizeMaxGrowth: 0,
        netlinkOverrunResync: false,
        netlinkEventsReliable: true,
        eventIterationLimit: 7,
        scheduler: { type: 'rr', priority: 10 },
        filter: {
          from: 'kernelspace',
          protocol: { mode: 'ignore', protocols: [6, 'udp', 'IPv6-ICMP', 'Sctp'] },
          address: { mode: 'accept', ipv4: ['10.0.0.0/8', '1.2.3.4'], ipv6: ['::1', 'fd00::/8'] },
          state: { mode: 'accept', tcpStates: ['ESTABLISHED', 'CLOSE'] },
        },
      },
    };
    assert.deepStrictEqual(checkConfig(full), []);
    assert.deepStrictEqual(withDefaults(full).general.filter.protocol!.protocols, [6, 17, 58, 132]);
  });

  it('names the key path of a value out of range (the brief example)', () => {
    assert.equal(
      errorOf(withSync({ channels: [udp({ port: 70000 })] })),
      'ctsync.json: sync.channels[0].port: must be <= 65535, got 70000',
    );
  });

  it('unknown keys are errors, named, with a suggestion when one is close', () => {
    assert.equal(
      errorOf(withSync({ channels: [udp({ prot: 1 })] })),
      'ctsync.json: sync.channels[0].prot: unknown key (did you mean "port"?)',
    );
    assert.equal(errorOf({ ...minimal(), genral: {} }), 'ctsync.json: genral: unknown key (did you mean "general"?)');
    assert.equal(
      errorOf(withGeneral({ zzz: 1 })),
      'ctsync.json: general.zzz: unknown key (expected one of: systemd, hashSize, hashLimit, logFile, syslog, lockFile, unix, netlinkBufferSize, netlinkBufferSizeMaxGrowth, netlinkOverrunResync, netlinkEventsReliable, pollSecs, eventIterationLimit, scheduler, filter)',
    );
  });

  it('missing keys say what was expected', () => {
    assert.equal(
      errorOf({}),
      'ctsync.json: sync: is missing; expected the sync section (an object with at least "channels")',
    );
    assert.equal(
      errorOf({ sync: { channels: [{ kind: 'multicast', group: '225.0.0.50', port: 3780 }] } }),
      'ctsync.json: sync.channels[0].interface: is missing; expected a network interface name such as "eth2" (1-15 characters, no "/", ":" or spaces)',
    );
    assert.equal(
      errorOf({ sync: { channels: [{ port: 1 }] } }),
      'ctsync.json: sync.channels[0].kind: is missing; expected "udp", "multicast" or "tcp"',
    );
  });

  it('lists every problem, one per line', () => {
    const msg = errorOf({
      sync: { mode: 'ftfw', resendQueueSize: 0, channels: [udp({ interface: 'a/b', checksum: 'yes' })] },
      general: {
        hashSize: 1.5,
        logFile: 'relative/path',
        syslog: 'local9',
        unix: { path: '/x', backlog: -1 },
        scheduler: { type: 'rr', priority: 0 },
      },
    });
    assert.deepStrictEqual(msg.split('\n'), [
      'ctsync.json: sync.resendQueueSize: must be >= 1, got 0',
      'ctsync.json: sync.channels[0].interface: must be a network interface name such as "eth2" (1-15 characters, no "/", ":" or spaces), got "a/b"',
      'ctsync.json: sync.channels[0].checksum: must be true or false, got "yes"',
      'ctsync.json: general.hashSize: must be a whole number from 1 to 2147483647, got 1.5',
      'ctsync.json: general.logFile: must be false, true (/var/log/conntrackd.log) or an absolute path, got "relative/path"',
      'ctsync.json: general.syslog: must be false, true ("daemon") or one of "daemon", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7", got "local9"',
      'ctsync.json: general.unix.backlog: must be >= 1, got -1',
      'ctsync.json: general.scheduler.priority: must be >= 1, got 0',
    ]);
  });

  it('takes mode "alarm" with refreshTime and cacheTimeout, and refuses settings of another mode', () => {
    const c = withDefaults(validateConfig(withSync({ mode: 'alarm', refreshTime: 5 }), 'ctsync.json'));
    assert.equal(c.sync.refreshTime, 5);
    assert.equal(c.sync.cacheTimeout, 180);
    assert.equal(
      errorOf(withSync({ mode: 'alarm', disableExternalCache: true, startupResync: true })),
      [
        'ctsync.json: sync.disableExternalCache: only applies to mode "ftfw" or "notrack", not "alarm"; remove it',
        'ctsync.json: sync.startupResync: only applies to mode "ftfw" or "notrack", not "alarm"; remove it',
      ].join('\n'),
    );
    assert.equal(
      errorOf(withSync({ cacheTimeout: 30 })),
      'ctsync.json: sync.cacheTimeout: only applies to mode "alarm", not "ftfw"; remove it',
    );
  });

  it('refuses PERSISTENT, an unknown mode or channel kind with a specific message', () => {
    assert.equal(
      errorOf(withSync({ mode: 'persistent' })),
      'ctsync.json: sync.mode: PERSISTENT is the old name of Mode ALARM: write "alarm"',
    );
    assert.equal(
      errorOf(withSync({ mode: 'fast' })),
      'ctsync.json: sync.mode: must be "ftfw", "notrack" or "alarm", got "fast"',
    );
    assert.equal(
      errorOf(withSync({ channels: [udp({ kind: 'sctp' })] })),
      'ctsync.json: sync.channels[0].kind: must be "udp", "multicast" or "tcp", got "sctp"',
    );
  });

  it('takes a TCP channel, without checksum off or authentication', () => {
    const tcp = withSync({ channels: [udp({ kind: 'tcp', errorQueueLength: 64 })] });
    assert.equal(validateConfig(tcp, 'x'), tcp);
    assert.equal(
      errorOf(withSync({ channels: [udp({ kind: 'tcp', checksum: false })] })),
      'ctsync.json: sync.channels[0].checksum: must be true: TCP always carries its checksum (remove it)',
    );
    assert.equal(
      errorOf(withSync({ channels: [udp({ errorQueueLength: 64 })] })),
      'ctsync.json: sync.channels[0].errorQueueLength: unknown key (expected one of: kind, ipv4Address, ipv6Address, destination, port, default, interface, sndSocketBuffer, rcvSocketBuffer, checksum)',
    );
  });

  it('union values: one message with the expected forms, or the deeper problem of a list item', () => {
    assert.equal(
      errorOf(withSync({ options: { expectationSync: 'yes' } })),
      'ctsync.json: sync.options.expectationSync: must be true, false or a non-empty list of helper names, got "yes"',
    );
    assert.equal(
      errorOf(withSync({ options: { expectationSync: ['ftp', 7] } })),
      'ctsync.json: sync.options.expectationSync[1]: must be a conntrack helper name such as "ftp" (1-15 characters, no spaces), got 7',
    );
    assert.equal(
      errorOf(withSync({ options: { expectationSync: [] } })),
      'ctsync.json: sync.options.expectationSync: must be true, false or a non-empty list of helper names, got an empty list',
    );
    assert.equal(
      errorOf(withGeneral({ netlinkOverrunResync: 0 })),
      'ctsync.json: general.netlinkOverrunResync: must be false, true (30 s) or seconds (1 to 2147483647), got 0',
    );
  });

  it('channels: 1 to 4, one transport, at most one default', () => {
    assert.equal(
      errorOf(withSync({ channels: [] })),
      'ctsync.json: sync.channels: must have at least 1 entry (a list of 1 to 4 channels)',
    );
    assert.equal(
      errorOf(withSync({ channels: [udp(), udp(), udp(), udp(), udp()] })).split('\n')[0],
      'ctsync.json: sync.channels: must have at most 4 entries, got 5',
    );
    assert.equal(
      errorOf(
        withSync({ channels: [udp(), { kind: 'multicast', group: '225.0.0.50', port: 3780, interface: 'eth2' }] }),
      ),
      'ctsync.json: sync.channels[1].kind: must be "udp" like sync.channels[0] (all links of a config use one transport), got "multicast"',
    );
    assert.equal(
      errorOf(withSync({ channels: [udp({ default: true }), udp({ default: true, port: 3781 })] })),
      'ctsync.json: sync.channels: at most one channel may be "default", got 2 ([0], [1])',
    );
  });

  it('addresses: formats, families, multicast ranges', () => {
    assert.equal(
      errorOf(withSync({ channels: [udp({ destination: '10.0.0.300' })] })),
      'ctsync.json: sync.channels[0].destination: must be the peer\'s IPv4 or IPv6 address, got "10.0.0.300"',
    );
    assert.equal(
      errorOf(withSync({ channels: [udp({ destination: 'fe80::1' })] })),
      'ctsync.json: sync.channels[0].destination: must be an IPv4 address like ipv4Address, got "fe80::1"',
    );
    assert.equal(
      errorOf(withSync({ channels: [udp({ ipv6Address: 'fe80::2' })] })),
      'ctsync.json: sync.channels[0]: must have ipv4Address or ipv6Address, not both',
    );
    // no local address: the wildcard address is bound, as conntrackd does
    const { ipv4Address: _drop, ...noLocal } = udp();
    validateConfig(withSync({ channels: [noLocal] }), 'ctsync.json');
    assert.equal(
      errorOf(withSync({ channels: [udp({ ipv4Address: 'fe80::1%eth0' })] })),
      'ctsync.json: sync.channels[0].ipv4Address: must be the local IPv4 address to bind, got "fe80::1%eth0"',
    );
    const mcast = (group: string, extra = {}) =>
      withSync({ channels: [{ kind: 'multicast', group, port: 3780, interface: 'eth2', ...extra }] });
    assert.equal(
      errorOf(mcast('10.1.1.1')),
      'ctsync.json: sync.channels[0].group: must be a multicast address (224.0.0.0/4 or ff00::/8), got "10.1.1.1"',
    );
    assert.equal(
      errorOf(mcast('ff02::1', { ipv4Interface: '10.0.0.1' })),
      'ctsync.json: sync.channels[0].ipv4Interface: only applies to an IPv4 group (IPv6 groups use the interface index of "interface")',
    );
    assert.equal(
      errorOf(
        withGeneral({ filter: { address: { mode: 'ignore', ipv4: ['10.0.0.0/33'], ipv6: ['::1/129', '10.0.0.1'] } } }),
      ),
      [
        'ctsync.json: general.filter.address.ipv4[0]: must be an IPv4 address or network such as "192.168.0.0/24", got "10.0.0.0/33"',
        'ctsync.json: general.filter.address.ipv6[0]: must be an IPv6 address or network such as "fd00::/8", got "::1/129"',
        'ctsync.json: general.filter.address.ipv6[1]: must be an IPv6 address or network such as "fd00::/8", got "10.0.0.1"',
      ].join('\n'),
    );
  });

  it('filters: protocol names and numbers, modes, TCP states', () => {
    assert.equal(
      errorOf(withGeneral({ filter: { protocol: { mode: 'accept', protocols: ['tcp', 'icmpv6', 'tcpp', 256] } } })),
      [
        'ctsync.json: general.filter.protocol.protocols[3]: must be an IP protocol number (0-255) or a name from /etc/protocols such as "tcp", got 256',
        'ctsync.json: general.filter.protocol.protocols[1]: unknown protocol name "icmpv6" (did you mean "ipv6-icmp"?)',
        'ctsync.json: general.filter.protocol.protocols[2]: unknown protocol name "tcpp" (did you mean "tcp"?)',
      ].join('\n'),
    );
    assert.equal(
      errorOf(withGeneral({ filter: { state: { mode: 'drop', tcpStates: ['ESTABLISHED'] } } })),
      'ctsync.json: general.filter.state.mode: must be "accept" or "ignore", got "drop"',
    );
    assert.match(
      errorOf(withGeneral({ filter: { state: { mode: 'accept', tcpStates: ['CLOSED'] } } })),
      /^ctsync\.json: general\.filter\.state\.tcpStates\[0\]: must be a TCP state: SYN_SENT, .*, LISTEN, got "CLOSED"$/,
    );
  });

  it('non-objects', () => {
    assert.equal(errorOf(null), 'ctsync.json: must be of type object, got null');
    assert.equal(
      errorOf({ sync: [] }),
      'ctsync.json: sync: must be the sync section (an object with at least "channels"), got an empty list',
    );
  });

  it('keyPath turns JSON pointers into a.b[0].c', () => {
    assert.equal(keyPath('/sync/channels/0/port'), 'sync.channels[0].port');
    assert.equal(keyPath('/a~1b/c d'), '["a/b"]["c d"]');
    assert.equal(keyPath(''), '');
  });

  describe('lint (valid, but probably not meant)', () => {
    it('CommitTimeout with DisableExternalCache, repeated entries, links sharing a port', () => {
      const c = withDefaults(
        validateConfig(
          {
            sync: {
              commitTimeout: 30,
              disableExternalCache: true,
              channels: [udp(), udp({ interface: 'eth2' })],
              options: { expectationSync: ['ftp', 'FTP'] },
            },
            general: { filter: { protocol: { mode: 'accept', protocols: [6, 'tcp'] } } },
          },
          'x',
        ),
      );
      assert.deepStrictEqual(lintConfig(c), [
        {
          path: 'sync.commitTimeout',
          message: 'is ignored when disableExternalCache is on (received entries go straight into the kernel)',
        },
        {
          path: 'sync.channels[1]',
          message: 'uses the same local address and port as an earlier link; use distinct ones per link',
          related: 'sync.channels[0]',
        },
        {
          path: 'sync.options.expectationSync[1]',
          message: 'repeats an earlier entry ("ftp")',
          related: 'sync.options.expectationSync[0]',
        },
        {
          path: 'general.filter.protocol.protocols[1]',
          message: 'repeats an earlier entry (6)',
          related: 'general.filter.protocol.protocols[0]',
        },
      ]);
    });
  });
});
