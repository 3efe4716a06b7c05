// The conntrackd.conf reader: Debian's and the man page's FTFW examples, every Sync and General clause,
// deprecated spellings (warnings), and a file per deliberate mistake with its exact message
// (test/fixtures/conntrackd-mistakes/*.conf, expected lines in "# expect:" comments).
// Lexer quirks asserted here were checked against the real conntrackd 1.4.7 parser
// (`conntrackd -C file -s`: "parsing config file in line (N) …" vs "can't connect").
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { classifyWord, parseConntrackdConf, tokenize, type LexProblem } from '../../../src/config/conntrackd-conf.js';
import { ConfigError, formatProblem } from '../../../src/config/errors.js';
import { withDefaults, type CtsyncConfig, type CtsyncConfigInput } from '../../../src/config/model.js';
import { strayCharacter } from '../../../src/config/stray-characters.js';
import { repoRoot } from '../../helpers/fakes.js';

const FIXTURES = path.join(repoRoot(), 'test/fixtures');
const read = (rel: string) => fs.readFileSync(path.join(FIXTURES, rel), 'utf8');

function parse(text: string, source = 'conntrackd.conf') {
  const r = parseConntrackdConf(text, source);
  return { config: r.config, warnings: r.warnings.map(formatProblem) };
}

