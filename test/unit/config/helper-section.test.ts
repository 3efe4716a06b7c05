// The `Helper` section of conntrackd.conf (src/config/helper-section.ts, src/config/helpers.ts):
// VyOS's block read into the model, and every bad input an error at its place naming the fix.
// The helper names, protocols, policy names and conntrackd's own refusals were checked against
// the real conntrackd 1.4.7 (it loads ct_helper_<name>.so; see helpers.ts).
import { strict as assert } from 'node:assert';
import fs from 'node:fs';
import path from 'node:path';
import { parseConntrackdConf } from '../../../src/config/conntrackd-conf.js';
import { toConntrackdConf } from '../../../src/config/conntrackd-conf-write.js';
import { ConfigError, formatProblem } from '../../../src/config/errors.js';
import { validateConfig } from '../../../src/config/schema.js';
import { withDefaults } from '../../../src/config/model.js';
import { repoRoot } from '../../helpers/fakes.js';

const SYNC =
  'Sync { Mode FTFW { } UDP { IPv4_address 192.0.2.1 IPv4_Destination_Address 192.0.2.2 Port 3780 Interface eth1 } }\n';
/** A file whose Helper section starts on line 2. */
const withHelper = (body: string): string => `${SYNC}Helper {\n${body}\n}\n`;

function errorsOf(text: string): string[] {
  try {
    parseConntrackdConf(text);
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return e.problems.map(formatProblem);
  }
  assert.fail('expected a ConfigError');
}

const VYOS_HELPERS = [
  { name: 'rpc', family: 'inet', protocol: 'tcp', queueNum: 3, policy: { expectMax: 1, expectTimeout: 300 } },
  { name: 'rpc', family: 'inet', protocol: 'udp', queueNum: 4, policy: { expectMax: 1, expectTimeout: 300 } },
  { name: 'tns', family: 'inet', protocol: 'tcp', queueNum: 5, policy: { expectMax: 1, expectTimeout: 300 } },
];

