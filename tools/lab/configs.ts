// The lab's generated files, one set per gateway, in the lab directory:
//   ctsync-gwA.conf     ctsync's configuration in conntrackd.conf syntax (--ha script), or
//   ctsync-gwA.json     ctsync's native JSON configuration with an `ha` section (--ha native)
//   keepalived-gwA.conf one vrrp_sync_group with the client-side and server-side VIPs
//   notify-gwA.sh       keepalived's notify script (--ha script): the primary-backup.sh sequence
//                       with ctsync, each step timed and logged to notify-gwA.log
//
// The switch between the two ways keepalived drives ctsync is `HaMode`:
//   'script'  keepalived runs notify-gwA.sh on group transitions, which calls the conntrackd-style
//             client flags (-c -f -R -B on primary; -s -t -n on backup; -t on fault), exactly like
//             Debian's /usr/share/doc/conntrackd/examples/sync/primary-backup.sh.
//   'native'  keepalived writes its state changes to a FIFO (vrrp_notify_fifo) that ctsync reads
//             itself (src/ha), configured by the `ha` section nativeHaSection() writes.
import fs from 'node:fs';
import path from 'node:path';
import { ADDR, type Gateway } from './topology.js';
import { pairNodeConf } from '../lib/pair-config.js';

export type HaMode = 'script' | 'native';

export interface GatewayFiles {
  /** ctsync's configuration file (-C). */
  ctsyncConf: string;
  ctsyncSock: string;
  ctsyncLog: string;
  ctsyncLock: string;
  keepalivedConf: string;
  /** keepalived's pid files (-p, -r, -c), unique to this lab. */
  pidFiles: { main: string; vrrp: string; checkers: string };
  /** notify script and the log it writes (script mode). */
  notifyScript: string;
  notifyLog: string;
  /** flock(1) file serializing the notify script's runs. */
  notifyLock: string;
  /** keepalived's notify FIFO (native mode). */
  fifo: string;
  /** The file ctsync writes and keepalived's track_file reads: 0, or -60 while unsynced (native mode). */
  trackFile: string;
}

export interface ConfigOptions {
  dir: string;
  ha: HaMode;
  /** false: the notify script runs but does not touch ctsync (the control experiment). */
  sync: boolean;
  advertInt: number;
  preemptDelay: number;
  /** ctsync's cache limit: room for the synthetic flows. */
  hashLimit: number;
  /** Absolute paths of node and of ctsync's CLI (dist/src/cli/ctsync.cjs). */
  node: string;
  ctsyncMain: string;
  /** --ha native: commit on demand during the promotion's commit (ha.onDemand.enabled). */
  onDemand: boolean;
  /**
   * --ha native only: ctsync serves Prometheus metrics on its sync address (ADDR.metricsPort),
   * holds traffic with the guard during a promotion, and signs its sync datagrams with this key
   * file (`authKeyFile`), so that every figure of the metrics exists.
   */
  metrics?: boolean;
  guard?: boolean;
  authKeyFile?: string;
}

export function gatewayFiles(dir: string, gw: Gateway, ha: HaMode): GatewayFiles {
  const f = (name: string): string => path.join(dir, name);
  return {
    ctsyncConf: f(ha === 'native' ? `ctsync-${gw.name}.json` : `ctsync-${gw.name}.conf`),
    ctsyncSock: f(`ctsync-${gw.name}.sock`),
    ctsyncLog: f(`ctsync-${gw.name}.log`),
    ctsyncLock: f(`ctsync-${gw.name}.lock`),
    keepalivedConf: f(`keepalived-${gw.name}.conf`),
    pidFiles: {
      main: f(`keepalived-${gw.name}.pid`),
      vrrp: f(`keepalived-${gw.name}.vrrp.pid`),
      checkers: f(`keepalived-${gw.name}.checkers.pid`),
    },
    notifyScript: f(`notify-${gw.name}.sh`),
    notifyLog: f(`notify-${gw.name}.log`),
    notifyLock: f(`notify-${gw.name}.serial`),
    fifo: f(`keepalived-${gw.name}.fifo`),
    trackFile: f(`ctsync-${gw.name}.synced`),
  };
}

