// `conntrackd -s` text, in conntrackd 1.4.7's exact layout (tabs and field widths included, see
// test/fixtures/conntrackd-output/stats-sections.txt), followed by ctsync's own counters.
import type { SyncEngine } from '../engine/sync-engine.js';
import type { CacheCounters, CacheView } from '../cache/sync-cache.js';
import { cacheFullText } from '../engine/cache-full.js';
import type { InjectCounters } from '../engine/kernel-inject.js';
import type { AuthCounters } from '../sync/auth-verifier.js';

const n12 = (v: number): string => String(v).padStart(12);
const n20 = (v: number): string => String(v).padStart(20);

type CacheCounts = { size: number; counters: CacheCounters };

function cacheBlock(name: string, c: CacheCounts): string {
  const k = c.counters;
  return (
    `cache ${name}:\n` +
    `current active connections:\t${n12(c.size)}\n` +
    `connections created:\t\t${n12(k.created)}\tfailed:\t${n12(k.createFailed)}\n` +
    `connections updated:\t\t${n12(k.updated)}\tfailed:\t${n12(k.updateFailed)}\n` +
    `connections destroyed:\t\t${n12(k.destroyed)}\tfailed:\t${n12(k.destroyFailed)}\n\n`
  );
}

/** DisableExternalCache on: what the injection did, where conntrackd prints it (instead of the external cache). */
function injectBlock(k: InjectCounters): string {
  return (
    'external inject:\n' +
    `connections created:\t\t${n12(k.created)}\tfailed:\t${n12(k.createFailed)}\n` +
    `connections updated:\t\t${n12(k.updated)}\tfailed:\t${n12(k.updateFailed)}\n` +
    `connections destroyed:\t\t${n12(k.deleted)}\tfailed:\t${n12(k.deleteFailed)}\n\n`
  );
}

function traffic(e: SyncEngine, header: string): string {
  const s = e.channel.stats;
  return (
    `${header}\n` +
    `${n20(s.bytesSent)} Bytes sent ${n20(s.bytesReceived)} Bytes recv\n` +
    `${n20(s.packetsSent)} Pckts sent ${n20(s.packetsReceived)} Pckts recv\n` +
    `${n20(s.sendErrors)} Error send ${n20(s.receiveErrors)} Error recv\n\n`
  );
}

const KIND_NAMES = { udp: 'UDP', multicast: 'Multicast', tcp: 'TCP' } as const;
const connected = (up: boolean | undefined): string => (up ? 'connected' : 'disconnected');

/** conntrackd's traffic header; a TCP channel's adds the state of its two connections. */
function udpHeader(e: SyncEngine): string {
  const { kind, interface: dev } = e.channel.opts;
  const s = e.channel.stats;
  if (kind === 'tcp')
    return `TCP traffic (active device=${dev}) server=${connected(s.serverConnected)} client=${connected(s.clientConnected)}:`;
  return `${KIND_NAMES[kind]} traffic (active device=${dev}):`;
}

/** `-s` (and `-s ct`): caches, traffic, message tracking; what full caches refused. */
export function generalStats(e: SyncEngine): string {
  return summary(e, e.internal, e.injector?.ct ?? e.external) + cacheWarnings(cacheFullLines(e, 'ct'));
}

/** `-s expect`: the same, with the expectation caches in place of the conntrack caches. */
export function expectStats(e: SyncEngine): string {
  return summary(e, e.internalExpect, e.injector?.exp ?? e.externalExpect) + cacheWarnings(cacheFullLines(e, 'expect'));
}

/**
 * "external cache full: N entries refused (HashLimit L)" for each cache that refused entries.
 * conntrackd 1.4.7 logs nothing and shows them only as failed creations ("failed:" in `-s`,
 * "no space left in cache" in `-s cache`), which reads like a transient error.
 */
export function cacheFullLines(e: SyncEngine, kind: 'ct' | 'expect' | 'both'): string[] {
  const lines: Array<string | undefined> = [];
  if (kind !== 'expect') lines.push(cacheFullText(e.internal, 'internal'), cacheFullText(e.external, 'external'));
  if (kind !== 'ct' && e.expectations)
    lines.push(
      cacheFullText(e.internalExpect, 'internal expectation'),
      cacheFullText(e.externalExpect, 'external expectation'),
    );
  return lines.filter((l): l is string => l !== undefined);
}

