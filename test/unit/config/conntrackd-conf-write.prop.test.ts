// Property tests for the configuration:
//  - any valid resolved config survives model → conntrackd.conf text (toConntrackdConf) → parse →
//    withDefaults unchanged, without errors;
//  - the same config survives JSON → validateConfig → withDefaults (the native format);
//  - the conntrackd.conf reader never fails with anything but a ConfigError, whatever the input;
//  - when /usr/sbin/conntrackd is installed, the real conntrackd 1.4.7 parser accepts what
//    toConntrackdConf writes (`conntrackd -C file -s` gets past parsing to "can't connect").
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { classifyWord, KEYWORDS, parseConntrackdConf } from '../../../src/config/conntrackd-conf.js';
import { toConntrackdConf } from '../../../src/config/conntrackd-conf-write.js';
import { ConfigError } from '../../../src/config/errors.js';
import {
  DEFAULTS,
  SYSLOG_FACILITIES,
  TCP_FILTER_STATES,
  withDefaults,
  type CtsyncConfig,
} from '../../../src/config/model.js';
import { protocolNames } from '../../../src/config/protocols.js';
import { checkConfig, isIPv6, validateConfig } from '../../../src/config/schema.js';

const NUM_RUNS = Number(process.env.FC_NUM_RUNS ?? 300);
const INT_MAX = 2147483647;

// ---------------------------------------------------------------- arbitraries

const opts = { noNullPrototype: true } as const;
const posInt = fc.oneof(fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 1, max: INT_MAX }));
const port = fc.integer({ min: 1, max: 65535 });
const u8 = fc.integer({ min: 0, max: 255 });
const u16 = fc.integer({ min: 0, max: 0xffff });

/** Interface names conntrackd can read (a letter first; not made only of hex digits). */
const ifname = fc
  .tuple(
    fc.constantFrom('eth', 'sync', 'bond', 'br', 'veth', 'enp', 'wg', 'lan', 'br-lan', 'sync_a'),
    fc.integer({ min: 0, max: 999 }),
    fc.option(fc.integer({ min: 1, max: 4094 }), { nil: undefined }),
  )
  .map(([p, n, vlan]) => `${p}${n}${vlan !== undefined ? `.${vlan}` : ''}`)
  .filter((n) => n.length <= 15 && classifyWord(n) === 'string');

const ipv4 = fc.tuple(u8, u8, u8, u8).map((o) => o.join('.'));
const mcast4 = fc.tuple(fc.integer({ min: 224, max: 239 }), u8, u8, u8).map((o) => o.join('.'));

/** IPv6 text from 8 groups, sometimes with the longest zero run compressed to '::'. */
function ipv6From(groups: number[], compress: boolean): string {
  const hex = groups.map((g) => g.toString(16));
  if (!compress) return hex.join(':');
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestLen < 2) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}
const group16 = fc.oneof(fc.constant(0), u16);
const ipv6 = fc.tuple(fc.array(group16, { minLength: 8, maxLength: 8 }), fc.boolean()).map(([g, c]) => ipv6From(g, c));
const mcast6 = fc
  .tuple(fc.integer({ min: 0xff00, max: 0xffff }), fc.array(group16, { minLength: 7, maxLength: 7 }), fc.boolean())
  .map(([f, g, c]) => ipv6From([f, ...g], c));
const cidr4 = fc
  .tuple(ipv4, fc.option(fc.integer({ min: 0, max: 32 }), { nil: undefined }))
  .map(([a, n]) => (n === undefined ? a : `${a}/${n}`));
const cidr6 = fc
  .tuple(ipv6, fc.option(fc.integer({ min: 0, max: 128 }), { nil: undefined }))
  .map(([a, n]) => (n === undefined ? a : `${a}/${n}`));

const absPath = (max: number) =>
  fc
    .array(fc.stringMatching(/^[a-z0-9._-]{1,8}$/), { minLength: 1, maxLength: 4 })
    .map((s) => `/${s.join('/')}`)
    .filter((p) => p.length <= max);

const helper = fc.constantFrom(
  'ftp',
  'sip',
  'q.931',
  'h.245',
  'ras',
  'irc',
  'tftp',
  'amanda',
  'pptp',
  'snmp',
  'netbios-ns',
  'sane',
);
/** Protocol numbers conntrackd.conf can name. */
const PROTOCOLS = Array.from({ length: 256 }, (_, n) => n).filter(
  (n) => n === 6 || n === 17 || protocolNames(n).some((x) => classifyWord(x) === 'string'),
);
const filterMode = fc.constantFrom('accept' as const, 'ignore' as const);

const udpChannel = fc.boolean().chain((v6) =>
  fc.record<Record<string, unknown>>(
    {
      kind: fc.constant('udp' as const),
      default: fc.constant(false),
      ...(v6 ? { ipv6Address: ipv6 } : { ipv4Address: ipv4 }),
      destination: v6 ? ipv6 : ipv4,
      port,
      interface: ifname,
      sndSocketBuffer: posInt,
      rcvSocketBuffer: posInt,
      checksum: fc.boolean(),
    },
    {
      requiredKeys: [
        'kind',
        'default',
        v6 ? 'ipv6Address' : 'ipv4Address',
        'destination',
        'port',
        'interface',
        'checksum',
      ] as never[],
      ...opts,
    },
  ),
);

