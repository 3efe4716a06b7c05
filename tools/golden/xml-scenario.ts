// The setting in which conntrackd's XML cache dumps (`-x`) are captured and ctsync's are compared
// with them: two namespaces A and B joined by a veth pair, each running a conntrackd 1.4.7 AND a
// ctsync, ExpectationSync on. conntrackd A syncs with conntrackd B (port 3780), ctsync A with
// ctsync B (port 3781). Entries of many shapes are put in A's kernel only (some before the
// daemons start: read by the start-up dump; most after: read from events). So conntrackd A and
// ctsync A cache the same kernel table (the same kernel ids), and conntrackd B and ctsync B the
// same flows from the wire: every dump of one has its twin in the other.
//
// Used by tools/golden/capture-conntrackd-xml.ts (writes the fixtures) and
// test/integration/cli/xml.test.ts (compares, live). Needs root, iproute2, iptables,
// conntrackd, conntrack; runs from the build.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Netns, ctsyncBin, vethPair, type ExecResult } from '../lib/netns.js';
import { pairNodeConf } from '../lib/pair-config.js';
import type { Entry, Expect, Tuple } from '../../src/conntrack/entry.js';

export type Impl = 'conntrackd' | 'ctsync';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const tcp = (src: string, dst: string, sport: number, dport: number): Tuple => ({ src, dst, proto: 6, sport, dport });

/** Flows put in A's kernel before the daemons start (each daemon reads them from its start-up dump). */
export function flowsBefore(): Entry[] {
  return [
    { family: 2, orig: tcp('192.0.2.40', '198.51.100.40', 40040, 80), status: 14, timeout: 3600, tcp: { state: 3 } },
    {
      family: 2,
      orig: { src: '192.0.2.41', dst: '198.51.100.41', proto: 17, sport: 4141, dport: 53 },
      status: 8,
      timeout: 600,
      mark: 3,
    },
  ];
}

const v4 = (i: number): [string, string] => [`192.0.2.${i}`, `198.51.100.${i}`];

const FLOWS_AFTER: readonly Entry[] = [
  { family: 2, orig: tcp(...v4(10), 40010, 80), status: 14, timeout: 3600, mark: 5, tcp: { state: 3 } },
  { family: 2, orig: tcp(...v4(11), 40011, 80), status: 8, timeout: 120, tcp: { state: 1 } },
  { family: 2, orig: tcp(...v4(12), 40012, 80), status: 14, timeout: 3600, mark: 4294967295, tcp: { state: 5 } },
  {
    family: 2,
    orig: { src: '192.0.2.13', dst: '198.51.100.13', proto: 17, sport: 5013, dport: 53 },
    status: 8,
    timeout: 30,
  },
  {
    family: 2,
    orig: { src: '192.0.2.14', dst: '198.51.100.14', proto: 17, sport: 5014, dport: 53 },
    status: 14,
    timeout: 30,
    zone: 7,
  },
  {
    family: 2,
    orig: { src: '192.0.2.15', dst: '198.51.100.15', proto: 17, sport: 1115, dport: 2222, zone: 3 },
    status: 8,
    timeout: 30,
  },
  {
    family: 2,
    orig: { src: '192.0.2.16', dst: '198.51.100.16', proto: 1, icmpType: 8, icmpCode: 0, icmpId: 77 },
    status: 8,
    timeout: 30,
  },
  {
    family: 10,
    orig: { src: '2001:db8::17', dst: '2001:db8:1::17', proto: 58, icmpType: 128, icmpCode: 0, icmpId: 78 },
    status: 8,
    timeout: 30,
  },
  {
    family: 10,
    orig: tcp('2001:db8::18', '2001:db8:1::18', 40018, 443),
    status: 14,
    timeout: 3600,
    tcp: { state: 3 },
  },
  {
    family: 2,
    orig: { src: '192.0.2.19', dst: '198.51.100.19', proto: 132, sport: 5019, dport: 5001 },
    status: 14,
    timeout: 3600,
    sctp: { state: 3, vtagOrig: 1000, vtagReply: 2000 },
  },
  {
    family: 2,
    orig: { src: '192.0.2.20', dst: '198.51.100.20', proto: 47, sport: 1, dport: 2 },
    status: 8,
    timeout: 30,
  },
  {
    family: 2,
    orig: tcp('192.0.2.21', '198.51.100.21', 40021, 22),
    status: 14,
    timeout: 3600,
    tcp: { state: 3 },
    natSrc: { minIp: '203.0.113.21', maxIp: '203.0.113.21' },
  },
  {
    family: 2,
    orig: tcp('192.0.2.22', '203.0.113.22', 40022, 80),
    status: 14,
    timeout: 3600,
    tcp: { state: 3 },
    natDst: { minIp: '198.51.100.22', maxIp: '198.51.100.22', minPort: 8080, maxPort: 8080 },
  },
  {
    family: 2,
    orig: { src: '192.0.2.23', dst: '198.51.100.23', proto: 136, sport: 40023, dport: 99 },
    status: 8,
    timeout: 30,
  },
  {
    family: 2,
    orig: { src: '192.0.2.24', dst: '198.51.100.24', proto: 132, sport: 5024, dport: 5001 },
    status: 14,
    timeout: 3600,
    sctp: { state: 4, vtagOrig: 1001, vtagReply: 2001 },
  },
  {
    family: 2,
    orig: tcp(...v4(25), 40025, 443),
    status: 6,
    timeout: 3600,
    tcp: { state: 3 },
    labels: '01020000000000000000000000000080',
  },
];

