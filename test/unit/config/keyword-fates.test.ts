// Every keyword of conntrackd 1.4.7's config scanner (read_config_lex.l) and its fate in ctsync:
// applied (the snippet parses and changes the resolved configuration), or refused (the snippet is
// an error that names the keyword); the few still read and not acted on are listed as gaps. Parts of a larger clause (state names, `for`, `From` …) are
// covered by their clause. Fates of keywords other engineers are implementing now are as today.
import { strict as assert } from 'node:assert';
import { KEYWORDS, parseConntrackdConf } from '../../../src/config/conntrackd-conf.js';
import { ConfigError } from '../../../src/config/errors.js';
import { withDefaults } from '../../../src/config/model.js';

/**
 * applied | refused | part (of another clause) | deprecated (ignored by conntrackd too, with a
 * warning) | gap (read and stored, not acted on yet: docs/conntrackd-compat.md §1.4; other work
 * in progress implements these).
 */
type Fate = 'applied' | 'refused' | 'part' | 'deprecated' | 'gap';
const UDP = 'UDP { IPv4_address 192.0.2.1 IPv4_Destination_Address 192.0.2.2 Port 3780 Interface eth1 }';
const file = (mode: string, sync: string, general: string, top = ''): string =>
  `Sync { Mode FTFW { ${mode} } ${sync || UDP} }\nGeneral { ${general} }\n${top}`;
/** A file in Mode ALARM (RefreshTime and CacheTimeout belong there). */
const alarmFile = (mode: string): string => `Sync { Mode ALARM { ${mode} } ${UDP} }\nGeneral { }\n`;

