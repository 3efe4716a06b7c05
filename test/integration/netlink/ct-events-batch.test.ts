// Batched event reception (recvmmsg) on the real kernel: the raw callback sees exactly what the
// decoded path sees, an overrun of a small buffer is reported and the listener goes on, and a
// datagram larger than its slot is reported as truncated, not delivered half-read.
import { strict as assert } from 'node:assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCtsync, useNetns } from '../../helpers/netns.js';
import { SENTINEL, lines, until } from '../../helpers/listen.js';
import type { Entry } from '../../../src/conntrack/entry.js';

const child = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../helpers/events-child.js');

interface Line {
  name: string;
  kind: 'event' | 'overrun' | 'malformed' | 'error';
  type?: string;
  pid?: number;
  decoded?: boolean;
  entry?: Entry;
  message?: string;
  count?: number;
}

function writeFlows(dir: string, n: number, dst: string): string {
  const file = path.join(dir, `flows-${dst}.jsonl`);
  const rows: string[] = [];
  for (let i = 0; i < n; i++) {
    rows.push(
      JSON.stringify({
        family: 2,
        orig: { src: `198.51.100.${i % 250}`, dst, proto: 6, sport: 1024 + Math.floor(i / 250), dport: 443 },
        status: 14,
        timeout: 600,
        tcp: { state: 3 },
      }),
    );
  }
  fs.writeFileSync(file, rows.join('\n') + '\n');
  return file;
}