function errorOf(text: string, source = 'conntrackd.conf'): string {
  try {
    parseConntrackdConf(text, source);
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${String(e)}`);
    return e.message;
  }
  assert.fail('expected a ConfigError');
}

/** A minimal valid Sync section on one line, to test General clauses on their own. */
const UDP_BLOCK = 'UDP { IPv4_address 192.168.2.100 IPv4_Destination_Address 192.168.2.101 Port 3780 Interface eth2 }';
const SYNC = `Sync { Mode FTFW { } ${UDP_BLOCK} }\n`;
const UDP_CHANNEL = {
  kind: 'udp',
  ipv4Address: '192.168.2.100',
  destination: '192.168.2.101',
  port: 3780,
  interface: 'eth2',
};
/** `body` starts on line 3 (General is line 2). */
const general = (body: string) => parse(`${SYNC}General {\n${body}\n}\n`);
/** `body` starts on line 2 (Mode FTFW is given on line 1). */
const sync = (body: string) => parse(`Sync { Mode FTFW { }\n${body}\n}\n`);

const DEBIAN_FTFW: CtsyncConfigInput = {
  sync: {
    mode: 'ftfw',
    channels: [
      {
        kind: 'multicast',
        group: '225.0.0.50',
        port: 3780,
        ipv4Interface: '192.168.100.100',
        interface: 'eth2',
        sndSocketBuffer: 1249280,
        rcvSocketBuffer: 1249280,
        checksum: true,
      },
    ],
  },
  general: {
    hashSize: 32768,
    hashLimit: 131072,
    logFile: true,
    lockFile: '/var/lock/conntrack.lock',
    unix: { path: '/var/run/conntrackd.ctl' },
    netlinkBufferSize: 2097152,
    netlinkBufferSizeMaxGrowth: 8388608,
    filter: {
      from: 'userspace',
      protocol: { mode: 'accept', protocols: [6, 132, 33] },
      address: {
        mode: 'ignore',
        ipv4: ['127.0.0.1', '192.168.0.100', '192.168.1.100', '192.168.0.1', '192.168.1.1', '192.168.100.100'],
      },
    },
  },
};

describe('config: conntrackd.conf reader', () => {
  describe('real example configurations', () => {
    it("parses Debian's FTFW example to the expected model", () => {
      const r = parse(read('conntrackd/debian-ftfw.conf'), 'debian-ftfw.conf');
      assert.deepStrictEqual(r.config, DEBIAN_FTFW);
      assert.deepStrictEqual(r.warnings, []);
    });

    it("resolves Debian's FTFW example with conntrackd's defaults (and ctsync's where marked)", () => {
      const expected: CtsyncConfig = {
        sync: {
          mode: 'ftfw',
          resendQueueSize: 131072,
          ackWindowSize: 300,
          purgeTimeout: 60,
          disableExternalCache: false,
          startupResync: false, // conntrackd's default
          channels: [
            {
              kind: 'multicast',
              default: false,
              group: '225.0.0.50',
              port: 3780,
              ipv4Interface: '192.168.100.100',
              interface: 'eth2',
              sndSocketBuffer: 1249280,
              rcvSocketBuffer: 1249280,
              checksum: true,
            },
          ],
          options: { tcpWindowTracking: false, expectationSync: false },
        },
        general: {
          systemd: true,
          hashSize: 32768,
          hashLimit: 131072,
          logFile: '/var/log/conntrackd.log',
          syslog: false,
          lockFile: '/var/lock/conntrack.lock',
          unix: { path: '/var/run/conntrackd.ctl' },
          netlinkBufferSize: 2097152,
          netlinkBufferSizeMaxGrowth: 8388608,
          netlinkOverrunResync: 30,
          netlinkEventsReliable: false,
          eventIterationLimit: 100,
          filter: {
            from: 'userspace',
            protocol: { mode: 'accept', protocols: [6, 132, 33] },
            address: {
              mode: 'ignore',
              ipv4: ['127.0.0.1', '192.168.0.100', '192.168.1.100', '192.168.0.1', '192.168.1.1', '192.168.100.100'],
              ipv6: [],
            },
          },
        },
      };
      assert.deepStrictEqual(withDefaults(DEBIAN_FTFW), expected);
    });

    it('reads the installed Debian example (when present) exactly like the fixture', function () {
      const installed = '/usr/share/doc/conntrackd/examples/sync/ftfw/conntrackd.conf';
      if (!fs.existsSync(installed)) this.skip();
      assert.deepStrictEqual(parse(fs.readFileSync(installed, 'utf8')).config, DEBIAN_FTFW);
    });

    it('parses the man page "SYNC EXAMPLE 1" (two multicast links, one Default)', () => {
      const r = parse(read('conntrackd/manpage-sync-example-1.conf'));
      assert.deepStrictEqual(r.warnings, []);
      assert.deepStrictEqual(r.config, {
        sync: {
          mode: 'ftfw',
          resendQueueSize: 131072,
          purgeTimeout: 60,
          ackWindowSize: 300,
          disableExternalCache: false,
          channels: [
            {
              kind: 'multicast',
              group: '225.0.0.50',
              port: 3780,
              ipv4Interface: '192.168.100.100',
              interface: 'eth2',
              sndSocketBuffer: 1249280,
              rcvSocketBuffer: 1249280,
              checksum: true,
            },
            {
              kind: 'multicast',
              default: true,
              group: '225.0.0.51',
              port: 3781,
              ipv4Interface: '192.168.100.101',
              interface: 'eth3',
              sndSocketBuffer: 1249280,
              rcvSocketBuffer: 1249280,
              checksum: true,
            },
          ],
          options: { tcpWindowTracking: false, expectationSync: true },
        },
        general: {
          systemd: true,
          hashSize: 32768,
          hashLimit: 131072,
          logFile: true,
          syslog: false,
          lockFile: '/var/lock/conntrack.lock',
          unix: { path: '/var/run/conntrackd.ctl' },
          netlinkBufferSize: 2097152,
          netlinkBufferSizeMaxGrowth: 8388608,
          netlinkOverrunResync: true,
          netlinkEventsReliable: false,
          eventIterationLimit: 100,
          filter: {
            from: 'userspace',
            protocol: { mode: 'accept', protocols: [6, 132, 33] },
            address: { mode: 'ignore', ipv4: ['127.0.0.1', '192.168.100.0/24'], ipv6: ['::1'] },
          },
        },
      });
    });
  });

  describe('every Sync and General clause (docs/conntrackd-compat.md §1.2, §1.3)', () => {
    it('parses a file using all of them with non-default values', () => {
      const r = parse(read('conntrackd/udp-ipv6-all-clauses.conf'));
      assert.deepStrictEqual(r.warnings, []);
      assert.deepStrictEqual(r.config, {
        sync: {
          mode: 'ftfw',
          resendQueueSize: 4096,
          ackWindowSize: 50,
          commitTimeout: 180,
          purgeTimeout: 15,
          disableExternalCache: false,
          startupResync: true,
          channels: [
            {
              kind: 'udp',
              default: true,
              ipv6Address: 'fd00:10::1',
              destination: 'fd00:10::2',
              port: 3781,
              interface: 'sync0',
              sndSocketBuffer: 2097152,
              rcvSocketBuffer: 4194304,
              checksum: false,
            },
            {
              kind: 'udp',
              ipv6Address: 'fe80::215:58ff:fe28:5a27',
              destination: 'fe80::2d0:59ff:fe2a:775c',
              port: 3782,
              interface: 'sync1.100',
            },
          ],
          options: { tcpWindowTracking: true, expectationSync: ['ftp', 'sip', 'q.931', 'h.245'] },
        },
        general: {
          systemd: false,
          hashSize: 16384,
          hashLimit: 524288,
          logFile: '/var/log/ctsync/conntrackd.log',
          syslog: 'local3',
          lockFile: '/run/lock/conntrackd.lock',
          unix: { path: '/run/conntrackd.ctl' },
          netlinkBufferSize: 1048576,
          netlinkBufferSizeMaxGrowth: 16777216,
          netlinkOverrunResync: 10,
          netlinkEventsReliable: true,
          eventIterationLimit: 200,
          scheduler: { type: 'fifo', priority: 50 },
          filter: {
            from: 'kernelspace',
            protocol: { mode: 'ignore', protocols: [17, 1, 58, 47] },
            address: { mode: 'accept', ipv4: ['10.0.0.0/8', '192.0.2.1/32'], ipv6: ['2001:db8::/32', '::1'] },
            state: {
              mode: 'accept',
              tcpStates: [
                'SYN_SENT',
                'SYN_RECV',
                'ESTABLISHED',
                'FIN_WAIT',
                'CLOSE_WAIT',
                'LAST_ACK',
                'TIME_WAIT',
                'CLOSE',
                'LISTEN',
              ],
            },
          },
        },
      });
    });

    it('accepts CommitTimeout and PurgeTimeout directly under Sync (same settings as in Mode FTFW)', () => {
      const r = sync(`CommitTimeout 30\nPurgeTimeout 5\n${UDP_BLOCK}`);
      assert.equal(r.config.sync.commitTimeout, 30);
      assert.equal(r.config.sync.purgeTimeout, 5);
    });

    it('reads booleans as on/off/yes/no in any case', () => {
      for (const [word, value] of [
        ['on', true],
        ['ON', true],
        ['oN', true],
        ['Yes', true],
        ['YES', true],
        ['off', false],
        ['Off', false],
        ['NO', false],
        ['no', false],
      ] as const) {
        assert.equal(general(`NetlinkEventsReliable ${word}`).config.general!.netlinkEventsReliable, value, word);
      }
    });

    it('LogFile: on (default path), off, or a path', () => {
      assert.equal(general('LogFile on').config.general!.logFile, true);
      assert.equal(general('LogFile off').config.general!.logFile, false);
      assert.equal(general('LogFile /var/log/x.log').config.general!.logFile, '/var/log/x.log');
      assert.equal(withDefaults(general('LogFile on').config).general.logFile, '/var/log/conntrackd.log');
    });

    it('Syslog: on (daemon), off, or a facility', () => {
      assert.equal(withDefaults(general('Syslog on').config).general.syslog, 'daemon');
      assert.equal(general('Syslog off').config.general!.syslog, false);
      for (const f of ['daemon', 'local0', 'local7']) assert.equal(general(`Syslog ${f}`).config.general!.syslog, f);
    });

    it('NetlinkOverrunResync: on (30 s), off, or seconds', () => {
      assert.equal(withDefaults(general('NetlinkOverrunResync on').config).general.netlinkOverrunResync, 30);
      assert.equal(general('NetlinkOverrunResync off').config.general!.netlinkOverrunResync, false);
      assert.equal(general('NetlinkOverrunResync 7').config.general!.netlinkOverrunResync, 7);
    });

    it('ExpectationSync: on, off, or a list of helper names', () => {
      const opt = (v: string) =>
        sync(`${UDP_BLOCK}\nOptions { ExpectationSync ${v} }`).config.sync.options!.expectationSync;
      assert.equal(opt('on'), true);
      assert.equal(opt('off'), false);
      assert.deepStrictEqual(opt('{ ftp\n sip-5060 }'), ['ftp', 'sip-5060']);
    });

    it('an empty ExpectationSync list means all helpers (as in conntrackd), with a warning', () => {
      const r = sync(`${UDP_BLOCK}\nOptions {\nExpectationSync { }\n}`);
      assert.equal(r.config.sync.options!.expectationSync, true);
      assert.deepStrictEqual(r.warnings, [
        "conntrackd.conf:4:1: an empty 'ExpectationSync { }' list makes conntrackd synchronize the expectations of all helpers; ctsync reads it as 'ExpectationSync on'",
      ]);
    });

    it('Multicast with an IPv6 group and UDP/Multicast Default', () => {
      const r = sync('Multicast Default { IPv6_address ff02::1:3 Group 3780 Interface eth2 Checksum off }');
      assert.deepStrictEqual(r.config.sync.channels, [
        { kind: 'multicast', default: true, group: 'ff02::1:3', port: 3780, interface: 'eth2', checksum: false },
      ]);
    });

    it('Filter without From filters in user space; State accepts CLOSE and CLOSED; several "for TCP" groups', () => {
      const r = general('Filter { State Ignore { CLOSE for TCP CLOSED TIME_WAIT for TCP for TCP } }');
      assert.deepStrictEqual(r.config.general!.filter, {
        from: 'userspace',
        state: { mode: 'ignore', tcpStates: ['CLOSE', 'CLOSE', 'TIME_WAIT'] },
      });
      assert.deepStrictEqual(r.warnings, [
        'conntrackd.conf:3:39: \'CLOSED\' repeats an earlier entry ("CLOSE") (first at line 3)',
      ]);
    });

    it('Protocol names are resolved like getprotobyname(): official names, aliases and the TCP/UDP keywords', () => {
      const r = general(
        'Filter { Protocol Accept { TCP UDP tcp udp SCTP sctp DCCP ICMP IPv6-ICMP ipv6-icmp udplite UDPLite gre } }',
      );
      assert.deepStrictEqual(
        r.config.general!.filter!.protocol!.protocols,
        [6, 17, 6, 17, 132, 132, 33, 1, 58, 58, 136, 136, 47],
      );
    });

    it('Scheduler: Type (any case) and Priority', () => {
      assert.deepStrictEqual(general('Scheduler { Type rr Priority 1 }').config.general!.scheduler, {
        type: 'rr',
        priority: 1,
      });
      assert.deepStrictEqual(general('Scheduler { Priority 99 Type FIFO }').config.general!.scheduler, {
        type: 'fifo',
        priority: 99,
      });
    });

    it('is indifferent to layout: one-line blocks, comments anywhere, CRLF outside paths', () => {
      const text =
        'Sync{Mode FTFW{ACKWindowSize 10}#c\r\nUDP{IPv4_address 192.168.2.100 IPv4_Destination_Address 192.168.2.101#x\r\nPort 3780 Interface eth2}}';
      assert.deepStrictEqual(parse(text).config, {
        sync: { mode: 'ftfw', ackWindowSize: 10, channels: [UDP_CHANNEL] },
      });
    });

    it('an empty Scheduler block is a warning (conntrackd would switch to SCHED_RR 99)', () => {
      const r = general('Scheduler { }');
      assert.equal(r.config.general, undefined);
      assert.deepStrictEqual(r.warnings, [
        "conntrackd.conf:3:1: empty 'Scheduler' block: conntrackd would switch to SCHED_RR priority 99; ctsync leaves the scheduling policy alone",
      ]);
    });
  });

  describe('Mode ALARM', () => {
    it('takes RefreshTime and CacheTimeout in its block or in Sync, as conntrackd does', () => {
      const inBlock = parse(`Sync { Mode ALARM { RefreshTime 15 CacheTimeout 90 PurgeTimeout 5 } ${UDP_BLOCK} }`);
      assert.deepStrictEqual(inBlock.warnings, []);
      assert.deepStrictEqual(inBlock.config.sync, {
        mode: 'alarm',
        refreshTime: 15,
        cacheTimeout: 90,
        purgeTimeout: 5,
        channels: [UDP_CHANNEL],
      });
      const inSync = parse(`Sync { RefreshTime 15 CacheTimeout 90 Mode ALARM { } ${UDP_BLOCK} }`);
      assert.deepStrictEqual(inSync.warnings, []);
      assert.deepStrictEqual(inSync.config.sync, {
        mode: 'alarm',
        refreshTime: 15,
        cacheTimeout: 90,
        channels: [UDP_CHANNEL],
      });
    });

    it("resolves to conntrackd's defaults (RefreshTime 60, CacheTimeout 180); 0 means the default", () => {
      const r = parse(`Sync { Mode ALARM { RefreshTime 0 } ${UDP_BLOCK} }`);
      assert.deepStrictEqual(r.warnings, [
        "conntrackd.conf:1:21: 'RefreshTime 0' means the default (60 s) to conntrackd; ctsync reads it the same way",
      ]);
      const c = withDefaults(r.config);
      assert.equal(c.sync.mode, 'alarm');
      assert.equal(c.sync.refreshTime, 60);
      assert.equal(c.sync.cacheTimeout, 180);
      assert.equal(withDefaults(parse(SYNC).config).sync.refreshTime, undefined, 'no ALARM settings in FTFW');
    });

    it('Mode PERSISTENT is the old name of ALARM: read as ALARM, with a warning', () => {
      const r = parse(`Sync { Mode PERSISTENT { RefreshTime 5 } ${UDP_BLOCK} }`);
      assert.deepStrictEqual(r.warnings, [
        "conntrackd.conf:1:13: 'Mode PERSISTENT' is the old name of Mode ALARM; please write 'Mode ALARM'",
      ]);
      assert.equal(r.config.sync.mode, 'alarm');
    });
  });

  describe('warnings', () => {
    it('deprecated aliases and options conntrackd ignores (deprecated.conf)', () => {
      const text = read('conntrackd/deprecated.conf');
      const expected = text
        .split('\n')
        .filter((l) => l.startsWith('# warn: '))
        .map((l) => l.slice('# warn: '.length));
      assert.ok(expected.length >= 9);
      const r = parse(text, 'deprecated.conf');
      assert.deepStrictEqual(r.warnings, expected);
      assert.equal(r.config.general!.netlinkBufferSize, 262142);
      assert.equal(r.config.general!.netlinkBufferSizeMaxGrowth, 655355);
      assert.equal(r.config.general!.hashSize, 2048);
      assert.deepStrictEqual(r.config.general!.unix, { path: '/var/run/conntrackd.sock', backlog: 20 });
    });

    it('a zero that conntrackd reads as "default" is read the same way, with a warning', () => {
      const r = general('HashSize 0\nEventIterationLimit 0\nNetlinkOverrunResync 0\nNetlinkBufferSize 0');
      assert.equal(r.config.general, undefined);
      assert.deepStrictEqual(r.warnings, [
        "conntrackd.conf:3:1: 'HashSize 0' means the default (65536) to conntrackd; ctsync reads it the same way",
        "conntrackd.conf:4:1: 'EventIterationLimit 0' means the default (100) to conntrackd; ctsync reads it the same way",
        "conntrackd.conf:5:1: 'NetlinkOverrunResync 0' means the default (30 s) to conntrackd; ctsync reads it the same way",
        'conntrackd.conf:6:1: \'NetlinkBufferSize 0\' means "not set" (the system default buffer size) to conntrackd; ctsync reads it the same way',
      ]);
    });

    it('NetlinkBufferSize above NetlinkBufferSizeMaxGrowth: conntrackd ignores it, ctsync applies it', () => {
      const r = general('NetlinkBufferSize 2097152');
      assert.deepStrictEqual(r.warnings, [
        "conntrackd.conf:3:1: conntrackd ignores 'NetlinkBufferSize 2097152' because it is larger than NetlinkBufferSizeMaxGrowth (0); ctsync applies it (and never shrinks below it)",
      ]);
      const g = withDefaults(r.config).general;
      assert.equal(g.netlinkBufferSize, 2097152);
      assert.equal(g.netlinkBufferSizeMaxGrowth, 2097152);
    });

    it('a second Default link: the last one wins, as in conntrackd', () => {
      const r = sync(
        'UDP Default { IPv4_address 10.0.0.1 IPv4_Destination_Address 10.0.0.2 Port 3780 Interface eth2 }\nUDP Default { IPv4_address 10.0.1.1 IPv4_Destination_Address 10.0.1.2 Port 3781 Interface eth3 }',
      );
      assert.deepStrictEqual(
        r.config.sync.channels.map((c) => c.default),
        [undefined, true],
      );
      assert.deepStrictEqual(r.warnings, [
        "conntrackd.conf:3:1: 'Default' is also given to the block at line 2; the last one wins, as in conntrackd",
      ]);
    });

    it('no Mode block: FTFW is assumed, as by conntrackd', () => {
      assert.deepStrictEqual(parse(`Sync { ${UDP_BLOCK} }`).warnings, [
        "conntrackd.conf:1:1: no 'Mode' block in 'Sync': Mode FTFW is assumed, as conntrackd does",
      ]);
    });

    it('CommitTimeout with DisableExternalCache (CommitTimeout is then ignored)', () => {
      const r = parse(`Sync {\nMode FTFW {\nDisableExternalCache on\nCommitTimeout 180\n}\n${UDP_BLOCK}\n}`);
      assert.deepStrictEqual(r.warnings, [
        "conntrackd.conf:4:1: 'CommitTimeout' is ignored when disableExternalCache is on (received entries go straight into the kernel)",
      ]);
    });
  });

  describe('deliberate mistakes (test/fixtures/conntrackd-mistakes)', () => {
    const dir = path.join(FIXTURES, 'conntrackd-mistakes');
    const files = fs
      .readdirSync(dir)
      .filter((f) => f.endsWith('.conf'))
      .sort();
    it('has a collection of mistakes', () => assert.ok(files.length >= 20));
    for (const file of files) {
      it(`${file} gives its expected message`, () => {
        const text = fs.readFileSync(path.join(dir, file), 'utf8');
        const expected = text
          .split('\n')
          .map((l) => l.replace(/\r$/, ''))
          .filter((l) => l.startsWith('# expect: '))
          .map((l) => l.slice('# expect: '.length));
        assert.ok(expected.length > 0, `${file} has no "# expect:" line`);
        assert.equal(errorOf(text, file), expected.join('\n'));
      });
    }
  });

  describe('other errors', () => {
    it('every problem carries file, line and column', () => {
      try {
        parseConntrackdConf('General {\n  Bogus 1\n}\n', 'x.conf');
        assert.fail('expected an error');
      } catch (e) {
        assert.ok(e instanceof ConfigError);
        assert.deepStrictEqual(
          e.problems.map((p) => [p.source, p.line, p.column]),
          [
            ['x.conf', 1, 1],
            ['x.conf', 2, 3],
          ],
        );
        assert.equal(
          e.message,
          "x.conf:1:1: no 'Sync' section: conntrackd would run in statistics mode, which ctsync does not support\nx.conf:2:3: unknown option 'Bogus' in General",
        );
      }
    });

    it('names the block an unknown option is in, and suggests a near keyword', () => {
      assert.equal(
        errorOf(`${SYNC}General { Filter { Adress Ignore { IPv4_address 127.0.0.1 } } }`),
        "conntrackd.conf:2:20: unknown option 'Adress' in General > Filter (did you mean 'Address'?)",
      );
    });

    it('a TCP block: read with its queue length, refused without the peer address or with Checksum off', () => {
      const tcp = (body: string) => `Sync {\nTCP {\n${body}\n}\n}`;
      const ok = withDefaults(
        parseConntrackdConf(
          tcp('IPv6_address fe80::1\nIPv6_Destination_Address fe80::2\nPort 3780\nInterface eth2\nErrorQueueLength 16'),
        ).config,
      );
      assert.deepEqual(ok.sync.channels, [
        {
          kind: 'tcp',
          default: false,
          ipv6Address: 'fe80::1',
          destination: 'fe80::2',
          port: 3780,
          interface: 'eth2',
          checksum: true,
          errorQueueLength: 16,
        },
      ]);
      assert.equal(
        errorOf(tcp('IPv4_address 192.0.2.1\nPort 3780\nInterface eth2')),
        "conntrackd.conf:2:1: 'TCP' block needs 'IPv4_Destination_Address' or 'IPv6_Destination_Address' (the peer's address)",
      );
      assert.equal(
        errorOf(tcp('IPv4_Destination_Address 192.0.2.2\nPort 3780\nInterface eth2\nChecksum off')),
        "conntrackd.conf:6:1: 'Checksum off' does not apply to TCP, which always carries its checksum; remove it",
      );
      assert.equal(
        errorOf(tcp('IPv4_Destination_Address 192.0.2.2\nPort 3780\nInterface eth2\nErrorQueueLength 0')),
        "conntrackd.conf:6:1: 'ErrorQueueLength 0' would keep nothing while the peer is unreachable; give 1 or more",
      );
      assert.match(
        errorOf(
          `${tcp('IPv4_Destination_Address 192.0.2.2\nPort 3780\nInterface eth2').slice(0, -2)}Authentication {\nKey 1 /etc/k\n}\n}`,
        ),
        /^conntrackd\.conf:6:2: 'Authentication' applies to UDP and Multicast channels only \(its trailer ends a datagram; a TCP stream has none\): remove it/,
      );
    });

    it('a TCP-only option in a UDP block, and the UDP port keyword in a Multicast block', () => {
      assert.equal(
        errorOf(
          'Sync {\nUDP { IPv4_address 10.0.0.1 IPv4_Destination_Address 10.0.0.2 Port 3780 Interface eth2 ErrorQueueLength 10 }\n}',
        ),
        "conntrackd.conf:2:88: 'ErrorQueueLength' only applies to TCP channels; remove it from the UDP block",
      );
      assert.equal(
        errorOf('Sync {\nMulticast { IPv4_address 225.0.0.50 Port 3780 Interface eth2 }\n}'),
        [
          "conntrackd.conf:2:1: 'Multicast' block needs 'Group' (the UDP port, e.g. 3780)",
          "conntrackd.conf:2:37: unknown option 'Port' in Sync > Multicast (in a Multicast block the UDP port is called 'Group')",
        ].join('\n'),
      );
    });

    it('a value missing before the next option', () => {
      assert.equal(
        errorOf('Sync {\nUDP {\nIPv4_address 10.0.0.1 IPv4_Destination_Address 10.0.0.2\nPort\nInterface eth2\n}\n}'),
        "conntrackd.conf:5:1: 'Port' expects a number, got 'Interface' ('Interface' is a conntrackd.conf keyword)",
      );
    });

    it('an interface name conntrackd reads as something else', () => {
      const iface = (name: string) =>
        errorOf(`Sync { UDP { IPv4_address 10.0.0.1 IPv4_Destination_Address 10.0.0.2 Port 3780 Interface ${name} } }`);
      assert.match(
        iface('on'),
        /'Interface' expects an interface name, got 'on' \(conntrackd reads 'on' as a boolean\)$/,
      );
      assert.match(iface('UDP'), /got 'UDP' \('UDP' is a conntrackd.conf keyword\)$/);
      assert.match(iface('ftfw'), /got 'ftfw' \(conntrackd reads 'ftfw' as a sync mode name\)$/);
      assert.match(
        iface('f00'),
        /got 'f00' \(conntrackd reads 'f00' as an IPv6 address: names made only of 1 to 4 hex digits cannot be used\)$/,
      );
      assert.match(iface('eth0@if3'), /'Interface' expects an interface name, got 'eth0@if3'$/);
    });

    it('Mode NOTRACK with the cache switches conntrackd takes in it', () => {
      const r = parse(
        `Sync { Mode NOTRACK { DisableInternalCache off\n DisableExternalCache on\n StartupResync on\n PurgeTimeout 5 } ${UDP_BLOCK} }\n`,
      );
      assert.equal(r.config.sync.mode, 'notrack');
      assert.equal(r.config.sync.disableExternalCache, true);
      assert.equal(r.config.sync.startupResync, true);
      assert.equal(r.config.sync.purgeTimeout, 5);
    });

    it('Mode FTFW after Mode NOTRACK is an error', () => {
      assert.equal(
        errorOf(`Sync { Mode NOTRACK { } Mode FTFW { } }\n${SYNC}`),
        "conntrackd.conf:1:25: 'Mode FTFW' conflicts with the earlier 'Mode NOTRACK': keep one",
      );
    });

    it('options of Mode FTFW or NOTRACK in Mode ALARM name the fix (conntrackd refuses them there too)', () => {
      assert.equal(
        errorOf(`Sync { Mode ALARM {\n ACKWindowSize 5\n DisableExternalCache on\n StartupResync on\n} ${UDP_BLOCK} }`),
        [
          "conntrackd.conf:2:2: 'ACKWindowSize' is not valid in Mode ALARM: it is a Mode FTFW option (ALARM resends nothing); remove it or write 'Mode FTFW'",
          "conntrackd.conf:3:2: 'DisableExternalCache' is not valid in Mode ALARM (conntrackd refuses it there too): remove it, or write 'Mode FTFW' or 'Mode NOTRACK'",
          "conntrackd.conf:4:2: 'StartupResync' is not valid in Mode ALARM (conntrackd refuses it there too): remove it, or write 'Mode FTFW' or 'Mode NOTRACK'",
        ].join('\n'),
      );
    });

    it('RefreshTime in Sync before a Mode FTFW block is an error once the mode is known', () => {
      assert.equal(
        errorOf(`Sync {\n RefreshTime 5\n Mode FTFW { } ${UDP_BLOCK} }`),
        "conntrackd.conf:2:2: 'RefreshTime' only applies to Mode ALARM (this Sync is Mode FTFW); remove it or write 'Mode ALARM'",
      );
    });

    it('a schema problem in a list item is placed at the item', () => {
      assert.equal(
        errorOf(`Sync { ${UDP_BLOCK}\nOptions { ExpectationSync {\n ftp\n averyveryverylonghelper\n} } }`),
        'conntrackd.conf:4:2: \'ExpectationSync\' must be at most 15 characters long, got 23 (expected a conntrack helper name such as "ftp" (1-15 characters, no spaces))',
      );
    });
  });

  describe('lexer (classification as conntrackd 1.4.7 scans words)', () => {
    const cases: Array<[string, ReturnType<typeof classifyWord>]> = [
      ['UDP', 'keyword'],
      ['udp', 'string'],
      ['Default', 'keyword'],
      ['for', 'keyword'],
      ['on', 'bool'],
      ['No', 'bool'],
      ['OFF', 'bool'],
      ['yes', 'bool'],
      ['None', 'string'],
      ['3780', 'number'],
      ['0080', 'number'],
      ['-20', 'signed'],
      ['+5', 'signed'],
      ['192.168.0.1', 'ip'],
      ['192.168.0.0/24', 'ip'],
      ['999.1.1.1', 'ip'],
      ['fe80::1', 'ip'],
      ['::1', 'ip'],
      ['2001:db8::/32', 'ip'],
      ['abc', 'ip'],
      ['ae0', 'ip'],
      ['dead', 'ip'],
      ['faced', 'string'],
      ['eth0', 'string'],
      ['fc', 'ip'],
      ['::ffff:1.2.3.4', 'invalid'],
      ['fe80::1%eth0', 'invalid'],
      ['/var/run/x', 'path'],
      ['/x}', 'path'],
      ['FTFW', 'mode'],
      ['ftfw', 'mode'],
      ['Nack', 'mode'],
      ['alarm', 'mode'],
      ['NOTRACK', 'mode'],
      ['PERSISTENT', 'mode'],
      ['persistent', 'string'],
      ['q.931', 'string'],
      ['IPv6-ICMP', 'string'],
      ['br-lan', 'string'],
      ['eth0.100', 'string'],
      ['"x"', 'invalid'],
      ['eth0;', 'invalid'],
      ['1eth', 'invalid'],
    ];
    for (const [word, cls] of cases) it(`'${word}' is ${cls}`, () => assert.equal(classifyWord(word), cls));
  });

  describe('stray characters (issue 13: a form feed, vertical tab or U+00A0 made the reader loop until out of memory)', () => {
    /** A valid file with `sep` between 'Port' and its value on line 8, column 7 (two tabs, then 'Port'). */
    const strayFile = (sep: string, dir = '/run/ctsync-none') =>
      [
        '# a stray character between an option and its value',
        'Sync {',
        '\tMode FTFW {',
        '\t}',
        '\tUDP {',
        '\t\tIPv4_address 192.0.2.1',
        '\t\tIPv4_Destination_Address 192.0.2.2',
        `\t\tPort${sep}3780`,
        '\t\tInterface eth2',
        '\t}',
        '}',
        'General {',
        `\tLockFile ${dir}/lock`,
        '\tUNIX {',
        `\t\tPath ${dir}/none.ctl`,
        '\t}',
        '}',
        '',
      ].join('\n');
    const SPACE_RULE = 'not a separator in conntrackd.conf (only spaces, tabs and newlines are;';

    // What `conntrackd -C file` (and `-C file -s`) 1.4.7 prints for each, with the character at 8:7:
    // "parsing config file in line (8), symbol 'X': syntax error", X the raw byte (shown escaped).
    const CASES: Array<[string, string, { raw: string; shown: string }]> = [
      ['\f', 'U+000C form feed', { raw: '\f', shown: '\\f' }],
      ['\v', 'U+000B vertical tab', { raw: '\v', shown: '\\v' }],
      ['\u00a0', 'U+00A0 no-break space', { raw: '\xc2', shown: '\\xc2' }],
    ];
    const conntrackdSays = (symbol: string) => `parsing config file in line (8), symbol '${symbol}': syntax error`;
    for (const [sep, name, symbol] of CASES) {
      it(`a ${name.slice(7)} between words is an error at its line and column (conntrackd 1.4.7: "${conntrackdSays(symbol.shown)}")`, () => {
        const how =
          sep === '\u00a0'
            ? 'conntrackd 1.4.7 stops reading the file there'
            : 'conntrackd 1.4.7 fails with a syntax error';
        assert.equal(
          errorOf(strayFile(sep), 'x.conf'),
          `x.conf:8:7: stray ${name}: ${SPACE_RULE} ${how}); replace it with a space`,
        );
      });
    }

    it('the rest of the file is still checked: every problem is listed, the stray character read as a space', () => {
      const text = `Sync {\n\u00a0Mode FTFW { }\n${UDP_BLOCK.replace('Port 3780', 'Port\f3780')}\n}\nGeneral {\n\vBogus 1\n\tHashSize\u00a0\u00a0\u00a0abc\n}\n`;
      assert.equal(
        errorOf(text, 'x.conf'),
        [
          `x.conf:2:1: stray U+00A0 no-break space: ${SPACE_RULE} conntrackd 1.4.7 stops reading the file there); replace it with a space`,
          `x.conf:3:77: stray U+000C form feed: ${SPACE_RULE} conntrackd 1.4.7 fails with a syntax error); replace it with a space`,
          `x.conf:6:1: stray U+000B vertical tab: ${SPACE_RULE} conntrackd 1.4.7 fails with a syntax error); replace it with a space`,
          "x.conf:6:2: unknown option 'Bogus' in General",
          `x.conf:7:10: stray U+00A0 no-break space (3 in a row): ${SPACE_RULE} conntrackd 1.4.7 stops reading the file there); replace it with a space`,
          "x.conf:7:13: 'HashSize' expects a number, got 'abc'",
        ].join('\n'),
      );
    });

    it('in a comment they are ignored, as conntrackd ignores them', () => {
      const r = parse(`# \f\v\u00a0\0\ufeff\ufffd\u2028 in a comment\n${SYNC}`);
      assert.deepStrictEqual(r.config.sync.channels, [UDP_CHANNEL]);
    });

    it('in a path they are refused (conntrackd 1.4.7 would keep them in the path)', () => {
      assert.equal(
        errorOf(`${SYNC}General {\n\tLockFile /var/lock/x\u00a0\n}\n`, 'x.conf'),
        'x.conf:3:22: stray U+00A0 no-break space in a path: conntrackd 1.4.7 would keep it as part of the path; replace it with a space',
      );
    });

    it('NUL, escape, a byte order mark, invalid UTF-8 and U+2028 are named too, with what to do', () => {
      const first = (text: string) => errorOf(text, 'x.conf').split('\n')[0];
      const controlRule = 'conntrackd.conf cannot have it outside a comment (';
      assert.equal(
        first(`${SYNC}\0`),
        `x.conf:2:1: stray U+0000 NUL: ${controlRule}conntrackd 1.4.7 stops reading the file there); delete it`,
      );
      assert.equal(
        first(`${SYNC}\x1b[0m`),
        `x.conf:2:1: stray U+001B escape: ${controlRule}conntrackd 1.4.7 fails with a syntax error); delete it`,
      );
      assert.equal(
        first(`\ufeff${SYNC}`),
        `x.conf:1:1: stray U+FEFF byte order mark (zero-width no-break space): ${controlRule}conntrackd 1.4.7 stops reading the file there); delete it (save the file without a byte order mark)`,
      );
      // As loadConfig reads a file: bytes that are not UTF-8 become U+FFFD.
      const latin1 = Buffer.concat([
        Buffer.from(SYNC),
        Buffer.from('General { Syslog d\xe6mon }\n', 'latin1'),
      ]).toString('utf8');
      assert.equal(
        errorOf(latin1, 'x.conf').split('\n')[1],
        `x.conf:2:19: stray U+FFFD replacement character (the file is not valid UTF-8 here): ${controlRule}conntrackd 1.4.7 stops reading the file there); retype this part of the file in ASCII`,
      );
      assert.equal(
        first(`${SYNC}\u2028`),
        `x.conf:2:1: stray U+2028 line separator: ${SPACE_RULE} conntrackd 1.4.7 stops reading the file there); replace it with a newline`,
      );
    });

    it("every character JavaScript's \\s matches, other than space, tab, CR and LF, is a stray character that separates words", () => {
      const ws = Array.from({ length: 0x10000 }, (_, c) => String.fromCharCode(c)).filter(
        (c) => /\s/.test(c) && !' \t\r\n'.includes(c),
      );
      assert.equal(ws.length, 21);
      for (const c of ws) {
        assert.ok(strayCharacter(c), `U+${c.charCodeAt(0).toString(16)}`);
        const problems: LexProblem[] = [];
        const toks = tokenize(`Port${c}3780${c}`, problems);
        assert.deepStrictEqual(
          toks.map((t) => [t.text, t.col]),
          [
            ['Port', 1],
            ['3780', 6],
            ['', 11],
          ],
        );
        assert.deepStrictEqual(
          problems.map((p) => [p.line, p.col]),
          [
            [1, 5],
            [1, 10],
          ],
        );
      }
    });

    it('real conntrackd 1.4.7 rejects the same files (when installed)', function () {
      const bin = ['/usr/sbin/conntrackd', '/sbin/conntrackd'].find((b) => fs.existsSync(b));
      if (!bin) this.skip();
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctsync-conntrackd-stray-'));
      try {
        // `-s` only reads the file and asks the (absent) daemon at dir/none.ctl for statistics.
        const conntrackd = (sep: string) => {
          const file = path.join(dir, 'conntrackd.conf');
          fs.writeFileSync(file, strayFile(sep, dir));
          return spawnSync(bin!, ['-C', file, '-s'], { encoding: 'latin1', timeout: 10000 }).stderr;
        };
        assert.match(conntrackd(' '), /can't connect/);
        for (const [sep, , symbol] of CASES) {
          const stderr = conntrackd(sep);
          assert.ok(stderr.includes(conntrackdSays(symbol.raw)), `${JSON.stringify(sep)}: ${JSON.stringify(stderr)}`);
        }
        // Outside a block, a non-ASCII character ends the file for conntrackd: the bad option after it goes unseen.
        assert.match(conntrackd(' 3780\n}\n}\n\u00a0\nGeneral { Bogus 1 }\n#'), /can't connect/);
        assert.match(
          conntrackd(' 3780\n}\n}\nGeneral { Bogus 1 }\n#'),
          /parsing config file in line \(11\), symbol 'Bogus'/,
        );
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it('`ctsync config check` prints them and exits with status 2 (no hang)', () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctsync-config-check-'));
      try {
        const file = path.join(dir, 'conntrackd.conf');
        fs.writeFileSync(
          file,
          strayFile('\f').replace('Interface eth2', 'Interface\u00a0eth2').replace('UDP {', 'UDP\v{'),
        );
        const cli = path.join(repoRoot(), 'dist/src/cli/ctsync.cjs');
        // A generous bound: before the fix the process grew without end and never exited.
        const r = spawnSync(process.execPath, [cli, 'config', 'check', file], { encoding: 'utf8', timeout: 60000 });
        assert.equal(r.signal, null, `killed after 60 s: ${r.stderr}`);
        assert.equal(r.status, 2, r.stderr);
        assert.equal(r.stdout, '');
        assert.equal(
          r.stderr,
          [
            `${file}:5:5: stray U+000B vertical tab: ${SPACE_RULE} conntrackd 1.4.7 fails with a syntax error); replace it with a space`,
            `${file}:8:7: stray U+000C form feed: ${SPACE_RULE} conntrackd 1.4.7 fails with a syntax error); replace it with a space`,
            `${file}:9:12: stray U+00A0 no-break space: ${SPACE_RULE} conntrackd 1.4.7 stops reading the file there); replace it with a space`,
            '',
          ].join('\n'),
        );
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});