/** keyword → [fate, file that uses it] (a 'part' keyword names the clause it belongs to). */
const FATES: Record<string, [Fate, string]> = {
  UNIX: ['applied', file('', '', 'UNIX { Path /run/x.ctl }')],
  Path: ['applied', file('', '', 'UNIX { Path /run/x.ctl }')],
  Backlog: ['applied', file('', '', 'UNIX { Backlog 7 }')],
  IPv4_address: [
    'applied',
    file('', 'UDP { IPv4_address 192.0.2.9 IPv4_Destination_Address 192.0.2.2 Port 3780 Interface eth1 }', ''),
  ],
  IPv6_address: [
    'applied',
    file('', 'UDP { IPv6_address fe80::1 IPv6_Destination_Address fe80::2 Port 3780 Interface eth1 }', ''),
  ],
  IPv4_Destination_Address: [
    'applied',
    file('', 'UDP { IPv4_Destination_Address 192.0.2.7 Port 3780 Interface eth1 }', ''),
  ],
  IPv6_Destination_Address: [
    'applied',
    file('', 'UDP { IPv6_Destination_Address 2001:db8::7 Port 3780 Interface eth1 }', ''),
  ],
  IPv4_interface: [
    'applied',
    file('', 'Multicast { IPv4_address 225.0.0.50 Group 3780 IPv4_interface 192.0.2.1 Interface eth1 }', ''),
  ],
  IPv6_interface: [
    'deprecated',
    file('', 'Multicast { IPv6_address ff02::1:3780 IPv6_interface fe80::1 Group 3780 Interface eth1 }', ''),
  ],
  Interface: [
    'applied',
    file('', 'UDP { IPv4_address 192.0.2.1 IPv4_Destination_Address 192.0.2.2 Port 3780 Interface eth9 }', ''),
  ],
  Multicast: ['applied', file('', 'Multicast { IPv4_address 225.0.0.50 Group 3780 Interface eth1 }', '')],
  UDP: ['applied', file('', '', '')],
  TCP: [
    'applied',
    file('', 'TCP { IPv4_address 192.0.2.1 IPv4_Destination_Address 192.0.2.2 Port 3780 Interface eth1 }', ''),
  ],
  HashSize: ['applied', file('', '', 'HashSize 1024')],
  HashLimit: ['applied', file('', '', 'HashLimit 1024')],
  RefreshTime: ['applied', alarmFile('RefreshTime 5')],
  CacheTimeout: ['applied', alarmFile('CacheTimeout 5')],
  CommitTimeout: ['applied', file('CommitTimeout 5', '', '')],
  PurgeTimeout: ['applied', file('PurgeTimeout 5', '', '')],
  Group: ['applied', file('', 'Multicast { IPv4_address 225.0.0.50 Group 3781 Interface eth1 }', '')],
  Port: [
    'applied',
    file('', 'UDP { IPv4_address 192.0.2.1 IPv4_Destination_Address 192.0.2.2 Port 3781 Interface eth1 }', ''),
  ],
  LogFile: ['applied', file('', '', 'LogFile on')],
  Syslog: ['applied', file('', '', 'Syslog on')],
  LockFile: ['applied', file('', '', 'LockFile /run/x.lock')],
  General: ['applied', file('', '', 'HashSize 1024')],
  Sync: ['applied', file('', '', '')],
  Stats: ['refused', 'Stats { LogFile on }\n'],
  SocketBufferSize: ['applied', file('', '', 'SocketBufferSize 1048576')],
  SocketBufferSizeMaxGrown: ['applied', file('', '', 'SocketBufferSizeMaxGrown 33554432')],
  SocketBufferSizeMaxGrowth: ['applied', file('', '', 'SocketBufferSizeMaxGrowth 33554432')],
  NetlinkBufferSize: ['applied', file('', '', 'NetlinkBufferSize 1048576')],
  NetlinkBufferSizeMaxGrowth: ['applied', file('', '', 'NetlinkBufferSizeMaxGrowth 33554432')],
  Mode: ['applied', file('ResendQueueSize 10', '', '')],
  ResendQueueSize: ['applied', file('ResendQueueSize 10', '', '')],
  Checksum: [
    'applied',
    file(
      '',
      'UDP { IPv4_address 192.0.2.1 IPv4_Destination_Address 192.0.2.2 Port 3780 Interface eth1 Checksum off }',
      '',
    ),
  ],
  ACKWindowSize: ['applied', file('ACKWindowSize 10', '', '')],
  for: ['part', 'State'],
  SYN_SENT: ['part', 'State'],
  SYN_RECV: ['part', 'State'],
  ESTABLISHED: ['part', 'State'],
  FIN_WAIT: ['part', 'State'],
  CLOSE_WAIT: ['part', 'State'],
  LAST_ACK: ['part', 'State'],
  TIME_WAIT: ['part', 'State'],
  CLOSE: ['part', 'State'],
  CLOSED: ['part', 'State'],
  LISTEN: ['part', 'State'],
  SndSocketBuffer: [
    'applied',
    file(
      '',
      'UDP { IPv4_address 192.0.2.1 IPv4_Destination_Address 192.0.2.2 Port 3780 Interface eth1 SndSocketBuffer 65536 }',
      '',
    ),
  ],
  RcvSocketBuffer: [
    'applied',
    file(
      '',
      'UDP { IPv4_address 192.0.2.1 IPv4_Destination_Address 192.0.2.2 Port 3780 Interface eth1 RcvSocketBuffer 65536 }',
      '',
    ),
  ],
  Filter: ['applied', file('', '', 'Filter { Protocol Accept { tcp } }')],
  Protocol: ['applied', file('', '', 'Filter { Protocol Accept { tcp } }')],
  Address: ['applied', file('', '', 'Filter { Address Ignore { IPv4_address 192.0.2.5 } }')],
  State: ['applied', file('', '', 'Filter { State Accept { ESTABLISHED CLOSED for TCP } }')],
  Accept: ['part', 'Protocol'],
  Ignore: ['part', 'Address'],
  From: ['applied', file('', '', 'Filter From Kernelspace { Protocol Accept { tcp } }')],
  Userspace: ['part', 'From'],
  Kernelspace: ['part', 'From'],
  EventIterationLimit: ['applied', file('', '', 'EventIterationLimit 5')],
  Default: [
    'gap',
    file(
      '',
      `${UDP} UDP Default { IPv4_address 192.0.2.1 IPv4_Destination_Address 192.0.2.3 Port 3781 Interface eth1 }`,
      '',
    ),
  ],
  PollSecs: ['refused', file('', '', 'PollSecs 15')],
  NetlinkOverrunResync: ['applied', file('', '', 'NetlinkOverrunResync off')],
  Nice: ['deprecated', file('', '', 'Nice -5')],
  Scheduler: ['applied', file('', '', 'Scheduler { Type FIFO Priority 1 }')],
  Type: ['part', 'Scheduler'],
  Priority: ['part', 'Scheduler'],
  NetlinkEventsReliable: ['applied', file('', '', 'NetlinkEventsReliable on')],
  DisableInternalCache: ['refused', file('DisableInternalCache on', '', '')],
  DisableExternalCache: ['gap', file('DisableExternalCache on', '', '')],
  Options: ['applied', file('', `${UDP} Options { TCPWindowTracking on }`, '')],
  TCPWindowTracking: ['applied', file('', `${UDP} Options { TCPWindowTracking on }`, '')],
  ExpectationSync: ['applied', file('', `${UDP} Options { ExpectationSync on }`, '')],
  ErrorQueueLength: [
    'applied',
    file(
      '',
      'TCP { IPv4_address 192.0.2.1 IPv4_Destination_Address 192.0.2.2 Port 3780 Interface eth1 ErrorQueueLength 5 }',
      '',
    ),
  ],
  Helper: ['applied', file('', '', '', 'Helper { Type ftp inet tcp { QueueNum 1 } }')],
  QueueNum: ['applied', file('', '', '', 'Helper { Type ftp inet tcp { QueueNum 2 } }')],
  QueueLen: ['applied', file('', '', '', 'Helper { Type ftp inet tcp { QueueLen 9 } }')],
  Policy: ['applied', file('', '', '', 'Helper { Type ftp inet tcp { Policy ftp { ExpectMax 2 ExpectTimeout 60 } } }')],
  ExpectMax: ['part', 'Policy'],
  ExpectTimeout: ['part', 'Policy'],
  Systemd: ['gap', file('', '', 'Systemd off')],
  StartupResync: ['applied', file('StartupResync on', '', '')],
  Setup: ['refused', file('', '', 'Setup on')],
};