const multicastChannel = fc.boolean().chain((v6) =>
  fc.record<Record<string, unknown>>(
    {
      kind: fc.constant('multicast' as const),
      default: fc.constant(false),
      group: v6 ? mcast6 : mcast4,
      port,
      ...(v6 ? {} : { ipv4Interface: ipv4 }),
      interface: ifname,
      sndSocketBuffer: posInt,
      rcvSocketBuffer: posInt,
      checksum: fc.boolean(),
    },
    { requiredKeys: ['kind', 'default', 'group', 'port', 'interface', 'checksum'] as never[], ...opts },
  ),
);

const channels = fc
  .tuple(
    fc.oneof(
      fc.array(udpChannel, { minLength: 1, maxLength: 4 }),
      fc.array(multicastChannel, { minLength: 1, maxLength: 4 }),
    ),
    fc.option(fc.nat(3), { nil: undefined }),
  )
  .map(([list, d]) => list.map((c, i) => ({ ...c, default: d !== undefined && d % list.length === i })));

const ftfwSync = fc.record(
  {
    mode: fc.constant('ftfw' as const),
    resendQueueSize: posInt,
    ackWindowSize: posInt,
    commitTimeout: posInt,
    purgeTimeout: posInt,
    disableExternalCache: fc.boolean(),
    startupResync: fc.boolean(),
    channels,
    options: fc.record(
      {
        tcpWindowTracking: fc.boolean(),
        expectationSync: fc.oneof(fc.boolean(), fc.array(helper, { minLength: 1, maxLength: 5 })),
      },
      opts,
    ),
  },
  {
    requiredKeys: [
      'mode',
      'resendQueueSize',
      'ackWindowSize',
      'purgeTimeout',
      'disableExternalCache',
      'startupResync',
      'channels',
      'options',
    ],
    ...opts,
  },
);

/** Mode ALARM: its two settings; FT-FW's at their defaults, the switches it refuses off. */
const alarmSync = fc.tuple(ftfwSync, posInt, posInt).map(([s, refreshTime, cacheTimeout]) => ({
  ...s,
  mode: 'alarm' as const,
  refreshTime,
  cacheTimeout,
  resendQueueSize: DEFAULTS.sync.resendQueueSize,
  ackWindowSize: DEFAULTS.sync.ackWindowSize,
  disableExternalCache: false,
  startupResync: false,
}));

const sync = fc.oneof(ftfwSync, alarmSync);

const filter = fc.record(
  {
    from: fc.constantFrom('userspace' as const, 'kernelspace' as const),
    protocol: fc.record(
      { mode: filterMode, protocols: fc.array(fc.constantFrom(...PROTOCOLS), { maxLength: 6 }) },
      opts,
    ),
    address: fc.record(
      { mode: filterMode, ipv4: fc.array(cidr4, { maxLength: 4 }), ipv6: fc.array(cidr6, { maxLength: 4 }) },
      opts,
    ),
    state: fc.record(
      { mode: filterMode, tcpStates: fc.array(fc.constantFrom(...TCP_FILTER_STATES), { maxLength: 5 }) },
      opts,
    ),
  },
  { requiredKeys: ['from'], ...opts },
);

const general = fc
  .record(
    {
      systemd: fc.boolean(),
      hashSize: posInt,
      hashLimit: posInt,
      logFile: fc.oneof(fc.constant(false as const), absPath(256)),
      syslog: fc.oneof(fc.constant(false as const), fc.constantFrom(...SYSLOG_FACILITIES)),
      lockFile: absPath(256),
      unix: fc.record({ path: absPath(107), backlog: posInt }, { requiredKeys: ['path'], ...opts }),
      netlinkBufferSize: posInt,
      netlinkBufferSizeMaxGrowth: fc.integer({ min: 0, max: INT_MAX }),
      netlinkOverrunResync: fc.oneof(fc.constant(false as const), posInt),
      netlinkEventsReliable: fc.boolean(),
      eventIterationLimit: posInt,
      scheduler: fc.record(
        { type: fc.constantFrom('rr' as const, 'fifo' as const), priority: fc.integer({ min: 1, max: 99 }) },
        opts,
      ),
      filter,
    },
    {
      requiredKeys: [
        'systemd',
        'hashSize',
        'hashLimit',
        'logFile',
        'syslog',
        'lockFile',
        'unix',
        'netlinkBufferSizeMaxGrowth',
        'netlinkOverrunResync',
        'netlinkEventsReliable',
        'eventIterationLimit',
        'filter',
      ],
      ...opts,
    },
  )
  .map((g) => ({ ...g, netlinkBufferSizeMaxGrowth: Math.max(g.netlinkBufferSizeMaxGrowth, g.netlinkBufferSize ?? 0) }));

/** A resolved configuration: what withDefaults() produces. */
const config: fc.Arbitrary<CtsyncConfig> = fc.record({ sync, general }, opts) as fc.Arbitrary<CtsyncConfig>;