/** Flows the gateways must not replicate: their own addresses and the VIPs (VRRP, sync, pings). */
function ownAddresses(gw: Gateway): string[] {
  const other = gw.name === 'gwA' ? ['192.0.2.3', '198.51.100.3'] : ['192.0.2.2', '198.51.100.2'];
  return ['127.0.0.1', ADDR.vipClient, ADDR.vipServer, gw.lanAddr, gw.wanAddr, ...other, gw.syncAddr, gw.peerSyncAddr];
}

/** ctsync's configuration in conntrackd.conf syntax (it would work for conntrackd 1.4.7 as well). */
export function ctsyncConntrackdConf(gw: Gateway, files: GatewayFiles, o: ConfigOptions): string {
  return pairNodeConf({
    comment: `ctsync on ${gw.name} (failover lab). conntrackd.conf syntax.`,
    addr: gw.syncAddr,
    peer: gw.peerSyncAddr,
    ifname: gw.syncIf,
    port: ADDR.syncPort,
    log: files.ctsyncLog,
    lock: files.ctsyncLock,
    sock: files.ctsyncSock,
    // a restarted node asks its peer for everything (ctsync's default, spelled out)
    ftfw: ['StartupResync on'],
    hashLimit: o.hashLimit,
    // room for bursts of events (ct load of --flows creates ~50k entries/s); after an overrun,
    // resync with the kernel table 1 s later instead of 30
    netlinkBuffer: { size: 16777216, maxGrowth: 134217728 },
    scheduler: false,
    general: [
      'NetlinkOverrunResync 1',
      'Filter From Userspace {',
      '  Protocol Accept {',
      '    TCP',
      '    UDP',
      '    ICMP',
      '  }',
      '  Address Ignore {',
      ...ownAddresses(gw).map((a) => `    IPv4_address ${a}`),
      '  }',
      '}',
    ],
  });
}

/**
 * The `ha` section of ctsync's JSON configuration for --ha native. A placeholder until src/ha
 * defines it: ctsync reads keepalived's FIFO and runs the primary/backup sequence itself.
 */
export function nativeHaSection(files: GatewayFiles, onDemand: boolean): Record<string, unknown> {
  // the shape documented in src/ha/config.ts
  return {
    track: { groups: ['G_LAB'] },
    fifo: { path: files.fifo, create: true },
    initialRole: 'backup',
    onDemand: { enabled: onDemand },
  };
}

/** ctsync's native JSON configuration (same settings as the conntrackd.conf above, plus `ha`). */
export function ctsyncJsonConf(gw: Gateway, files: GatewayFiles, o: ConfigOptions): string {
  const conf = {
    sync: {
      mode: 'ftfw',
      startupResync: true,
      ...(o.authKeyFile ? { authentication: { mode: 'enforce', keys: [{ id: 1, file: o.authKeyFile }] } } : {}),
      channels: [
        {
          kind: 'udp',
          default: true,
          ipv4Address: gw.syncAddr,
          destination: gw.peerSyncAddr,
          port: ADDR.syncPort,
          interface: gw.syncIf,
          checksum: true,
        },
      ],
    },
    general: {
      hashSize: 32768,
      hashLimit: o.hashLimit,
      logFile: files.ctsyncLog,
      syslog: false,
      lockFile: files.ctsyncLock,
      unix: { path: files.ctsyncSock },
      netlinkBufferSize: 16777216,
      netlinkBufferSizeMaxGrowth: 134217728,
      netlinkOverrunResync: 1,
      filter: {
        from: 'userspace',
        protocol: { mode: 'accept', protocols: ['tcp', 'udp', 'icmp'] },
        address: { mode: 'ignore', ipv4: ownAddresses(gw) },
      },
    },
    ha: {
      ...nativeHaSection(files, o.onDemand),
      ...(o.guard ? { guard: { enabled: true, interfaces: [gw.lanIf, gw.wanIf], maxHoldMs: 2000 } } : {}),
    },
    // no master before synced: see SYNC_GATE_WEIGHT
    health: { trackFile: { path: files.trackFile, weight: SYNC_GATE_WEIGHT } },
    ...(o.metrics ? { metrics: { address: gw.syncAddr, port: ADDR.metricsPort } } : {}),
  };
  return JSON.stringify(conf, null, 2) + '\n';
}