/** Appended after the stock sections (their layout stays conntrackd's), only when there is something to say. */
function cacheWarnings(lines: string[]): string {
  return lines.length ? 'warnings:\n' + lines.map((l) => `\t${l}\n`).join('') + '\n' : '';
}

function summary(e: SyncEngine, internal: CacheCounts, external: CacheCounts | InjectCounters): string {
  const f = e.ftfw.stats();
  return (
    cacheBlock('internal', internal) +
    ('size' in external ? cacheBlock('external', external) : injectBlock(external)) +
    `traffic processed:\n${n20(0)} Bytes      ${n20(0)} Pckts\n\n` +
    traffic(e, udpHeader(e)) +
    `message tracking:\n${n20(e.malformed.total)} Malformed msgs ${n20(f.lost)} Lost msgs\n\n` +
    ctsyncStats(e)
  );
}

export function networkStats(e: SyncEngine): string {
  const m = e.malformed;
  const f = e.ftfw.stats();
  return (
    'network statistics:\n\trecv:\n' +
    `\t\tMalformed messages:\t${n20(m.total)}\n` +
    `\t\tWrong protocol version:\t${n20(m.badVersion)}\n` +
    `\t\tMalformed header:\t${n20(m.badHeader)}\n` +
    `\t\tMalformed payload:\t${n20(m.badPayload)}\n` +
    `\t\tBad message type:\t${n20(m.badType)}\n` +
    `\t\tTruncated message:\t${n20(m.truncated)}\n` +
    `\t\tBad message size:\t${n20(m.badSize)}\n` +
    `\tsend:\n\t\tMalformed messages:\t${n20(0)}\n\n` +
    'sequence tracking statistics:\n\trecv:\n' +
    `\t\tPackets lost:\t\t${n20(f.lost)}\n` +
    `\t\tPackets before:\t\t${n20(f.before)}\n\n` +
    traffic(e, udpHeader(e))
  );
}

function cacheDetail(name: string, c: CacheView): string {
  const k = c.counters;
  return (
    `cache:${name}\tactive objects:\t\t${n12(c.size)}\n` +
    `\tactive/total entries:\t\t${n12(c.size)}/${n12(c.totalObjects)}\n` +
    `\tcreation OK/failed:\t\t${n12(k.created)}/${n12(k.createFailed)}\n` +
    `\t\tno memory available:\t${n12(0)}\n` +
    `\t\tno space left in cache:\t${n12(k.createFailed)}\n` +
    `\tupdate OK/failed:\t\t${n12(k.updated)}/${n12(k.updateFailed)}\n` +
    `\t\tentry not found:\t${n12(0)}\n` +
    `\tdeletion created/failed:\t${n12(k.destroyed)}/${n12(k.destroyFailed)}\n` +
    `\t\tentry not found:\t${n12(k.destroyFailed)}\n\n`
  );
}

export function cacheStats(e: SyncEngine): string {
  return (
    cacheDetail('internal', e.internal) + cacheDetail('external', e.external) + cacheWarnings(cacheFullLines(e, 'ct'))
  );
}

export function runtimeStats(e: SyncEngine, eventsReceived: number, bufferSize: number): string {
  const minutes = Math.floor((Date.now() - e.startedAt) / 60000);
  return (
    `daemon uptime: ${minutes} min\n\n` +
    'netlink stats:\n' +
    `\tevents received:\t${n20(eventsReceived)}\n` +
    `\tevents filtered:\t${n20(0)}\n` +
    `\tevents unknown type:\t\t${n12(0)}\n` +
    `\tcatch event failed:\t\t${n12(0)}\n` +
    `\tdump unknown type:\t\t${n12(0)}\n` +
    `\tnetlink overrun:\t\t${n12(e.overruns)}\n` +
    `\tflush kernel table:\t\t${n12(0)}\n` +
    `\tresync with kernel table:\t${n12(e.resyncs)}\n` +
    `\tcurrent buffer size (in bytes):\t${n12(bufferSize)}\n\n` +
    'runtime stats:\n' +
    `\tchild process failed:\t\t${n12(0)}\n` +
    `\t\tchild process segfault:\t${n12(0)}\n` +
    `\t\tchild process termsig:\t${n12(0)}\n` +
    `\tselect failed:\t\t\t${n12(0)}\n` +
    `\twait failed:\t\t\t${n12(0)}\n` +
    `\tlocal read failed:\t\t${n12(0)}\n` +
    `\tlocal unknown request:\t\t${n12(0)}\n\n`
  );
}