describe("config: every keyword of conntrackd's scanner has a fate", () => {
  const base = JSON.stringify(withDefaults(parseConntrackdConf(file('', '', '')).config));
  // an ALARM keyword must change an ALARM configuration (not merely the mode)
  const alarmBase = JSON.stringify(withDefaults(parseConntrackdConf(alarmFile('')).config));

  it('the table lists exactly the scanner keywords', () => {
    assert.deepEqual(Object.keys(FATES).sort(), [...KEYWORDS].sort());
  });

  for (const [keyword, [fate, text]] of Object.entries(FATES)) {
    if (fate === 'part') {
      it(`${keyword}: part of '${text}'`, () => assert.ok(FATES[text], text));
      continue;
    }
    it(`${keyword}: ${fate}`, () => {
      if (fate === 'refused') {
        assert.throws(
          () => parseConntrackdConf(text),
          (e: unknown) => e instanceof ConfigError && e.message.includes(keyword),
        );
        return;
      }
      const parsed = parseConntrackdConf(text);
      if (fate === 'deprecated') {
        assert.ok(
          parsed.warnings.some((w) => w.message.includes(keyword)),
          'a warning names it',
        );
        return;
      }
      if (fate === 'gap') return;
      const resolved = JSON.stringify(withDefaults(parsed.config));
      if (keyword !== 'UDP' && keyword !== 'Sync')
        assert.notEqual(
          resolved,
          text.includes('Mode ALARM') ? alarmBase : base,
          'the setting changes the configuration',
        );
    });
  }
});
