// The Debian package (scripts/package-deb.sh): built from the checkout, installed with apt,
// used, purged, and nothing of it left. dpkg runs in a copy-on-write overlay of the root file
// system in a mount namespace of its own (test/helpers/root-overlay.ts), because the package
// diverts /usr/sbin/conntrackd, which other tests running at the same time start. Building the
// package takes minutes (npm ci and a full build in a scratch copy), so the test runs only with
// CTSYNC_PACKAGE_TEST=1; scripts/test.sh sets it and runs this file after the rest of the suite.
// CTSYNC_DEB=FILE tests that package instead of building one.
import { strict as assert } from 'node:assert';
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from '../../../tools/lib/repo.js';
import { VERSION_LINE } from '../../../src/cli/client-flags.js';
import { requireRoot } from '../../helpers/netns.js';
import { RootOverlay } from '../../helpers/root-overlay.js';

const CONNTRACKD = '/usr/sbin/conntrackd';
const DIVERTED = '/usr/sbin/conntrackd.distrib';
const APT_ENV = { DEBIAN_FRONTEND: 'noninteractive' };

const sha256 = (file: string): string => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

describe('the Debian package', function () {
  this.timeout(1_200_000);
  const version = (JSON.parse(fs.readFileSync(path.join(repoRoot(), 'package.json'), 'utf8')) as { version: string })
    .version;
  // what `--version` prints: conntrackd's shape of line, with the package's version in it
  const versionLine = VERSION_LINE.trim();
  let outDir: string | undefined;
  let deb: string;
  let root: RootOverlay | undefined;
  let conntrackdHash: string;
  let installedFiles: string[] = [];

  before(async function () {
    if (process.env.CTSYNC_PACKAGE_TEST !== '1') {
      console.log('      (skipped: builds the package from scratch, minutes; set CTSYNC_PACKAGE_TEST=1)');
      this.skip();
    }
    requireRoot.call(this, 'dpkg-deb', 'apt', 'unshare', 'nsenter', 'conntrackd');
    conntrackdHash = sha256(CONNTRACKD);
    if (process.env.CTSYNC_DEB) {
      deb = path.resolve(process.env.CTSYNC_DEB); // a package built already (package-deb.sh)
    } else {
      outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctsync-deb-test-'));
      const script = path.join(repoRoot(), 'scripts/package-deb.sh');
      const built = await execa('bash', [script, '--out', outDir], { reject: false });
      assert.equal(built.exitCode, 0, `package-deb.sh failed:\n${built.stderr.slice(-4000)}`);
      deb = built.stdout.trim().split('\n').at(-1) ?? '';
    }
    root = await RootOverlay.create();
  });

  after(async function () {
    // purge first, so a failed test leaves no half-installed package even inside the overlay
    await root?.run('dpkg', ['--purge', 'ctsync'], APT_ENV);
    await root?.destroy();
    if (outDir) fs.rmSync(outDir, { recursive: true, force: true });
  });

  /** Runs a command in the overlay and returns its stdout; fails the test when it fails. */
  async function inRoot(command: string, ...args: string[]): Promise<string> {
    const r = await root!.run(command, args, APT_ENV);
    assert.equal(r.exitCode, 0, `${command} ${args.join(' ')} failed (${r.exitCode}):\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  }

  it('installs with apt, next to the conntrackd package', async () => {
    await inRoot('apt', 'install', '-y', '--no-install-recommends', deb);
    installedFiles = (await inRoot('dpkg', '-L', 'ctsync')).split('\n').filter((f) => f !== '');
    for (const file of [
      '/usr/sbin/ctsync',
      '/usr/lib/ctsync/dist/src/cli/ctsync.cjs',
      '/usr/lib/ctsync/build/Release/nlsock.node',
      '/usr/lib/ctsync/node_modules/commander/package.json',
      '/lib/systemd/system/ctsync.service',
      '/usr/share/doc/ctsync/examples/etc/ctsync.conf',
      '/usr/share/doc/ctsync/examples/etc/ctsync.json',
      '/usr/share/doc/ctsync/examples/etc/prometheus/ctsync-alerts.yml',
      '/usr/share/doc/ctsync/examples/etc/prometheus/ctsync-alerts.test.yml',
      '/usr/share/doc/ctsync/examples/etc/grafana/ctsync-dashboard.json',
      '/usr/share/doc/ctsync/examples/keepalived/keepalived.conf',
      '/usr/share/man/man8/ctsync.8.gz',
      '/usr/share/man/man5/ctsync.conf.5.gz',
    ]) {
      assert.ok(installedFiles.includes(file), `the package does not install ${file}`);
    }
    assert.ok(!installedFiles.some((f) => f.includes('/node_modules/typescript')), 'dev dependencies are shipped');
    // build-time only: the addon's C++ headers, and source maps node reads only with --enable-source-maps
    assert.ok(!installedFiles.some((f) => f.includes('/node_modules/node-addon-api')), 'node-addon-api is shipped');
    assert.ok(
      !installedFiles.some((f) => f.startsWith('/usr/lib/ctsync/dist/') && f.endsWith('.map')),
      'our source maps are shipped',
    );
    assert.match(await inRoot('dpkg-query', '-W', '-f', '${Status}', 'conntrackd'), /install ok installed/);
  });

  it('runs: ctsync --version, the man pages, config check on the shipped examples', async () => {
    assert.equal((await inRoot('ctsync', '--version')).trim(), versionLine);
    assert.ok(versionLine.includes(`v${version}.`), versionLine);
    assert.match(await inRoot('man', '-w', 'ctsync'), /man8\/ctsync\.8\.gz/);
    assert.match(await inRoot('man', '-w', '5', 'ctsync.conf'), /man5\/ctsync\.conf\.5\.gz/);
    for (const example of ['ctsync.json', 'ctsync.conf']) {
      const file = `/usr/share/doc/ctsync/examples/etc/${example}`;
      assert.match(await inRoot('ctsync', 'config', 'check', file), /: ok /);
    }
  });

  it('names in the systemd unit only programs that exist', async () => {
    const unit = await inRoot('cat', '/lib/systemd/system/ctsync.service');
    const programs = [...unit.matchAll(/^Exec\w+=[-@:+!]*(\/\S+)/gm)].map((m) => m[1]!);
    assert.ok(programs.length > 0, 'the unit has no Exec line');
    for (const program of programs) await inRoot('test', '-x', program);
  });

  it('diverts /usr/sbin/conntrackd to ctsync and keeps the real one as conntrackd.distrib', async () => {
    assert.equal((await inRoot(CONNTRACKD, '--version')).trim(), versionLine);
    assert.match(await inRoot('dpkg-divert', '--listpackage', CONNTRACKD), /^ctsync$/m);
    assert.match(await inRoot('dpkg-divert', '--truename', CONNTRACKD), new RegExp(`^${DIVERTED}$`, 'm'));
    const real = await root!.run(DIVERTED, ['-v']);
    assert.match(real.stdout + real.stderr, /Connection tracking userspace daemon v1\.4/);
  });

  it('reinstalls (the upgrade path) with one diversion still in place', async () => {
    await inRoot('dpkg', '-i', deb);
    const diversions = (await inRoot('dpkg-divert', '--list')).split('\n').filter((l) => l.includes(CONNTRACKD));
    assert.equal(diversions.length, 1, diversions.join('\n'));
    assert.equal((await inRoot(CONNTRACKD, '--version')).trim(), versionLine);
  });

  it('purges without a trace and gives /usr/sbin/conntrackd back', async () => {
    await inRoot('apt', 'purge', '-y', 'ctsync');
    const status = await root!.run('dpkg-query', ['-W', '-f', '${Status}', 'ctsync']);
    assert.ok(status.exitCode !== 0 || /not-installed/.test(status.stdout), `still known to dpkg: ${status.stdout}`);
    // what the package installed is gone, but for the folders other packages share
    // (/usr/sbin, /usr/share/man/man8, ...) and /usr/sbin/conntrackd, which is conntrackd's again
    const ours = installedFiles.filter((f) => f !== CONNTRACKD);
    const leftScript = `for f; do
      if [ ! -d "$f" ] && { [ -L "$f" ] || [ -e "$f" ]; }; then echo "$f"; fi
      case $f in /usr/lib/ctsync* | /usr/share/doc/ctsync*) [ -d "$f" ] && echo "$f" ;; esac
    done; exit 0`;
    const left = (await inRoot('sh', '-c', leftScript, 'sh', ...ours)).split('\n').filter((f) => f !== '');
    assert.deepEqual(left, [], 'files left after purge');
    assert.doesNotMatch(await inRoot('dpkg-divert', '--list'), /ctsync/);
    assert.equal((await root!.run('test', ['-e', DIVERTED])).exitCode, 1, `${DIVERTED} left`);
    assert.equal((await inRoot('sha256sum', CONNTRACKD)).split(' ')[0], conntrackdHash);
    const real = await root!.run(CONNTRACKD, ['-v']);
    assert.match(real.stdout + real.stderr, /Connection tracking userspace daemon v1\.4/);
  });

  it("never touched the machine's own /usr/sbin/conntrackd", () => {
    assert.equal(sha256(CONNTRACKD), conntrackdHash);
    assert.ok(!fs.existsSync('/usr/lib/ctsync'), '/usr/lib/ctsync exists outside the overlay');
  });
});
