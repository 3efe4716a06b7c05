// What the integration tests of sync authentication share (test/integration/sync/auth*.test.ts):
// a key and an Authentication block added to both nodes' conntrackd.conf, a forger sending
// datagrams from a node's address, the `auth …` rows of `-s`, UDP payloads of a capture, and flows.
import { strict as assert } from 'node:assert';
import fs from 'node:fs';
import path from 'node:path';
import type { SyncNode, SyncPair } from './syncpair.js';
import { controlRequest } from '../../src/control/client.js';
import type { FtFwStats } from '../../src/sync/ftfw.js';
import { repoRoot } from './fakes.js';
import { generateKeyFile, readKeyFile } from '../../src/config/auth-keys.js';
import { MSG, encodeCt } from '../../src/sync/wire.js';
import type { Entry } from '../../src/conntrack/entry.js';

/**
 * Writes key 1 into the pair's directory and adds `Authentication { Key 1 FILE; lines… }` to both
 * nodes' Sync section; returns the key.
 */
export function addAuthentication(pair: SyncPair, lines: string[]): Buffer {
  const keyFile = path.join(pair.dir, 'sync-1.key');
  generateKeyFile(keyFile);
  const r = readKeyFile(keyFile);
  assert.ok(r.ok);
  const auth = ['Authentication {', `  Key 1 ${keyFile}`, ...lines.map((l) => `  ${l}`), '}'];
  for (const node of [pair.a, pair.b]) {
    const conf = fs.readFileSync(node.conf, 'utf8').replace(/^\}$/m, `${auth.map((l) => `  ${l}`).join('\n')}\n}`);
    fs.writeFileSync(node.conf, conf);
  }
  return r.key;
}

const FORGE = path.join(repoRoot(), 'dist/test/helpers/forge-child.js');

/** Sends datagrams to `to` from `from`'s address (and port, if given), in `from`'s namespace. */
export async function forge(from: SyncNode, to: SyncNode, datagrams: Buffer[], fromPort?: number): Promise<void> {
  const spec = {
    from: from.addr,
    fromPort,
    to: to.addr,
    port: 3780,
    datagrams: datagrams.map((d) => d.toString('hex')),
  };
  const r = await from.ns.exec(process.execPath, [FORGE, JSON.stringify(spec)]);
  assert.equal(r.exitCode, 0, r.stderr);
}

/** The `auth …` rows of a node's `-s`. */
export async function authStats(node: SyncNode): Promise<Record<string, number>> {
  const r = await node.client(['-s']);
  assert.equal(r.exitCode, 0, r.stderr);
  const out: Record<string, number> = {};
  for (const m of r.stdout.matchAll(/^\tauth ([^:]+):\s+(\d+)$/gm)) out[m[1]!] = Number(m[2]);
  return out;
}

/** UDP payloads (and source ports) of an Ethernet pcap file. */
export function pcapPayloads(file: string): Array<{ sport: number; payload: Buffer }> {
  const b = fs.readFileSync(file);
  const le = b.readUInt32LE(0) === 0xa1b2c3d4;
  const u32 = (o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  const out: Array<{ sport: number; payload: Buffer }> = [];
  for (let o = 24; o + 16 <= b.length;) {
    const len = u32(o + 8);
    const frame = b.subarray(o + 16, o + 16 + len);
    o += 16 + len;
    if (frame.readUInt16BE(12) !== 0x0800) continue;
    const ip = frame.subarray(14);
    const udp = ip.subarray((ip[0]! & 0xf) * 4);
    out.push({ sport: udp.readUInt16BE(0), payload: Buffer.from(udp.subarray(8, udp.readUInt16BE(4))) });
  }
  return out;
}

export const flow = (octet: number, sport: number): Entry => ({
  family: 2,
  orig: { src: `198.51.100.${octet}`, dst: '203.0.113.80', proto: 6, sport, dport: 443 },
  status: 14,
  timeout: 3600,
  mark: 0,
  tcp: { state: 3 },
});

export const ctNew = (e: Entry, seq: number): Buffer => {
  const d = Buffer.alloc(512);
  return Buffer.from(d.subarray(0, encodeCt(d, 0, MSG.CT_NEW, 0, seq, e)));
};

export const has = (lines: string[], e: Entry) =>
  lines.some((l) => l.includes(`src=${e.orig.src} `) && l.includes(`sport=${e.orig.sport} `));

/** The sequence number `node` expects next from its peer (FT-FW alone would take a message with it). */
export async function nextSeqOf(node: SyncNode): Promise<number> {
  type Stats = { counters: { ftfw: FtFwStats } };
  const last = ((await controlRequest(node.sock, { cmd: 'stats' })) as Stats).counters.ftfw.lastSeqReceived!;
  return (last + 1) >>> 0;
}

/** Deletes flow `e` (source port `e.orig.sport`) from a's kernel and waits until b has dropped it too. */
export async function deleteFlow(pair: SyncPair, e: Entry): Promise<void> {
  const del = await pair.a.ns.exec('conntrack', [
    '-D',
    '-p',
    'tcp',
    '--orig-src',
    e.orig.src,
    '--sport',
    `${e.orig.sport}`,
  ]);
  assert.equal(del.exitCode, 0, del.stderr);
  await pair.converge(pair.a, pair.b);
  assert.ok(!has(await pair.b.external(), e));
}

/** Commits b's external cache (`-c`) and checks its kernel holds `present` and none of `absent`. */
export async function commitAndCheck(pair: SyncPair, present: Entry[], absent: Entry[]): Promise<void> {
  const c = await pair.b.client(['-c']);
  assert.equal(c.exitCode, 0, c.stderr);
  const kernel = (await pair.kernel(pair.b)).map((e) => `src=${e.orig.src} sport=${e.orig.sport} `);
  for (const f of absent) assert.ok(!has(kernel, f), `${f.orig.src} not in b's kernel`);
  for (const f of present) assert.ok(has(kernel, f), `${f.orig.src} in b's kernel`);
}