/** Flows put in A's kernel once the daemons run (each reads them from kernel events). */
export function flowsAfter(): Entry[] {
  return structuredClone(FLOWS_AFTER) as Entry[];
}

/** FTP control connections (ftp helper) and one expectation each: IPv4, IPv6, PERMANENT, NAT. */
export function ftp(): { masters: Entry[]; expects: Expect[] } {
  const masters: Entry[] = [];
  const expects: Expect[] = [];
  for (let i = 0; i < 4; i++) {
    const v6 = i === 3;
    const client = v6 ? `2001:db8::${i + 60}` : `192.0.2.${60 + i}`;
    const server = v6 ? `2001:db8:1::${i + 60}` : `198.51.100.${60 + i}`;
    const orig = tcp(client, server, 40060 + i, 21);
    masters.push({ family: v6 ? 10 : 2, orig, status: 6, timeout: 3600, tcp: { state: 3 }, helper: 'ftp' });
    const x: Expect = {
      family: v6 ? 10 : 2,
      master: orig,
      tuple: tcp(client, server, 0, 50060 + i),
      mask: { src: v6 ? 'ffff:ffff:ffff:ffff::' : '255.255.255.255', sport: 0 } as Tuple,
    };
    if (i === 1) x.flags = 1; // PERMANENT
    if (i === 2)
      Object.assign(x, {
        tuple: tcp(server, '203.0.113.5', 0, 6000),
        natDir: 1,
        natTuple: { src: client, proto: 6, sport: 5000 },
        fn: 'nat-follow-master',
      });
    expects.push(x);
  }
  return { masters, expects };
}

/** One daemon of the four. */
export class XmlNode {
  readonly conf: string;
  readonly sock: string;
  readonly log: string;

  constructor(
    readonly ns: Netns,
    readonly impl: Impl,
    dir: string,
    side: 'a' | 'b',
    addr: string,
    peer: string,
    ifname: string,
  ) {
    const stem = path.join(dir, `${side}-${impl}`);
    this.conf = `${stem}.conf`;
    this.sock = `${stem}.sock`;
    this.log = `${stem}.log`;
    const port = impl === 'conntrackd' ? 3780 : 3781;
    const text = pairNodeConf({
      addr,
      peer,
      ifname,
      log: this.log,
      lock: `${stem}.lock`,
      sock: this.sock,
      port,
      options: ['ExpectationSync on'],
    });
    fs.writeFileSync(this.conf, text);
  }