export function linkStats(e: SyncEngine): string {
  return traffic(
    e,
    `${KIND_NAMES[e.channel.opts.kind]} traffic device=${e.channel.opts.interface} status=RUNNING role=ACTIVE:`,
  );
}

export function rsqueueStats(e: SyncEngine): string {
  return e.ftfw.rsQueueDump();
}

/** `-s queue`: conntrackd's queues; the resend queue exists in Mode FTFW only (NOTRACK and ALARM have none). */
export function queueStats(e: SyncEngine): string {
  const f = e.ftfw.stats();
  return (
    `allocated queue nodes:\t\t${n12(f.rsQueueLen + f.txQueueLen)}\n\n` +
    `queue txqueue:\ncurrent elements:\t\t${n12(f.txQueueLen)}\nmaximum elements:\t\t${n12(2147483647)}\nnot enough space errors:\t${n12(0)}\n\n` +
    `queue errorq:\ncurrent elements:\t\t${n12(0)}\nmaximum elements:\t\t${n12(128)}\nnot enough space errors:\t${n12(0)}\n\n` +
    (e.config.sync.mode === 'ftfw'
      ? `queue rsqueue:\ncurrent elements:\t\t${n12(f.rsQueueLen)}\nmaximum elements:\t\t${n12(e.config.sync.resendQueueSize)}\nnot enough space errors:\t${n12(f.rsEvicted)}\n\n`
      : '')
  );
}

/** What ctsync counts beyond conntrackd (appended after the stock sections). */
export function ctsyncStats(e: SyncEngine): string {
  const f = e.ftfw.stats();
  const rows: Array<[string, number]> = [
    ['lost messages (exact)', f.lostExact],
    ['retransmitted on NACK', f.nackRetransmits],
    ['replayed after handshake', f.helloReplays],
    ['retransmitted (ACK hole)', f.holeRetransmits],
    ['retransmitted (timeout)', f.timeoutRetransmits],
    ['bulk sends', f.bulksRequested],
    ['peer restarts seen', f.peerRestarts],
    ['peer restarts held off', f.restartsDeferred],
    ['peer sequence resets', f.sequenceResets],
    ['peer bulks complete', f.peerBulksComplete],
    ['peer bulks with gaps', f.peerBulksUnclean],
    ['stale entries removed', e.staleRemoved],
    ...(e.expiry ? [['external entries expired', e.expiry.expired] as [string, number]] : []),
    ['own events not echoed', e.ownEvents],
    ['datagrams from strangers', e.channel.stats.foreign],
    ['unusable peer entries', e.unusable],
    ['kernel event overruns', e.overruns],
    ['resyncs with the kernel', e.resyncs],
  ];
  if (e.expectations)
    rows.push(['expectations internal', e.internalExpect.size], ['expectations external', e.externalExpect.size]);
  else rows.push(['EXP messages ignored', e.expectMessagesIgnored]);
  const auth = e.channel.authCounters;
  if (auth) rows.push(...authRows(auth));
  return 'ctsync:\n' + rows.map(([k, v]) => `\t${(k + ':').padEnd(28)}${n20(v)}\n`).join('') + '\n';
}

/** Sync authentication's counters (docs/ftfw-protocol.md §13.6): failures by reason, and drops. */
function authRows(a: AuthCounters): Array<[string, number]> {
  const f = a.failed;
  return [
    ['auth accepted', a.accepted],
    ['auth no trailer', f['no-trailer']],
    ['auth malformed trailer', f.malformed],
    ['auth unknown key', f['unknown-key']],
    ['auth bad MAC', f['bad-mac']],
    ['auth stale', f.stale],
    ['auth replay', f.replay],
    ['auth not encrypted', f['not-encrypted']],
    ['auth dropped', a.dropped],
  ];
}