/**
 * No master before synced (README, Health), in native mode: ctsync writes 0 to its track file, or
 * minus this while its external cache is incomplete, and keepalived adds it to the priority. It
 * exceeds the gap between the two priorities (150 and 100), so an unsynced gwA coming back does
 * not preempt a synced gwB; a weight, not a fault, so an unsynced gateway alone still takes over.
 * A file rather than `ctsync health --sync` as a vrrp_script: nothing is started every second.
 * Not in script mode: there the notify script drives ctsync with conntrackd's flags, so ctsync
 * does not know it is the master, and the flush (-f) after a commit would count against it.
 */
const SYNC_GATE_WEIGHT = 60;

export function keepalivedConf(gw: Gateway, files: GatewayFiles, o: ConfigOptions): string {
  const gate = o.ha === 'native' && o.sync;
  const trackFile = gate
    ? `vrrp_track_file ctsync_synced {
\tfile ${files.trackFile}
\tweight 1
}

`
    : '';
  const notify =
    o.ha === 'script'
      ? `\tnotify_master "${files.notifyScript} primary"
\tnotify_backup "${files.notifyScript} backup"
\tnotify_fault "${files.notifyScript} fault"
`
      : '';
  const instance = (name: string, ifName: string, vrid: number, vip: string): string => `vrrp_instance ${name} {
\t# both gateways start as BACKUP: the higher priority (gwA) becomes MASTER, and when it comes
\t# back after a failure it takes over again (preempt) only after preempt_delay, which gives its
\t# ctsync time to catch up with the peer (the backup notify asks for a resync).
\tstate BACKUP
\tinterface ${ifName}
\tvirtual_router_id ${vrid}
\tpriority ${gw.priority}
\tadvert_int ${o.advertInt}
\tpreempt_delay ${o.preemptDelay}
${gate ? '\ttrack_file {\n\t\tctsync_synced\n\t}\n' : ''}\tvirtual_ipaddress {
\t\t${vip}/24 dev ${ifName}
\t}
}
`;
  return `# keepalived on ${gw.name} (failover lab), run as:
#   keepalived -n -l -D -G -P -f ${files.keepalivedConf} -p ${files.pidFiles.main} -r ${files.pidFiles.vrrp} -c ${files.pidFiles.checkers}
global_defs {
\trouter_id lab_${gw.name}
\t# the notify script calls ctsync, which needs root (CAP_NET_ADMIN on the conntrack table)
\tscript_user root
\t# VRRPv3: advert_int may be below one second
\tvrrp_version 3
\t# real-time scheduling for the VRRP process: on a busy machine a starved keepalived misses its
\t# adverts and the backup takes over (a flap, or a split brain) without any failure
\tvrrp_rt_priority 50
${o.ha === 'native' ? `\t# ctsync reads its roles from here (--ha native)\n\tvrrp_notify_fifo ${files.fifo}\n` : ''}}

${trackFile}# the two VIPs move together; the conntrack hooks hang on the group only (as in
# /usr/share/doc/conntrackd/examples/sync/keepalived.conf)
vrrp_sync_group G_LAB {
\tgroup {
\t\tVI_CLIENT
\t\tVI_SERVER
\t}
${gate ? '\t# both members track ctsync_synced with one weight: keepalived accepts it with this\n\tsync_group_tracking_weight\n' : ''}${notify}}

${instance('VI_CLIENT', gw.lanIf, 51, ADDR.vipClient)}
${instance('VI_SERVER', gw.wanIf, 52, ADDR.vipServer)}`;
}

/** keepalived's notify script: the primary-backup.sh sequence with ctsync, timed and logged. */
// eslint-disable-next-line max-lines-per-function
export function notifyScript(gw: Gateway, files: GatewayFiles, o: ConfigOptions): string {
  const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
  return `#!/bin/sh
# keepalived notify script of ${gw.name} (failover lab): what Debian's
# /usr/share/doc/conntrackd/examples/sync/primary-backup.sh does, with ctsync in place of
# conntrackd, every step timed and logged to $LOG (tab-separated: start ms, state, step, exit
# code, duration ms, output) for the lab's progress display.
PATH=/usr/sbin:/usr/bin:/sbin:/bin
NODE=${q(o.node)}
CTSYNC=${q(o.ctsyncMain)}
CONF=${q(files.ctsyncConf)}
LOCK=${q(files.ctsyncLock)}
LOG=${q(files.notifyLog)}
SYNC=${o.sync ? 1 : 0}
STATE=$1

now() { date +%s%3N; }
log() { printf '%s\\t%s\\t%s\\t%s\\t%s\\t%s\\n' "$1" "$STATE" "$2" "$3" "$4" "$5" >> "$LOG"; }
# step NAME FLAGS...: ctsync -C $CONF FLAGS --json, logged; returns ctsync's exit code
step() {
	name=$1; shift
	t0=$(now)
	out=$("$NODE" "$CTSYNC" -C "$CONF" "$@" --json 2>&1)
	rc=$?
	log "$t0" "$name" "$rc" "$(( $(now) - t0 ))" "$(printf '%s' "$out" | tr '\\t\\n' '  ' | cut -c1-2000)"
	return $rc
}

# Not in primary-backup.sh: keepalived starts notify scripts without waiting for the previous one
# (docs/conntrackd-compat.md §3.2). A backup run still busy when the primary run starts (gwA at start-up: BACKUP, then
# MASTER 0.7 s later) could schedule its purge (-t) after the primary's commit (-c cancels a pending
# purge), and the new primary's kernel table would be flushed PurgeTimeout later. Runs are serialized
# here; only the FIFO (--ha native) also guarantees their order.
exec 9>>${q(files.notifyLock)}
flock 9

log "$(now)" begin 0 0 ""
if [ "$SYNC" != 1 ]; then
	log "$(now)" end 0 0 "sync disabled (control experiment): ctsync is not running"
	exit 0
fi
case "$STATE" in
primary)
	step commit -c     # commit the external cache into the kernel table
	step flush -f      # flush the internal and the external caches
	step resync -R     # resynchronize the internal cache with the kernel table
	step bulk -B       # send a bulk update to the backup
	;;
backup)
	if ! step probe -s; then   # is ctsync running?
		[ -f "$LOCK" ] && rm -f "$LOCK" && log "$(now)" lock 0 0 "removed stale lock file"
		step start -d || { log "$(now)" end 1 0 "cannot launch ctsync"; exit 1; }
	fi
	step purge -t      # flush the kernel table after PurgeTimeout (zombie entries)
	step request -n    # request resynchronization with the primary
	;;
fault)
	step purge -t
	;;
*)
	log "$(now)" end 1 0 "unknown state transition"
	exit 1
	;;
esac
log "$(now)" end 0 0 ""
exit 0
`;
}

export function writeGatewayFiles(gw: Gateway, o: ConfigOptions): GatewayFiles {
  const files = gatewayFiles(o.dir, gw, o.ha);
  fs.writeFileSync(
    files.ctsyncConf,
    o.ha === 'native' ? ctsyncJsonConf(gw, files, o) : ctsyncConntrackdConf(gw, files, o),
  );
  fs.writeFileSync(files.keepalivedConf, keepalivedConf(gw, files, o));
  if (o.ha === 'script') fs.writeFileSync(files.notifyScript, notifyScript(gw, files, o), { mode: 0o755 });
  return files;
}