  /** `-C conf ...args` with this daemon's own client. */
  client(args: string[]): Promise<ExecResult> {
    if (this.impl === 'conntrackd') return this.ns.exec('conntrackd', ['-C', this.conf, ...args]);
    return this.ns.exec(process.execPath, [ctsyncBin(), '-C', this.conf, ...args]);
  }

  async start(): Promise<void> {
    const r = await this.client(['-d']);
    if (r.exitCode !== 0) throw new Error(`${this.impl} did not start in ${this.ns.name}: ${r.stderr}`);
    for (let i = 0; i < 100; i++) {
      if (fs.existsSync(this.sock) && (await this.client(['-s', 'rsqueue'])).exitCode === 0) return;
      await sleep(50);
    }
    throw new Error(`${this.impl} does not answer on ${this.sock}`);
  }

  async stop(): Promise<void> {
    await this.client(['-k']);
    for (let i = 0; i < 100 && fs.existsSync(this.sock); i++) await sleep(50);
  }

  /** A dump's lines, sorted (each daemon walks its cache in its own order). */
  async lines(args: string[]): Promise<string[]> {
    const r = await this.client(args);
    if (r.exitCode !== 0) throw new Error(`${this.impl} ${args.join(' ')}: ${r.stderr}`);
    return r.stdout
      .split('\n')
      .filter((l) => l !== '')
      .sort();
  }
}

/**
 * Whether an XML line is one of the daemons' own sync flows (UDP to or from port 3780 or 3781).
 * Those are left out of every comparison: each daemon first sees them either in its start-up dump
 * or in an event, depending on the order the four started in, and a flow seen in an event
 * without a mark has none in the cache where a dump gives it `mark 0`.
 */
export function isSyncFlow(line: string): boolean {
  return /<(s|d)port>378[01]<\/(s|d)port>/.test(line);
}

/** The four dumps, each in both daemons' output. */
export const DUMPS = [
  { name: 'internal-ct', side: 'a', args: ['-i', 'ct', '-x'] },
  { name: 'external-ct', side: 'b', args: ['-e', 'ct', '-x'] },
  { name: 'internal-expect', side: 'a', args: ['-i', 'expect', '-x'] },
  { name: 'external-expect', side: 'b', args: ['-e', 'expect', '-x'] },
] as const;

export class XmlScenario {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctsync-xml-'));
  readonly nodes: Record<'a' | 'b', Record<Impl, XmlNode>>;

  private constructor(
    readonly nsA: Netns,
    readonly nsB: Netns,
    ifA: string,
    ifB: string,
  ) {
    const node = (ns: Netns, side: 'a' | 'b', impl: Impl, addr: string, peer: string, ifname: string): XmlNode =>
      new XmlNode(ns, impl, this.dir, side, addr, peer, ifname);
    this.nodes = {
      a: {
        conntrackd: node(nsA, 'a', 'conntrackd', '192.0.2.1', '192.0.2.2', ifA),
        ctsync: node(nsA, 'a', 'ctsync', '192.0.2.1', '192.0.2.2', ifA),
      },
      b: {
        conntrackd: node(nsB, 'b', 'conntrackd', '192.0.2.2', '192.0.2.1', ifB),
        ctsync: node(nsB, 'b', 'ctsync', '192.0.2.2', '192.0.2.1', ifB),
      },
    };
  }

  /** Namespaces, link, entries and the four daemons, up and converged. */
  static async start(prefix: string): Promise<XmlScenario> {
    const nsA = await Netns.create(`${prefix}a`);
    let nsB: Netns | undefined;
    try {
      nsB = await Netns.create(`${prefix}b`);
      const link = await vethPair(nsA, nsB, '192.0.2.1/24', '192.0.2.2/24');
      const s = new XmlScenario(nsA, nsB, link.ifA, link.ifB);
      await s.populate();
      return s;
    } catch (err) {
      await Promise.allSettled([nsA.destroy(), nsB?.destroy()]);
      throw err;
    }
  }