describe('ct events: batched receive (recvmmsg) on the real kernel', function () {
  let sentinel = 2000;
  const ns = useNetns('evbatch', 'conntrack');
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctsync-evbatch-'));
  });
  after(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });
  afterEach(async () => {
    await ns().exec('conntrack', ['-F']);
  });

  /** Starts the child with these listeners; waits until every one of them sees a sentinel. */
  async function start(specs: object[]) {
    const proc = ns().spawn(process.execPath, [child, JSON.stringify(specs)]);
    const raw = lines(proc);
    let stderr = '';
    proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const parsed = (): Line[] => raw.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Line);
    const names = specs.map((s) => (s as { name: string }).name);
    await until(
      'the listeners to subscribe',
      async () => {
        if (proc.exitCode !== null) throw new Error(`listener exited: ${stderr}`);
        await ns().exec('conntrack', [
          '-I',
          '-p',
          'udp',
          '-s',
          SENTINEL,
          '-d',
          '203.0.113.251',
          '--sport',
          String(++sentinel),
          '--dport',
          '9',
          '-t',
          '5',
        ]);
        const seen = parsed().filter((l) => JSON.stringify(l).includes(SENTINEL) || l.kind === 'malformed');
        return names.every((n) => seen.some((l) => l.name === n));
      },
      15_000,
    );
    await ns().exec('conntrack', ['-D', '-s', SENTINEL]);
    await new Promise((r) => setTimeout(r, 100));
    raw.ready = true;
    raw.length = 0;
    return { proc, out: () => parsed(), stderr: () => stderr };
  }

  it('the raw callback delivers the same messages, types and pids as the decoded path', async function () {
    const { proc, out } = await start([
      { name: 'dec' },
      // small batches and an iteration limit: the batch boundaries and the limit are exercised
      { name: 'raw', raw: true, batch: 4, iterationLimit: 7 },
      { name: 'raw64', raw: true },
    ]);
    try {
      const tuple = ['-p', 'tcp', '-s', '192.0.2.1', '-d', '198.51.100.1', '--sport', '40000', '--dport', '80'];
      await ns().exec('conntrack', [
        '-I',
        ...tuple,
        '--state',
        'ESTABLISHED',
        '-t',
        '300',
        '-u',
        'SEEN_REPLY,ASSURED',
        '-m',
        '5',
      ]);
      await ns().exec('conntrack', ['-U', ...tuple, '-m', '7']);
      await ns().exec('conntrack', ['-D', ...tuple]);
      const N = 3000;
      const load = await runCtsync(ns(), ['ct', 'load', writeFlows(dir, N, '203.0.113.7')]);
      assert.equal(load.exitCode, 0, load.stderr);
      const del = await ns().exec('conntrack', ['-D', '-d', '203.0.113.7']);
      assert.equal(del.exitCode, 0, del.stderr);
      const total = 3 + 2 * N;
      const of = (name: string): Line[] => out().filter((l) => l.name === name && l.kind === 'event');
      await until(
        'every event on every listener',
        () => ['dec', 'raw', 'raw64'].every((n) => of(n).length >= total),
        30_000,
      );
      assert.deepEqual(
        out().filter((l) => l.kind !== 'event'),
        [],
        'no overrun, malformed or error',
      );
      const dec = of('dec');
      assert.equal(dec.length, total);
      assert.deepEqual(
        dec.slice(0, 3).map((l) => l.type),
        ['NEW', 'UPDATE', 'DESTROY'],
      );
      assert.ok(
        dec.some((l) => l.pid !== 0),
        'events caused by our requests carry the pid',
      );
      for (const name of ['raw', 'raw64']) {
        const got = of(name);
        assert.equal(got.length, total);
        assert.ok(
          got.every((l) => !l.decoded),
          'conntrack events go to the raw callback, not to "event"',
        );
        assert.deepEqual(
          got.map((l) => [l.type, l.pid, l.entry]),
          dec.map((l) => [l.type, l.pid, l.entry]),
        );
      }
    } finally {
      proc.kill('SIGTERM');
    }
  });

  it('reports a datagram larger than its slot as truncated and keeps going', async function () {
    // every event is larger than 64 bytes: each is reported, none is delivered half-read
    const { proc, out } = await start([
      { name: 'tiny', slotSize: 64, batch: 8 },
      { name: 'ok', raw: true },
    ]);
    try {
      for (let i = 0; i < 20; i++) {
        await ns().exec('conntrack', [
          '-I',
          '-p',
          'udp',
          '-s',
          '192.0.2.7',
          '-d',
          '198.51.100.7',
          '--sport',
          String(100 + i),
          '--dport',
          '53',
          '-t',
          '60',
        ]);
      }
      await until(
        '20 events on the normal listener',
        () => out().filter((l) => l.name === 'ok' && l.kind === 'event').length >= 20,
      );
      await until('20 truncation reports', () => out().filter((l) => l.name === 'tiny').length >= 20);
      const tiny = out().filter((l) => l.name === 'tiny');
      assert.equal(tiny.length, 20);
      for (const l of tiny) {
        assert.equal(l.kind, 'malformed');
        assert.match(l.message!, /^event datagram of \d+ bytes truncated to 64$/);
      }
    } finally {
      proc.kill('SIGTERM');
    }
  });

  it('reports an overrun of a small buffer (batched reads), keeps listening, delivers later events', async function () {
    const { proc, out } = await start([
      { name: 'small', rcvbuf: 65536 },
      { name: 'rawsmall', raw: true, rcvbuf: 65536, batch: 16 },
    ]);
    try {
      const N = 20000;
      proc.kill('SIGSTOP'); // a stopped listener cannot drain: the kernel must drop events for it
      const load = await runCtsync(ns(), ['ct', 'load', writeFlows(dir, N, '203.0.113.9')]);
      assert.equal(load.exitCode, 0, load.stderr);
      proc.kill('SIGCONT');
      for (const name of ['small', 'rawsmall']) {
        await until(`the overrun report (${name})`, () => out().some((l) => l.name === name && l.kind === 'overrun'));
      }
      // still listening after the overrun
      await ns().exec('conntrack', [
        '-I',
        '-p',
        'udp',
        '-s',
        '192.0.2.99',
        '-d',
        '198.51.100.99',
        '--sport',
        '1',
        '--dport',
        '2',
        '-t',
        '60',
      ]);
      for (const name of ['small', 'rawsmall']) {
        await until(`an event after the overrun (${name})`, () =>
          out().some((l) => l.name === name && l.kind === 'event' && l.entry?.orig.src === '192.0.2.99'),
        );
        const delivered = out().filter(
          (l) => l.name === name && l.kind === 'event' && l.entry?.orig.dst === '203.0.113.9',
        ).length;
        assert.ok(delivered > 0 && delivered < N, `${name}: some events were lost (${delivered} of ${N} delivered)`);
        const overrun = out().find((l) => l.name === name && l.kind === 'overrun')!;
        assert.equal(overrun.count, 1);
      }
      assert.deepEqual(
        out().filter((l) => l.kind === 'malformed' || l.kind === 'error'),
        [],
      );
    } finally {
      proc.kill('SIGCONT');
      proc.kill('SIGTERM');
    }
  });
});
