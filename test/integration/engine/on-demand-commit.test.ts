// Commit on demand on the real kernel: a gateway namespace queues the UDP packets coming in on
// its veth (raw PREROUTING, NFQUEUE --queue-bypass); the child runs OnDemandCommit on the queue
// with an external cache of known flows. A packet of a known flow passes after its entry was
// committed (the entry in the kernel carries the cache's mark, which a packet-made entry would
// not), also a reply packet of a SNATed flow; a packet of an unknown flow passes unchanged; the
// rate limit releases and counts; a SIGKILLed child leaves traffic flowing (bypass).
import { strict as assert } from 'node:assert';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Entry } from '../../../src/conntrack/entry.js';
import { useNetns, vethPair, type Netns, type VethLink } from '../../helpers/netns.js';

const child = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../helpers/on-demand-child.js');
const QUEUE = 5;
const GW = '192.0.2.1';
const CLIENT = '192.0.2.2';

const udp = (sport: number, dport: number, mark: number): Entry => ({
  family: 2,
  orig: { src: CLIENT, dst: GW, proto: 17, sport, dport },
  status: 14,
  timeout: 600,
  mark,
});
/** A flow SNATed by the gateway: 198.51.100.50:4000 -> client:8000 leaves as gateway:4100. */
const snat: Entry = {
  family: 2,
  orig: { src: '198.51.100.50', dst: CLIENT, proto: 17, sport: 4000, dport: 8000 },
  reply: { src: CLIENT, dst: GW, proto: 17, sport: 8000, dport: 4100 },
  status: 14 | 16 | 128 | 256,
  timeout: 600,
  mark: 0x79,
};

/** Sends `count` datagrams from each source port, all from one process (quickly one after another). */
async function send(ns: Netns, sports: number[], dport: number, count = 1): Promise<void> {
  const code = `const d=require('dgram');(async()=>{for(const p of ${JSON.stringify(sports)}){const s=d.createSocket('udp4');await new Promise(r=>s.bind(p,'${CLIENT}',r));for(let i=0;i<${count};i++)await new Promise(r=>s.send('x',${dport},'${GW}',r));s.close();}})();`;
  await ns.exec(process.execPath, ['-e', code], { reject: true });
}

async function marks(ns: Netns): Promise<Map<string, string>> {
  const r = await ns.exec('conntrack', ['-L', '-p', 'udp'], { reject: true });
  const out = new Map<string, string>();
  for (const line of r.stdout.split('\n')) {
    const sport = /sport=(\d+)/.exec(line);
    if (sport) out.set(sport[1], /\bmark=(\d+)/.exec(line)?.[1] ?? '0');
  }
  return out;
}

interface Run {
  stop(): Promise<{ counters: Record<string, number>; received: Record<string, number> }>;
  kill(): Promise<void>;
}

async function runChild(gw: Netns, cfg: object): Promise<Run> {
  const p = gw.spawn(process.execPath, [child, JSON.stringify(cfg)], { stdin: 'pipe' });
  let out = '';
  p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  for (let i = 0; i < 200 && !out.includes('ready\n'); i++) await sleep(50);
  assert.ok(out.includes('ready\n'), `the child did not start: ${out}`);
  return {
    async stop() {
      p.stdin!.write('stop\n');
      const r = await p;
      assert.equal(r.exitCode, 0, String(r.stderr));
      return JSON.parse(out.trim().split('\n').pop()!) as Awaited<ReturnType<Run['stop']>>;
    },
    async kill() {
      p.kill('SIGKILL');
      await p;
    },
  };
}

describe('engine/on-demand-commit on the real kernel', function () {
  const gw = useNetns('odgw', 'conntrack', 'iptables');
  const client = useNetns('odcl');
  let link: VethLink;
  const limits = { maxQueueLength: 64, maxWaitMs: 1000, maxCommitsPerSecond: 1000 };

  before(async function () {
    link = await vethPair(client(), gw(), `${CLIENT}/24`, `${GW}/24`);
    await gw().enableConntrack();
    await gw().exec(
      'iptables',
      [
        '-t',
        'raw',
        '-A',
        'PREROUTING',
        '-i',
        link.ifB,
        '-p',
        'udp',
        '-j',
        'NFQUEUE',
        '--queue-num',
        String(QUEUE),
        '--queue-bypass',
      ],
      { reject: true },
    );
  });

  afterEach(async function () {
    await gw().exec('conntrack', ['-F']);
  });

  it('commits a known flow before its packet passes; a NAT reply finds its flow; an unknown one passes unchanged', async function () {
    const run = await runChild(gw(), {
      queue: QUEUE,
      limits,
      flows: [udp(5000, 7000, 0x77), snat],
      listen: [{ addr: GW, port: 7000 }],
    });
    await send(client(), [5000, 5001], 7000);
    await send(client(), [8000], 4100);
    await sleep(300);
    const r = await run.stop();
    assert.deepEqual(r.received, { 7000: 2 }, 'both datagrams to the listener passed');
    assert.equal(r.counters.packets, 3);
    assert.equal(r.counters.committed, 2);
    assert.equal(r.counters.unknown, 1);
    const m = await marks(gw());
    assert.equal(m.get('5000'), String(0x77), 'the known flow is the committed entry');
    assert.equal(m.get('4000'), String(0x79), 'the SNATed flow was committed from its reply packet');
    assert.equal(m.get('5001'), '0', 'the unknown flow was made by its packet');
  });

  it('releases and counts packets over the commit rate', async function () {
    const run = await runChild(gw(), {
      queue: QUEUE,
      limits: { ...limits, maxCommitsPerSecond: 1 },
      flows: [udp(5000, 7000, 0x77), udp(5002, 7000, 0x78)],
      listen: [{ addr: GW, port: 7000 }],
    });
    await send(client(), [5000, 5002], 7000);
    await sleep(300);
    const r = await run.stop();
    assert.deepEqual(r.received, { 7000: 2 });
    assert.deepEqual([r.counters.committed, r.counters.rateLimited], [1, 1], JSON.stringify(r.counters));
    const m = await marks(gw());
    assert.equal(m.get('5000'), String(0x77));
    assert.equal(m.get('5002'), '0', 'over the rate, the packet made its entry itself');
  });

  it('leaves traffic flowing when killed with packets queued (bypass)', async function () {
    const run = await runChild(gw(), {
      queue: QUEUE,
      limits,
      flows: [udp(5000, 7000, 0x77)],
      listen: [],
      read: false,
    });
    await send(client(), [5000], 7000, 3); // queued, never read
    await run.kill();
    const listener = gw().spawn(process.execPath, [
      '-e',
      `const s=require('dgram').createSocket('udp4');s.on('message',()=>{console.log('got');process.exit(0)});s.bind(7000,'${GW}',()=>console.log('bound'));setTimeout(()=>process.exit(1),5000);`,
    ]);
    await sleep(300);
    await send(client(), [5003], 7000);
    const r = await listener;
    assert.equal(r.exitCode, 0, 'the datagram after the kill passed');
  });
});
