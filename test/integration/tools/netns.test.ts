// Proves the network-namespace helper (test/helpers/netns.ts) that the integration tests build on:
// namespaces are made and deleted, their conntrack tables are their own, processes are cleaned up,
// and namespaces never outlive the process that made them.

import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { randomInt } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { Netns, ctsyncBin, requireRoot, runCtsync, sweepStaleNetns, useNetns, vethPair } from '../../helpers/netns.js';

const HELPER_URL = new URL('../../helpers/netns.js', import.meta.url).href;

/** A TCP tuple nobody else uses: documentation addresses, random host and port. */
function randomTuple() {
  return {
    src: `192.0.2.${randomInt(1, 255)}`,
    dst: `198.51.100.${randomInt(1, 255)}`,
    sport: randomInt(1024, 65536),
    dport: 80,
  };
}

function tupleFilter(t: ReturnType<typeof randomTuple>): string[] {
  return [
    '-p',
    'tcp',
    '--orig-src',
    t.src,
    '--orig-dst',
    t.dst,
    '--sport',
    String(t.sport),
    '--dport',
    String(t.dport),
  ];
}

/** Runs a small ESM program that uses the helper in a separate node process. */
function helperChild(body: string) {
  const code = `import { Netns } from ${JSON.stringify(HELPER_URL)};\n${body}`;
  return execa(process.execPath, ['--input-type=module', '-e', code], { reject: false, stdin: 'ignore' });
}

/** The process has ended (it may wait as a zombie for its new parent to reap it). */
function gone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.charAt(stat.lastIndexOf(')') + 2) === 'Z';
  } catch {
    return true;
  }
}

async function waitFor(cond: () => Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return cond();
}

