// Every flag of conntrackd(8) (conntrack-tools 1.4.7) and its fate in ctsync: read as conntrackd
// reads it and applied, or refused with a message saying why. The table is the list; a flag's
// application is proved where its operation is (the integration tests named in `proof`).
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseClientArgv } from '../../../src/cli/client-argv.js';
import { VERSION } from '../../../src/cli/client-flags.js';

const main = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../../src/cli/main.js');

function run(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [main, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A client request as the fast path reads it: the option and its sub-argument. */
function request(args: string[]): [string, unknown] | undefined {
  const call = parseClientArgv(args);
  if (call?.kind !== 'request') return undefined;
  return [call.action, call.opts[call.action]];
}

interface Fate {
  flag: string;
  fate: 'applied' | 'refused';
  proof: string;
  check: () => void;
}

const FLAGS: Fate[] = [
  {
    flag: '-d',
    fate: 'applied',
    proof: 'every integration test starts its daemons with -d (test/helpers/syncpair.ts)',
    check: () => assert.equal(parseClientArgv(['-C', 'x.conf', '-d']), undefined), // the full command line runs it
  },
  {
    flag: '-C',
    fate: 'applied',
    proof: 'every client call of the integration tests',
    check: () =>
      assert.deepEqual(parseClientArgv(['-C', 'a.conf', '-k']), {
        kind: 'request',
        action: 'kill',
        opts: { config: 'a.conf', kill: true },
      }),
  },
  {
    flag: '-v',
    fate: 'applied',
    proof: "conntrackd's line: name, version, licence",
    check: () => {
      const r = run(['-v']);
      assert.equal(r.status, 0);
      assert.equal(r.stdout, `ctsync, connection tracking sync daemon v${VERSION}. Licensed under MIT.\n`);
    },
  },
  {
    flag: '-h',
    fate: 'applied',
    proof: 'the help lists every flag below',
    check: () => {
      const r = run(['-h']);
      assert.equal(r.status, 0);
      for (const f of ['-d', '-C', '-v', '-c', '-f', '-F', '-i', '-e', '-x', '-k', '-s', '-R', '-n', '-B', '-t'])
        assert.match(r.stdout, new RegExp(`${f}, --`), f);
    },
  },
  {
    flag: '-i',
    fate: 'applied',
    proof: 'test/integration/sync/expect.test.ts, cli/xml.test.ts',
    check: () => {
      assert.deepEqual(request(['-i']), ['internal', true]);
      assert.deepEqual(request(['-i', 'e']), ['internal', 'expect']);
    },
  },
  {
    flag: '-e',
    fate: 'applied',
    proof: 'test/integration/sync/interop.test.ts',
    check: () => assert.deepEqual(request(['-e', 'c']), ['external', 'ct']),
  },
  {
    flag: '-x',
    fate: 'applied',
    proof: 'test/integration/cli/xml.test.ts (with -i/-e; alone refused, as conntrackd refuses it)',
    check: () => {
      const call = parseClientArgv(['-i', 'ct', '-x']);
      assert.equal(call?.kind === 'request' && call.opts.xml, true);
      const r = run(['-C', '/nonexistent.conf', '-x']);
      assert.equal(r.status, 1);
      assert.match(r.stderr, /-x \(XML\) goes with -i or -e/);
    },
  },
  {
    flag: '-f',
    fate: 'applied',
    proof: 'test/integration/sync/interop.test.ts',
    check: () => {
      assert.deepEqual(request(['-f']), ['flush', true]);
      assert.deepEqual(request(['-f', 'e']), ['flush', 'external']);
    },
  },
  {
    flag: '-F',
    fate: 'applied',
    proof: 'test/integration/sync/commit.test.ts',
    check: () => assert.deepEqual(request(['-F', 'expect']), ['flushKernel', 'expect']),
  },
  {
    flag: '-c',
    fate: 'applied',
    proof: 'test/integration/sync/commit.test.ts',
    check: () => assert.deepEqual(request(['-c']), ['commit', true]),
  },
  {
    flag: '-B',
    fate: 'applied',
    proof: 'test/integration/sync/interop.test.ts',
    check: () => assert.deepEqual(request(['-B']), ['bulk', true]),
  },
  {
    flag: '-n',
    fate: 'applied',
    proof: 'test/integration/sync/interop.test.ts',
    check: () => assert.deepEqual(request(['-n']), ['requestResync', true]),
  },
  {
    flag: '-k',
    fate: 'applied',
    proof: 'every integration test stops its daemons with -k',
    check: () => assert.deepEqual(request(['-k']), ['kill', true]),
  },
  {
    flag: '-s',
    fate: 'applied',
    proof: 'sub-options matched as conntrackd matches them (first in its order that the word begins)',
    check: () => {
      const cases: Array<[string[], unknown]> = [
        [['-s'], true],
        [['-s', ''], 'network'],
        [['-s', 'n'], 'network'],
        [['-s', 'c'], 'cache'],
        [['-s', 'ct'], 'ct'],
        [['-s', 'r'], 'runtime'],
        [['-s', 'rs'], 'rsqueue'],
        [['-s', 'm'], 'multicast'],
        [['-s', 'l'], 'link'],
        [['-s', 'p'], 'process'],
        [['-s', 'q'], 'queue'],
        [['-s', 'e'], 'expect'],
      ];
      for (const [args, sub] of cases) assert.deepEqual(request(args), ['stats', sub], args.join(' '));
      const r = run(['-C', '/nonexistent.conf', '-s', 'bogus']);
      assert.equal(r.status, 1);
      assert.match(r.stderr, /-s must be one of network, cache, runtime/);
    },
  },
  {
    flag: '-R',
    fate: 'applied',
    proof: 'test/integration/sync/reload.test.ts',
    check: () => assert.deepEqual(request(['-R', 'ct']), ['resyncKernel', 'ct']),
  },
  {
    flag: '-t',
    fate: 'applied',
    proof: "test/integration/ha/failover.test.ts (a demotion's purge is -t's operation)",
    check: () => assert.deepEqual(request(['-t']), ['purge', true]),
  },
  {
    flag: '-S',
    fate: 'refused',
    proof: 'obsolete since conntrackd 1.4 (1.4.7 says "Unknown option")',
    check: () => {
      const r = run(['-C', '/nonexistent.conf', '-S']);
      assert.equal(r.status, 1);
      assert.match(r.stderr, /unknown option '-S'/);
    },
  },
];

describe('cli: every conntrackd(8) flag, applied or refused', function () {
  this.timeout(120_000);
  for (const f of FLAGS) it(`${f.flag}: ${f.fate} (${f.proof})`, f.check);
});