describe('config: the Helper section', () => {
  for (const file of ['vyos-udp.conf', 'vyos-udp-no-listen-address.conf', 'vyos-multicast.conf']) {
    it(`${file} (VyOS's rendered template): its three helpers, and no warning`, () => {
      const text = fs.readFileSync(path.join(repoRoot(), 'test/fixtures/conntrackd', file), 'utf8');
      const r = parseConntrackdConf(text, file);
      assert.deepEqual(r.config.helpers, VYOS_HELPERS);
      assert.deepEqual(r.warnings.map(formatProblem), []);
      assert.deepEqual(withDefaults(r.config).helpers, VYOS_HELPERS);
    });
  }

  it('every helper conntrackd 1.4.7 has, for each protocol it has it for, with QueueLen and both families', () => {
    const pairs = [
      ['amanda', 'udp'],
      ['dhcpv6', 'udp'],
      ['ftp', 'tcp'],
      ['mdns', 'udp'],
      ['rpc', 'tcp'],
      ['rpc', 'udp'],
      ['sane', 'tcp'],
      ['slp', 'udp'],
      ['ssdp', 'tcp'],
      ['ssdp', 'udp'],
      ['tftp', 'udp'],
      ['tns', 'tcp'],
    ];
    const body = pairs.map(([n, p], i) => `Type ${n} inet6 ${p} { QueueNum ${i} QueueLen 64 }`).join('\n');
    const r = parseConntrackdConf(withHelper(body));
    assert.deepEqual(
      r.config.helpers,
      pairs.map(([name, protocol], i) => ({ name, family: 'inet6', protocol, queueNum: i, queueLen: 64 })),
    );
  });

  it('no QueueNum is queue 0 and QueueLen 0 the kernel default, as in conntrackd; several sections merge', () => {
    const r = parseConntrackdConf(
      `${SYNC}Helper { Type ftp inet tcp { QueueLen 0 } }\nHelper { Type tftp inet udp { QueueNum 1 } }\n`,
    );
    assert.deepEqual(r.config.helpers, [
      { name: 'ftp', family: 'inet', protocol: 'tcp', queueNum: 0 },
      { name: 'tftp', family: 'inet', protocol: 'udp', queueNum: 1 },
    ]);
  });

  it('round trip through the writer and the JSON schema', () => {
    const text = fs.readFileSync(path.join(repoRoot(), 'test/fixtures/conntrackd/vyos-udp.conf'), 'utf8');
    const resolved = withDefaults(parseConntrackdConf(text).config);
    const again = withDefaults(parseConntrackdConf(toConntrackdConf(resolved)).config);
    assert.deepEqual(again.helpers, VYOS_HELPERS);
    validateConfig(JSON.parse(JSON.stringify(parseConntrackdConf(text).config)), 'x.json');
  });

  describe('bad input: one error each, at its place, naming the fix', () => {
    const cases: Array<[string, string, string[]]> = [
      [
        'a policy named after another helper',
        'Type rpc inet tcp { QueueNum 3 Policy tns { ExpectMax 1 ExpectTimeout 300 } }',
        [
          "conntrackd.conf:3:39: unknown policy 'tns' for the rpc helper: its only policy is 'rpc' (write 'Policy rpc { … }')",
        ],
      ],
      [
        'an empty policy (conntrackd refuses it too)',
        'Type rpc inet tcp {\nPolicy rpc { }\n}',
        [
          "conntrackd.conf:4:1: 'Policy' needs 'ExpectMax' and 'ExpectTimeout' (e.g. 'ExpectMax 1' and 'ExpectTimeout 300'): conntrackd would set them to 0, and the helper would set up no working expectation",
        ],
      ],
      [
        'a policy without ExpectTimeout (conntrackd would set it to 0)',
        'Type rpc inet tcp {\nPolicy rpc { ExpectMax 1 }\n}',
        [
          "conntrackd.conf:4:1: 'Policy' needs 'ExpectTimeout' (e.g. 'ExpectMax 1' and 'ExpectTimeout 300'): conntrackd would set it to 0, and the helper would set up no working expectation",
        ],
      ],
      [
        'ExpectMax 0 and above the kernel limit, ExpectTimeout 0',
        'Type rpc inet tcp { Policy rpc { ExpectMax 0 ExpectTimeout 300 } }\nType rpc inet udp { QueueNum 1 Policy rpc { ExpectMax 256 ExpectTimeout 0 } }',
        [
          "conntrackd.conf:3:44: 'ExpectMax' expects the most expectations per connection, 1 to 255 (0 lets the helper set up none; the kernel refuses more than 255), got 0",
          "conntrackd.conf:4:55: 'ExpectMax' expects the most expectations per connection, 1 to 255 (0 lets the helper set up none; the kernel refuses more than 255), got 256",
          "conntrackd.conf:4:73: 'ExpectTimeout' expects seconds an expectation lives, at least 1 (0 expires it at once), got 0",
        ],
      ],
      [
        'an unknown helper, a wrong case, a near name',
        'Type nfs inet tcp { }\nType RPC inet tcp { QueueNum 1 }\nType tnss inet tcp { QueueNum 2 }',
        [
          "conntrackd.conf:3:6: unknown helper 'nfs': conntrackd 1.4.7 has amanda, dhcpv6, ftp, mdns, rpc, sane, slp, ssdp, tftp, tns",
          "conntrackd.conf:4:6: unknown helper 'RPC': conntrackd 1.4.7 has amanda, dhcpv6, ftp, mdns, rpc, sane, slp, ssdp, tftp, tns (names are lower-case: 'rpc')",
          "conntrackd.conf:5:6: unknown helper 'tnss': conntrackd 1.4.7 has amanda, dhcpv6, ftp, mdns, rpc, sane, slp, ssdp, tftp, tns (did you mean 'tns'?)",
        ],
      ],
      [
        'a family or protocol conntrackd does not know, and a protocol the helper has not',
        'Type rpc ipv4 tcp { }\nType rpc inet sctp { QueueNum 1 }\nType tns inet udp { QueueNum 2 }',
        [
          "conntrackd.conf:3:10: the helper's family must be inet (IPv4) or inet6 (IPv6), got 'ipv4'",
          "conntrackd.conf:4:15: the helper's protocol must be tcp or udp, got 'sctp': write 'Type rpc inet tcp' or 'Type rpc inet udp'",
          "conntrackd.conf:5:15: conntrackd has no tns helper for udp: write 'Type tns inet tcp'",
        ],
      ],
      [
        'a Type without its three words',
        'Type rpc inet { }',
        [
          "conntrackd.conf:3:10: 'Type' needs a helper name, a family and a protocol, e.g. 'Type rpc inet tcp { QueueNum 3 }'",
        ],
      ],
      [
        'QueueNum out of range, and not a number',
        'Type rpc inet tcp { QueueNum 65536 }\nType rpc inet udp { QueueNum three }',
        [
          "conntrackd.conf:3:30: 'QueueNum' expects an NFQUEUE number from 0 to 65535, got 65536",
          "conntrackd.conf:4:30: 'QueueNum' expects an NFQUEUE number from 0 to 65535, got 'three'",
        ],
      ],
      [
        'the same helper twice, and two helpers on one queue',
        'Type rpc inet tcp { QueueNum 3 }\nType rpc inet tcp { QueueNum 4 }\nType tns inet tcp { QueueNum 3 }',
        [
          "conntrackd.conf:4:1: 'Type rpc inet tcp' is given again (first at line 3): remove one",
          "conntrackd.conf:5:21: 'Type tns inet tcp' reads NFQUEUE 3, which 'Type rpc inet tcp' at line 3 reads already: give each helper its own 'QueueNum'",
        ],
      ],
      [
        'an unknown option in a Type block and in the section',
        'Type rpc inet tcp { Queue 3 }\nFoo 1',
        [
          "conntrackd.conf:3:21: unknown option 'Queue' in 'Type' block at line 3 (expected 'QueueNum', 'QueueLen' or 'Policy')",
          "conntrackd.conf:4:1: unknown option 'Foo' in Helper (expected 'Type <name> <family> <protocol> { … }', e.g. 'Type rpc inet tcp { QueueNum 3 }')",
        ],
      ],
    ];
    for (const [what, body, expected] of cases) it(what, () => assert.deepEqual(errorsOf(withHelper(body)), expected));

    it('a Helper block left open before General', () => {
      assert.deepEqual(errorsOf(`${SYNC}Helper {\nType ftp inet tcp { }\nGeneral { }\n`), [
        "conntrackd.conf:4:1: 'Helper' block at line 2 is not closed before 'General' (missing '}'?)",
      ]);
    });

    it('a repeated QueueNum: the last one wins, with a warning (as in conntrackd)', () => {
      const r = parseConntrackdConf(withHelper('Type ftp inet tcp { QueueNum 1 QueueNum 2 }'));
      assert.equal(r.config.helpers![0]!.queueNum, 2);
      assert.deepEqual(r.warnings.map(formatProblem), [
        "conntrackd.conf:3:32: 'QueueNum' is given again (previous at line 3); the last one wins, as in conntrackd",
      ]);
    });
  });

  describe('the JSON form', () => {
    const json = (helpers: unknown): string[] => {
      try {
        validateConfig(
          {
            sync: {
              channels: [
                { kind: 'udp', ipv4Address: '192.0.2.1', destination: '192.0.2.2', port: 3780, interface: 'eth1' },
              ],
            },
            helpers,
          },
          'c.json',
        );
      } catch (e) {
        assert.ok(e instanceof ConfigError, String(e));
        return e.problems.map(formatProblem);
      }
      return [];
    };
    it('accepts VyOS helpers, refuses a protocol the helper has not and a shared queue', () => {
      assert.deepEqual(json(VYOS_HELPERS), []);
      assert.deepEqual(
        json([
          { name: 'tns', family: 'inet', protocol: 'udp', queueNum: 1 },
          { name: 'ftp', family: 'inet', protocol: 'tcp', queueNum: 1, policy: { expectMax: 300, expectTimeout: 1 } },
        ]),
        [
          'c.json: helpers[1].policy.expectMax: must be <= 255, got 300',
          'c.json: helpers[0].protocol: must be "tcp" (conntrackd\'s tns helper has no other), got "udp"',
          'c.json: helpers[1].queueNum: is already used by another helper (each helper reads its own queue): choose another number (first at helpers[0].queueNum)',
        ],
      );
    });
  });
});