describe('netns helper', function () {
  before(function () {
    requireRoot.call(this, 'conntrack', 'ip');
  });

  it('creates a namespace whose conntrack table is its own, and destroys it', async function () {
    const ns = await Netns.create('helper');
    try {
      assert.match(ns.name, new RegExp(`^ctsync-helper-${process.pid}-[0-9a-f]{8}$`));
      assert.ok(await Netns.exists(ns.name), 'namespace listed by ip netns');

      const lo = await ns.exec('ip', ['-o', 'link', 'show', 'lo'], { reject: true });
      assert.match(lo.stdout, /[<,]UP[,>]/, 'lo is up');

      const t = randomTuple();
      const ins = await ns.exec('conntrack', [
        '-I',
        ...tupleFilter(t),
        '--state',
        'ESTABLISHED',
        '-t',
        '600',
        '-u',
        'SEEN_REPLY,ASSURED',
      ]);
      assert.equal(ins.exitCode, 0, `conntrack -I failed: ${ins.stderr}`);

      const inside = await ns.exec('conntrack', ['-L', ...tupleFilter(t)], { reject: true });
      assert.match(inside.stdout, new RegExp(`src=${t.src} dst=${t.dst} sport=${t.sport} dport=${t.dport}`));
      assert.match(inside.stdout, /ESTABLISHED/);
      const count = await ns.exec('conntrack', ['-C'], { reject: true });
      assert.equal(count.stdout.trim(), '1');

      // The host's table does not have it (read only: nothing is ever written to the host's table).
      const onHost = await execa('conntrack', ['-L', ...tupleFilter(t)], { reject: false });
      assert.doesNotMatch(onHost.stdout, new RegExp(`sport=${t.sport} dport=${t.dport}`));
    } finally {
      await ns.destroy();
    }
    assert.equal(await Netns.exists(ns.name), false, 'namespace deleted');
    assert.ok(ns.destroyed);
    await ns.destroy(); // idempotent
    await assert.rejects(ns.exec('true'), /destroyed/);
  });

  it('exec reports a failing command without throwing, and throws when asked', async function () {
    const ns = await Netns.create('exec');
    try {
      const r = await ns.exec('sh', ['-c', 'echo out; echo err >&2; exit 3']);
      assert.deepEqual([r.stdout, r.stderr, r.exitCode], ['out', 'err', 3]);
      const missing = await ns.exec('/nonexistent/ctsync-command');
      assert.notEqual(missing.exitCode, 0);
      await assert.rejects(ns.exec('sh', ['-c', 'exit 4'], { reject: true }), /exited with 4/);
      const piped = await ns.exec('cat', [], { input: 'hello' });
      assert.equal(piped.stdout, 'hello');
      // Commands really run inside: the namespace has only lo.
      const links = await ns.exec('ip', ['-o', 'link', 'show'], { reject: true });
      assert.deepEqual(
        links.stdout.split('\n').map((l) => l.split(':')[1]?.trim()),
        ['lo'],
      );
    } finally {
      await ns.destroy();
    }
  });

  it('destroy() stops spawned processes and anything else left inside', async function () {
    const ns = await Netns.create('spawn');
    let sub: ReturnType<Netns['spawn']> | undefined;
    let orphan = 0;
    try {
      sub = ns.spawn('sleep', ['600']);
      // A background process that is not a child of ours (sh exits, sleep stays in the namespace).
      const bg = await ns.exec('sh', ['-c', 'sleep 600 >/dev/null 2>&1 & echo $!'], { reject: true });
      orphan = Number(bg.stdout.trim());
      assert.ok(orphan > 0);
      assert.ok(sub.pid !== undefined && sub.pid > 0);
    } finally {
      await ns.destroy();
    }
    const res = await sub;
    assert.equal(res.signal, 'SIGTERM');
    assert.ok(await waitFor(async () => gone(orphan), 3000), 'the orphan sleep was killed');
    assert.equal(await Netns.exists(ns.name), false);
  });

  it('vethPair links two namespaces; enableConntrack makes their traffic tracked', async function () {
    await assert.rejects(vethPair({} as Netns, {} as Netns, '10.0.0.1/24', '10.0.0.2/24'), /not in/);
    await assert.rejects(vethPair({} as Netns, {} as Netns, '2001:470::1', '2001:470::2'), /not in/);

    const a = await Netns.create('veth-a');
    const b = await Netns.create('veth-b');
    try {
      const v4 = await vethPair(a, b, '192.0.2.1/24', '192.0.2.2/24');
      const v6 = await vethPair(a, b, '2001:db8:5::1', '2001:db8:5::2');
      assert.notEqual(v4.ifA, v6.ifA);
      await a.enableConntrack();

      // A server in a, a client in b, over the link; each side only talks to the other.
      const server = a.spawn(process.execPath, [
        '-e',
        `const net = require('node:net');
         let n = 0;
         const srv = net.createServer((s) => { s.end('pong'); if (++n === 2) srv.close(); });
         srv.listen(7007, '::', () => console.log('ready'));`,
      ]);
      await new Promise<void>((resolve, reject) => {
        server.stdout?.once('data', () => resolve());
        server.then((r) => reject(new Error(`server ended: ${r.stderr}`)), reject);
      });
      for (const addr of [v4.addrA, v6.addrA]) {
        const client = await b.exec(
          process.execPath,
          [
            '-e',
            `const s = require('node:net').connect(7007, ${JSON.stringify(addr)});
             let d = ''; s.on('data', (c) => d += c); s.on('end', () => { console.log(d); s.end(); });`,
          ],
          { timeout: 10_000 },
        );
        assert.equal(client.stdout, 'pong', `client to ${addr}: ${client.stderr}`);
      }
      const tracked = await a.exec('conntrack', ['-L', '-p', 'tcp', '--dport', '7007'], { reject: true });
      assert.match(tracked.stdout, /src=192\.0\.2\.2 dst=192\.0\.2\.1 sport=\d+ dport=7007/);
      assert.match(tracked.stdout, /src=2001:db8:5::2 dst=2001:db8:5::1 sport=\d+ dport=7007/);
      // b has no conntrack rules: its table stays empty.
      const untracked = await b.exec('conntrack', ['-C'], { reject: true });
      assert.equal(untracked.stdout.trim(), '0');
    } finally {
      await Promise.all([a.destroy(), b.destroy()]);
    }
  });

  it('deletes the namespaces of a process that throws, is terminated, or was killed', async function () {
    // Uncaught exception: the exit handler deletes it.
    const thrown = await helperChild(`
      const ns = await Netns.create('child-throw');
      console.log(ns.name);
      throw new Error('boom');`);
    assert.notEqual(thrown.exitCode, 0);
    const name1 = thrown.stdout.trim();
    assert.match(name1, /^ctsync-child-throw-/);
    assert.equal(await Netns.exists(name1), false, `${name1} left behind: ${thrown.stderr}`);

    // SIGTERM while busy.
    const termed = helperChild(`
      const ns = await Netns.create('child-term');
      ns.spawn('sleep', ['600']);
      console.log(ns.name);
      setInterval(() => {}, 1000);`);
    const name2 = await new Promise<string>((resolve, reject) => {
      termed.stdout.once('data', (d: Buffer) => resolve(d.toString().trim()));
      termed.then((r) => reject(new Error(`child ended early: ${r.stderr}`)), reject);
    });
    assert.ok(await Netns.exists(name2));
    termed.kill('SIGTERM');
    const r2 = await termed;
    assert.ok(r2.signal === 'SIGTERM' || r2.exitCode === 143, `child ended by ${r2.signal ?? r2.exitCode}`);
    assert.equal(await Netns.exists(name2), false, `${name2} left behind: ${r2.stderr}`);

    // SIGKILL cannot be caught: the namespace stays until the next sweep.
    const killed = helperChild(`
      const ns = await Netns.create('child-kill');
      console.log(ns.name);
      setInterval(() => {}, 1000);`);
    const name3 = await new Promise<string>((resolve, reject) => {
      killed.stdout.once('data', (d: Buffer) => resolve(d.toString().trim()));
      killed.then((r) => reject(new Error(`child ended early: ${r.stderr}`)), reject);
    });
    killed.kill('SIGKILL');
    await killed;
    assert.ok(await Netns.exists(name3), 'a SIGKILLed process cannot clean up');
    sweepStaleNetns();
    assert.equal(await Netns.exists(name3), false, `${name3} not swept`);
  });

  it('ctsyncBin() is the built CLI, and runCtsync runs it inside a namespace', async function () {
    const bin = ctsyncBin();
    assert.ok(bin.startsWith('/'));
    assert.ok(bin.endsWith('/dist/src/cli/ctsync.cjs'));
    assert.equal(bin, fileURLToPath(new URL('../../../src/cli/ctsync.cjs', import.meta.url)));
    if (!existsSync(bin)) {
      console.log(`      (CLI not built yet: ${bin})`);
      this.skip();
    }
    const ns = await Netns.create('cli');
    try {
      const r = await runCtsync(ns, ['--help']);
      assert.equal(r.exitCode, 0, r.stderr);
      assert.match(r.stdout, /ctsync|Usage/i);
    } finally {
      await ns.destroy();
    }
  });
});

describe('useNetns', function () {
  let seen = '';

  describe('in a suite', function () {
    const ns = useNetns('use', 'conntrack');

    it('gives the suite a namespace of its own', async function () {
      seen = ns().name;
      assert.ok(await Netns.exists(seen));
      const r = await ns().exec('conntrack', ['-C'], { reject: true });
      assert.equal(r.stdout.trim(), '0');
    });
  });

  describe('after that suite', function () {
    it('its namespace is gone', async function () {
      if (!seen) this.skip();
      assert.equal(await Netns.exists(seen), false);
    });
  });
});