  private async populate(): Promise<void> {
    // counters and labels in A's kernel: conntrackd's dumps must show what it makes of them
    for (const [cmd, args] of [
      ['sysctl', ['-qw', 'net.netfilter.nf_conntrack_acct=1']],
      ['iptables', ['-t', 'mangle', '-A', 'PREROUTING', '-m', 'connlabel', '--label', '127']],
    ] as const) {
      const r = await this.nsA.exec(cmd, [...args]);
      if (r.exitCode !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
    }
    await this.load(flowsBefore());
    for (const side of ['b', 'a'] as const)
      for (const impl of ['conntrackd', 'ctsync'] as const) await this.nodes[side][impl].start();
    await this.load(flowsAfter());
    const { masters, expects } = ftp();
    await this.load(masters);
    await this.load(expects, ['expect']);
    // conntrackd sends what its start-up dump found only in a bulk (ctsync's handshake asks for one)
    const bulk = await this.nodes.a.conntrackd.client(['-B']);
    if (bulk.exitCode !== 0) throw new Error(`conntrackd -B: ${bulk.stderr}`);
    const want = { ct: flowsBefore().length + flowsAfter().length + masters.length, expect: expects.length };
    await this.converged(want);
  }

  /** `ctsync ct load` (or `ct expect load`) of JSON lines into A's kernel. */
  async load(items: Array<Entry | Expect>, sub: string[] = []): Promise<void> {
    const file = path.join(this.dir, `load-${Math.random().toString(16).slice(2)}.jsonl`);
    fs.writeFileSync(file, items.map((e) => JSON.stringify(e)).join('\n') + '\n');
    const r = await this.nsA.exec(process.execPath, [ctsyncBin(), 'ct', ...sub, 'load', '-q', file]);
    if (r.exitCode !== 0) throw new Error(`ct ${sub.join(' ')} load: ${r.stderr}`);
  }

  /** Waits until both B daemons' external caches hold every loaded flow and expectation. */
  private async converged(want: { ct: number; expect: number }): Promise<void> {
    const end = Date.now() + 30_000;
    for (;;) {
      let done = true;
      let seen = '';
      for (const impl of ['conntrackd', 'ctsync'] as const) {
        const b = this.nodes.b[impl];
        // the sync flows between the daemons are in A's kernel and caches too
        const ct = (await b.lines(['-e', 'ct', '-x'])).filter((l) => !isSyncFlow(l)).length;
        const x = (await b.lines(['-e', 'expect', '-x'])).length;
        if (ct < want.ct || x < want.expect) done = false;
        seen += ` ${impl}: ${ct} flows, ${x} expectations;`;
      }
      if (done) return;
      if (Date.now() > end)
        throw new Error(
          `the B daemons did not receive ${want.ct} flows and ${want.expect} expectations in 30 s:${seen}`,
        );
      await sleep(250);
    }
  }

  /** Each dump, as the two daemons print it (lines sorted, the daemons' own sync flows left out). */
  async dumps(): Promise<Array<{ name: string; args: readonly string[]; conntrackd: string[]; ctsync: string[] }>> {
    const out = [];
    for (const d of DUMPS) {
      const n = this.nodes[d.side];
      const conntrackd = (await n.conntrackd.lines([...d.args])).filter((l) => !isSyncFlow(l));
      const ctsync = (await n.ctsync.lines([...d.args])).filter((l) => !isSyncFlow(l));
      out.push({ name: d.name, args: d.args, conntrackd, ctsync });
    }
    return out;
  }

  async destroy(): Promise<void> {
    const all = [this.nodes.a.conntrackd, this.nodes.a.ctsync, this.nodes.b.conntrackd, this.nodes.b.ctsync];
    await Promise.allSettled(all.map((n) => n.stop()));
    await Promise.allSettled([this.nsA.destroy(), this.nsB.destroy()]);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
