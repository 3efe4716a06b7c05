// Conntrack events from the real kernel: NEW, UPDATE and DESTROY arrive in order with all fields,
// and an overrun of the event socket is reported (never swallowed) while the listener keeps going.
import { strict as assert } from 'node:assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ctsyncBin, runCtsync, useNetns } from '../../helpers/netns.js';
import type { Entry } from '../../../src/conntrack/entry.js';
import { SENTINEL, lines, until } from '../../helpers/listen.js';

type EventLine = Entry & { type: string };

describe('ct events on the real kernel', function () {
  let sentinel = 1000;
  const ns = useNetns('events', 'conntrack');

  /** Starts `ct events` and waits until it demonstrably receives events (a sentinel entry). */
  async function startListener(args: string[]) {
    const proc = ns().spawn(process.execPath, [ctsyncBin(), 'ct', 'events', '--json', ...args]);
    const out = lines(proc);
    let stderr = '';
    proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    await until(
      'the listener to subscribe',
      async () => {
        // a new tuple each try: a retry of the same one would fail with EEXIST and send no event
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
        return out.some((l) => l.includes('203.0.113.250'));
      },
      15_000,
    );
    await ns().exec('conntrack', ['-D', '-s', SENTINEL]);
    out.ready = true;
    out.length = 0;
    return { proc, out, stderr: () => stderr };
  }

  it('sees NEW, UPDATE and DESTROY in order, with every field', async function () {
    const { proc, out } = await startListener([]);
    try {
      const tuple = ['-p', 'tcp', '-s', '192.0.2.1', '-d', '198.51.100.1', '--sport', '40000', '--dport', '80'];
      assert.equal(
        (
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
          ])
        ).exitCode,
        0,
      );
      assert.equal((await ns().exec('conntrack', ['-U', ...tuple, '-m', '7'])).exitCode, 0);
      assert.equal((await ns().exec('conntrack', ['-D', ...tuple])).exitCode, 0);
      await until('three events', () => out.length >= 3);
      const ev = out.map((l) => JSON.parse(l) as EventLine);
      assert.deepEqual(
        ev.map((e) => e.type),
        ['NEW', 'UPDATE', 'DESTROY'],
      );
      for (const e of ev) {
        assert.deepEqual(e.orig, { src: '192.0.2.1', dst: '198.51.100.1', proto: 6, sport: 40000, dport: 80 });
        assert.deepEqual(e.reply, { src: '198.51.100.1', dst: '192.0.2.1', proto: 6, sport: 80, dport: 40000 });
        assert.equal(e.family, 2);
        assert.equal(typeof e.id, 'number');
      }
      assert.equal(ev[0].mark, 5);
      assert.equal(ev[0].tcp?.state, 3);
      assert.ok(ev[0].timeout! > 290 && ev[0].timeout! <= 300);
      assert.equal(ev[0].status! & 0x6, 0x6);
      assert.equal(ev[1].mark, 7);
      assert.equal(ev[2].id, ev[0].id, 'the same conntrack');
    } finally {
      proc.kill('SIGTERM');
    }
  });

  it('prints events like conntrack -E', async function () {
    const proc = ns().spawn(process.execPath, [ctsyncBin(), 'ct', 'events']);
    const stock = ns().spawn('conntrack', ['-E']);
    const ours = lines(proc);
    const theirs = lines(stock);
    try {
      await until(
        'both listeners',
        async () => {
          // a new tuple each try: a retry of the same one would fail with EEXIST and send no event
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
          return ours.length > 0 && theirs.length > 0;
        },
        15_000,
      );
      await ns().exec('conntrack', ['-D', '-s', SENTINEL]);
      ours.ready = theirs.ready = true;
      ours.length = 0;
      theirs.length = 0;
      const tuple = ['-p', 'udp', '-s', '192.0.2.2', '-d', '198.51.100.2', '--sport', '1000', '--dport', '53'];
      await ns().exec('conntrack', ['-I', ...tuple, '-t', '60', '-m', '3']);
      await ns().exec('conntrack', ['-U', ...tuple, '-m', '4']);
      await ns().exec('conntrack', ['-D', ...tuple]);
      await until('three events each', () => ours.length >= 3 && theirs.length >= 3);
      // timeouts may differ by a second between the two readers
      // (and the program name is looked up after the fact: the process may be gone for either)
      const norm = (l: string): string =>
        l.replace(/^(\s*\[\w+\] \S+\s+\d+) \d+ /, '$1 T ').replace(/ progname=\S+$/, '');
      assert.deepEqual(ours.slice(0, 3).map(norm), theirs.slice(0, 3).map(norm));
    } finally {
      proc.kill('SIGTERM');
      stock.kill('SIGTERM');
    }
  });

  it('reports a flood that overruns the socket, keeps listening, and a dump recovers the table', async function () {
    const { proc, out, stderr } = await startListener(['--buffer-size', '65536']);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctsync-flood-'));
    try {
      const N = 20000;
      const file = path.join(dir, 'flood.jsonl');
      const rows: string[] = [];
      for (let i = 0; i < N; i++) {
        rows.push(
          JSON.stringify({
            family: 2,
            orig: {
              src: `198.51.100.${i % 250}`,
              dst: '203.0.113.9',
              proto: 6,
              sport: 1024 + Math.floor(i / 250),
              dport: 443,
            },
            status: 14,
            timeout: 600,
            tcp: { state: 3 },
          }),
        );
      }
      fs.writeFileSync(file, rows.join('\n') + '\n');
      // a stopped listener cannot drain: the kernel must drop events for it
      proc.kill('SIGSTOP');
      const load = await runCtsync(ns(), ['ct', 'load', file, '--json']);
      assert.equal(load.exitCode, 0, load.stderr);
      proc.kill('SIGCONT');
      await until('the overrun report', () => out.some((l) => l.includes('"OVERRUN"')));
      assert.match(stderr(), /event overrun: the kernel dropped events/);
      const delivered = out.filter((l) => l.includes('"NEW"')).length;
      assert.ok(delivered < N, `some events were lost (${delivered} of ${N} delivered)`);

      // still listening after the overrun
      out.length = 0;
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
      await until('an event after the overrun', () => out.some((l) => l.includes('192.0.2.99')));

      // the events were lost, the table was not: a dump sees all of it
      const list = await runCtsync(ns(), ['ct', 'list', '--json', '--mark', '0']);
      const flows = list.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Entry)
        .filter((e) => e.orig.dst === '203.0.113.9');
      assert.equal(flows.length, N);
    } finally {
      proc.kill('SIGCONT');
      proc.kill('SIGTERM');
      fs.rmSync(dir, { recursive: true, force: true });
      await ns().exec('conntrack', ['-F']);
    }
  });
});