// ---------------------------------------------------------------- properties

describe('config: properties', () => {
  it('generated configurations are valid and already resolved', () => {
    fc.assert(
      fc.property(config, (c) => {
        assert.deepStrictEqual(checkConfig(c), []);
        assert.deepStrictEqual(withDefaults(c), c);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('model → conntrackd.conf → parse → same model', () => {
    fc.assert(
      fc.property(config, (c) => {
        const text = toConntrackdConf(c);
        const parsed = parseConntrackdConf(text, 'generated.conf');
        assert.deepStrictEqual(withDefaults(parsed.config), c, text);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('model → JSON → validate → same model', () => {
    fc.assert(
      fc.property(config, (c) => {
        const input = validateConfig(JSON.parse(JSON.stringify(c)) as unknown, 'generated.json');
        assert.deepStrictEqual(withDefaults(input), c);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('the reader fails only with a ConfigError, on any token soup', () => {
    const word = fc.oneof(
      fc.constantFrom(...KEYWORDS),
      fc.constantFrom(
        '{',
        '}',
        '{',
        '}',
        '\n',
        '# comment\n',
        'on',
        'off',
        'FTFW',
        'ALARM',
        '"',
        '/var/run/x',
        '/x}',
        '10.0.0.1',
        'ff02::1',
        '10.0.0.0/24',
        '-5',
        '3780',
        '0',
        '99999999999',
        'eth0',
        'ae0',
        'tcp',
        'Tcp',
      ),
      fc.string({ maxLength: 6 }),
    );
    fc.assert(
      fc.property(fc.array(word, { maxLength: 60 }), (words) => {
        try {
          parseConntrackdConf(words.join(' '), 'soup.conf');
        } catch (e) {
          assert.ok(e instanceof ConfigError, String(e));
          for (const p of e.problems) assert.ok(p.line! >= 1 && p.column! >= 1, e.message);
        }
      }),
      { numRuns: NUM_RUNS * 3 },
    );
  });

  it('mutating one line of a valid file gives a result or a ConfigError, never a crash', () => {
    fc.assert(
      fc.property(config, fc.nat(), fc.string({ maxLength: 8 }), (c, at, junk) => {
        const lines = toConntrackdConf(c).split('\n');
        const k = at % lines.length;
        lines[k] = `${lines[k]!.slice(0, lines[k]!.length >> 1)}${junk}`;
        try {
          parseConntrackdConf(lines.join('\n'), 'mutated.conf');
        } catch (e) {
          assert.ok(e instanceof ConfigError, String(e));
        }
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('toConntrackdConf refuses values conntrackd cannot read', () => {
    const base = withDefaults({
      sync: {
        channels: [{ kind: 'udp', ipv4Address: '10.0.0.1', destination: '10.0.0.2', port: 3780, interface: 'eth1' }],
      },
    });
    const bad = (patch: (c: CtsyncConfig) => void, why: RegExp) => {
      const c = structuredClone(base);
      patch(c);
      assert.throws(() => toConntrackdConf(c), why);
    };
    bad((c) => {
      c.sync.channels[0]!.interface = 'ae0';
    }, /cannot write interface "ae0" to conntrackd\.conf: conntrackd would read it as an IPv6 address/);
    bad((c) => {
      c.general.lockFile = '/var/lock/with space';
    }, /cannot write lockFile/);
    bad((c) => {
      c.general.filter.protocol = { mode: 'accept', protocols: [133] };
    }, /cannot write protocol 133/);
    bad((c) => {
      c.general.filter.address = { mode: 'accept', ipv4: [], ipv6: ['::ffff:10.0.0.1'] };
    }, /cannot write filter address/);
    bad((c) => {
      c.sync.options.expectationSync = ['Default'];
    }, /it is a conntrackd\.conf keyword/);
    assert.ok(isIPv6('::ffff:10.0.0.1'));
  });

  it('real conntrackd 1.4.7 parses what toConntrackdConf writes (when installed)', function () {
    const bin = ['/usr/sbin/conntrackd', '/sbin/conntrackd'].find((b) => fs.existsSync(b));
    if (!bin) this.skip();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctsync-conntrackd-parse-'));
    try {
      fc.assert(
        fc.property(config, (c) => {
          // A control socket path that does not exist: the client stops at "can't connect".
          const safe: CtsyncConfig = {
            ...c,
            general: { ...c.general, unix: { ...c.general.unix, path: path.join(dir, 'none.ctl') } },
          };
          const file = path.join(dir, 'conntrackd.conf');
          fs.writeFileSync(file, toConntrackdConf(safe));
          const r = spawnSync(bin!, ['-C', file, '-s'], { encoding: 'utf8', timeout: 10000 });
          assert.doesNotMatch(
            r.stderr,
            /parsing config file|ERROR\].*(?:scheduler|Priority|PollSecs|too many|cannot use)/,
            `${r.stderr}\n${toConntrackdConf(safe)}`,
          );
          assert.match(r.stderr, /can't connect/, r.stderr);
        }),
        { numRuns: Math.min(NUM_RUNS, 40) },
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
