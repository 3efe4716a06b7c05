#!/usr/bin/env bash
# FT-FW sync benchmark: stock conntrackd against ctsync, same run, same namespaces, same loader.
#
#   sudo scripts/bench-sync.sh [COUNT]        (COUNT defaults to $COUNT or 100000)
#
# Environment:
#   COUNT=100000       flows per run (the first argument wins)
#   REPEAT=1           runs of each pair; the best (lowest) value of each metric is reported
#   PAIRS="cd:cd cs:cs cs:cd cd:cs"
#                      primary:backup pairs to run (cd = conntrackd, cs = ctsync); the first two
#                      make the main table, the mixed ones get their own lines
#   POLL_MS=20         polling interval for the caches' counts
#   TIMEOUT=120        seconds before a replication or resync that never completes is a failure
#   STALL=45           ... or before one whose counts (kernel, primary, backup) stop moving is
#                      (45 s: a daemon that overruns its event buffer resyncs with the kernel
#                      30 s later, NetlinkOverrunResync's default; that is measured, not failed)
#   START_WAIT=10      seconds between the daemons answering and the load. ctsync's start-up:
#                      HELLO handshake, 3 ALIVE periods of linger, then its startup RESYNC/bulk,
#                      ~4 s after it sees the peer; and V8's memory reducer compacts each idle
#                      commit worker once, ~8 s after its warm-up (~60 ms of CPU, once per
#                      process lifetime, not part of any replication). conntrackd has nothing
#                      to wait for.
#   SETTLE=2           seconds of quiet before each RSS sample with a full cache
#   WARM=0             1: before the measured replication, each pair replicates the same flows
#                      once and deletes them (conntrack -F on the primary; the backup's external
#                      cache empties), so the measurement is of daemons that have carried
#                      traffic, as on a gateway that has been up for a while. 0: daemons just
#                      started, as after a reboot (ctsync's JIT compiler has not seen the sync
#                      paths yet; conntrackd has no such warm-up). With WARM=1 RSS per entry is not
#                      comparable (the warm-up's garbage and reusable buffers count in): take
#                      it from a run without WARM
#   CTSYNC_BIN=...     the CLI (default: dist/src/cli/main.js of this checkout)
#   CTSYNC_NODE_ARGS=  extra node flags for the ctsync daemons (e.g. "--cpu-prof
#                      --cpu-prof-dir=/tmp/prof": profiles are written when the daemon stops)
#   CTSYNC_CHRT=0      1: run the ctsync daemons under `chrt -f 1` (both daemons apply the
#                      config's `Scheduler { Type FIFO Priority 1 }` themselves; ctsync to its
#                      main thread only). Diagnostic only: every thread of node then runs SCHED_FIFO, and on a 2-CPU
#                      machine that livelocked some runs (one thread spinning at 100%, the main
#                      thread starved, SIGTERM ignored): such a run fails after 10 s and the
#                      daemon is killed; the failure report lists each thread's CPU time
#   SNAPSHOT=1         run ctsync from a private copy of dist/ and build/Release/ made at start
#                      (under the temporary directory), so a rebuild of the checkout while the
#                      benchmark runs cannot change or break the daemons half way; 0: run in place
#   KEEP_DIR=DIR       keep configs, logs and the entry file in DIR
#
# Topology: two fresh, uniquely named network namespaces (ctsync-bsync-PID-RANDOM-a / -b) joined
# by a veth pair, 192.0.2.1 (primary, a) <-> 192.0.2.2 (backup, b), UDP port 3780, FT-FW. Each
# daemon runs in the foreground (so its pid is known) with the same conntrackd.conf (the one
# test/helpers/syncpair.ts writes). Flows are created in a's kernel with `ctsync ct load` for every
# pair, so only the sync daemons differ. Entries use 198.51.100.0/24 -> 203.0.113.0/24 only.
# Daemons are killed and namespaces deleted on exit, failure or interrupt; the host's conntrack
# table is never touched.
#
# Measured, per pair, with fresh daemons for every run:
#   latency   from the first flow in a's kernel (polled at 1 ms in /proc/PID/net/stat/nf_conntrack)
#             until b's external cache holds COUNT entries (polled every POLL_MS over the control
#             socket: conntrackd's `-s cache` request, ctsync's `-s --json` request)
#   mem/ext   (VmRSS of b with COUNT entries in its external cache - VmRSS of b just after start,
#             caches empty) / COUNT, sampled after SETTLE seconds of quiet
#   mem/int   the same for a and its internal cache
#   resync    on b: `-f external`, then `-n`: seconds from the -n request until b's external cache
#             holds COUNT entries again (requests sent over the socket, no client start-up time)
#   cpu       CPU time (utime + stime, all threads, from /proc/PID/stat) each daemon used during
#             the replication and during the resync: unlike wall-clock times it hardly depends on
#             what else runs on the machine (it includes answering the count polls: ~50 tiny
#             requests a second)
#   overruns  kernel event buffer overruns of the primary (`-s runtime` "netlink overrun:"); an
#             overrun means lost events, recovered only by the resync with the kernel table
#             NetlinkOverrunResync (30 s) later, which then dominates the latency

set -euo pipefail

SCRIPT=$(readlink -f "${BASH_SOURCE[0]}")
ROOT=$(cd "$(dirname "$SCRIPT")/.." && pwd)
MEASURE=$ROOT/scripts/bench-sync-measure.mjs
GEN=$ROOT/scripts/bench-sync-gen.mjs

COUNT=${1:-${COUNT:-100000}}
REPEAT=${REPEAT:-1}
PAIRS=${PAIRS:-"cd:cd cs:cs cs:cd cd:cs"}
POLL_MS=${POLL_MS:-20}
TIMEOUT=${TIMEOUT:-120}
STALL=${STALL:-45}
START_WAIT=${START_WAIT:-10}
WARM=${WARM:-0}
SETTLE=${SETTLE:-2}
DEFAULT_BIN=$ROOT/dist/src/cli/main.js
CTSYNC_BIN=${CTSYNC_BIN:-$DEFAULT_BIN}
SNAPSHOT=${SNAPSHOT:-1}
CTSYNC_NODE_ARGS=${CTSYNC_NODE_ARGS:-}
CTSYNC_CHRT=${CTSYNC_CHRT:-0}

die() { echo "bench-sync: $*" >&2; exit 1; }
[[ "$COUNT" =~ ^[1-9][0-9]*$ ]] || { echo "usage: $0 [COUNT]" >&2; exit 2; }
[[ "$REPEAT" =~ ^[1-9][0-9]*$ ]] || die "REPEAT must be a positive integer"
[[ "$POLL_MS" =~ ^[1-9][0-9]*$ ]] || die "POLL_MS must be a positive integer"
for p in $PAIRS; do [[ "$p" =~ ^(cd|cs):(cd|cs)$ ]] || die "bad pair '$p' in PAIRS (cd:cd, cs:cs, cs:cd, cd:cs)"; done
[[ $(id -u) == 0 ]] || die "must run as root (network namespaces, ctnetlink)"
for tool in ip conntrack conntrackd node awk; do command -v "$tool" >/dev/null || die "$tool not found"; done
[[ "$CTSYNC_CHRT" == 0 ]] || command -v chrt >/dev/null || die "CTSYNC_CHRT=1 needs chrt"
[[ -f "$CTSYNC_BIN" ]] || die "ctsync CLI not found at $CTSYNC_BIN (build first: npx tsc -p tsconfig.json)"

TAG="ctsync-bsync-$$-$RANDOM"
NSA="$TAG-a"
NSB="$TAG-b"
ORIG_MAX=""
CHILD=""          # the measuring helper while it runs
declare -A DPID   # node letter -> daemon pid
if [[ -n "${KEEP_DIR:-}" ]]; then
  DIR=$KEEP_DIR
  mkdir -p "$DIR"
  CLEAN_DIR=0
else
  DIR=$(mktemp -d /tmp/ctsync-bsync.XXXXXX)
  CLEAN_DIR=1
fi

alive() { [[ -n "$1" ]] && kill -0 "$1" 2>/dev/null && [[ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]]; }

# stop_pid PID: SIGTERM, up to 5 s, then SIGKILL; reaps it.
stop_pid() {
  local pid=$1 i
  alive "$pid" || { wait "$pid" 2>/dev/null || true; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do alive "$pid" || break; sleep 0.1; done
  if alive "$pid"; then
    echo "bench-sync: pid $pid ignored SIGTERM, killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$? ns pid
  trap - EXIT INT TERM
  if [[ -n "$CHILD" ]]; then kill -TERM "$CHILD" 2>/dev/null || true; wait "$CHILD" 2>/dev/null || true; fi
  for pid in "${DPID[@]}"; do stop_pid "$pid"; done
  for ns in "$NSA" "$NSB"; do
    if ip netns list 2>/dev/null | awk '{print $1}' | grep -qxF -- "$ns"; then
      # anything still running in our namespaces (a loader, a daemon that forked) is ours
      for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
      ip netns del "$ns" || echo "bench-sync: could not delete namespace $ns" >&2
    fi
  done
  if [[ -n "$ORIG_MAX" ]]; then sysctl -qw net.netfilter.nf_conntrack_max="$ORIG_MAX" || true; fi
  if ((CLEAN_DIR)); then rm -rf -- "$DIR"; else echo "bench-sync: files kept in $DIR"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# measure OUTVAR SUBCOMMAND ARGS...: runs the helper in the background (so a signal to this
# script is handled at once), its key=value line goes to OUTVAR; returns its exit status.
measure() {
  local __var=$1 rc=0; shift
  node "$MEASURE" "$@" >"$DIR/measure.out" 2>"$DIR/measure.err" </dev/null &
  CHILD=$!
  wait "$CHILD" || rc=$?
  CHILD=""
  printf -v "$__var" '%s' "$(cat "$DIR/measure.out")"
  if [[ -s "$DIR/measure.err" ]]; then sed 's/^/    measure: /' "$DIR/measure.err" >&2; fi
  return "$rc"
}
# field KEY LINE: a value from a key=value line ("" if absent)
field() { sed -n "s/^\(.* \)\{0,1\}$1=\(\"[^\"]*\"\|[^ ]*\).*/\2/p" <<<"$2" | tr -d '"'; }

name() { [[ $1 == cd ]] && echo conntrackd || echo ctsync; }
CLK_TCK=$(getconf CLK_TCK)
cputicks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
cpusecs() { awk -v a="$1" -v b="$2" -v h="$CLK_TCK" 'BEGIN { printf "%.2f", (b - a) / h }'; }
rss() { awk '/^VmRSS:/ {print $2 * 1024}' "/proc/$1/status"; }
hwm() { awk '/^VmHWM:/ {print $2 * 1024}' "/proc/$1/status"; }
kcount() { ip netns exec "$1" conntrack -C; }

# conf FILE ADDR PEER IFNAME STEM: the conntrackd.conf both daemons read (as syncpair.ts).
conf() {
  cat >"$1" <<EOF
Sync {
  Mode FTFW {
  }
  UDP Default {
    IPv4_address $2
    IPv4_Destination_Address $3
    Port 3780
    Interface $4
    Checksum on
  }
}
General {
  HashSize 32768
  HashLimit 262144
  LogFile $5.log
  Syslog off
  LockFile $5.lock
  UNIX { Path $5.sock }
  NetlinkBufferSize 16777216
  NetlinkBufferSizeMaxGrowth 67108864
  Scheduler { Type FIFO Priority 1 }
}
EOF
}

# start IMPL NS NODE STEM: starts a daemon in the foreground (in the background of this script),
# records its pid in DPID[NODE], waits until it answers on its socket.
start() {
  local impl=$1 ns=$2 node=$3 stem=$4 pid i line
  if [[ $impl == cd ]]; then
    ip netns exec "$ns" conntrackd -C "$stem.conf" >"$stem.out" 2>&1 </dev/null &
  elif [[ $CTSYNC_CHRT != 0 ]]; then
    # shellcheck disable=SC2086
    ip netns exec "$ns" chrt -f 1 node $CTSYNC_NODE_ARGS "$CTSYNC_BIN" -C "$stem.conf" >"$stem.out" 2>&1 </dev/null &
  else
    # shellcheck disable=SC2086
    ip netns exec "$ns" node $CTSYNC_NODE_ARGS "$CTSYNC_BIN" -C "$stem.conf" >"$stem.out" 2>&1 </dev/null &
  fi
  pid=$!
  DPID[$node]=$pid
  for ((i = 0; i < 150; i++)); do
    if ! alive "$pid"; then
      echo "bench-sync: $(name "$impl") on $node exited during start-up:" >&2
      tail -n 20 "$stem.out" "$stem.log" 2>/dev/null | sed 's/^/    | /' >&2
      return 1
    fi
    if [[ -S "$stem.sock" ]] && node "$MEASURE" stats --sock "$stem.sock" --proto "$(name "$impl")" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  echo "bench-sync: $(name "$impl") on $node does not answer on $stem.sock after 15 s" >&2
  return 1
}

stop_node() {
  local node=$1
  [[ -n "${DPID[$node]:-}" ]] || return 0
  stop_pid "${DPID[$node]}"
  unset "DPID[$node]"
}

# threads PID: each thread's name, state, policy/priority and CPU seconds (for a hung daemon)
threads() {
  local t
  for t in /proc/"$1"/task/*; do
    awk -v h="$CLK_TCK" -v id="${t##*/}" '{ sub(/^[^)]*\) /, ""); printf "      tid %s state %s cpu %.2fs prio %s policy %s", id, $1, ($12 + $13) / h, $16, $39 }' "$t/stat" 2>/dev/null || continue
    echo " $(cat "$t/comm" 2>/dev/null) wchan=$(cat "$t/wchan" 2>/dev/null)"
  done
}

# diag IMPL NODE STEM: a failed node's statistics and log tail, on stderr
diag() {
  local node; [[ $2 == primary ]] && node=a || node=b
  if [[ -n "${DPID[$node]:-}" ]] && alive "${DPID[$node]}"; then
    echo "   $(name "$1") on $2: pid ${DPID[$node]}, threads:" >&2
    threads "${DPID[$node]}" >&2
  fi
  echo "   $(name "$1") on $2: statistics:" >&2
  node "$MEASURE" dump-stats --sock "$3.sock" --proto "$(name "$1")" 2>&1 | sed 's/^/    | /' >&2 || true
  echo "   $(name "$1") on $2: log $3.log:" >&2
  tail -n 12 "$3.log" 2>/dev/null | sed 's/^/    | /' >&2 || true
}

flush_kernels() {
  local ns n
  for ns in "$NSA" "$NSB"; do
    ip netns exec "$ns" conntrack -F >/dev/null 2>&1 || true
    n=$(kcount "$ns")
    [[ "$n" == 0 ]] || die "kernel table of $ns not empty after flush ($n entries)"
  done
}

# ---------------------------------------------------------------------------------------------
echo "== ctsync FT-FW sync benchmark: $COUNT flows, repeat $REPEAT, pairs: $PAIRS"
echo "   $(conntrackd -v 2>&1 | head -1 | sed 's/\. Licensed.*//'); node $(node --version); kernel $(uname -r)"
echo "   $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) (wall-clock timings: a busy machine skews them)"
[[ -z "$CTSYNC_NODE_ARGS" ]] || echo "   ctsync daemons run with node flags: $CTSYNC_NODE_ARGS"
[[ "$CTSYNC_CHRT" == 0 ]] || echo "   ctsync daemons run under chrt -f 1"

host_max=$(sysctl -n net.netfilter.nf_conntrack_max 2>/dev/null || echo 0)
need=$((COUNT + COUNT / 10 + 1024))
if ((host_max < need)); then
  echo "== raising host net.netfilter.nf_conntrack_max $host_max -> $need (restored on exit)"
  ORIG_MAX=$host_max
  sysctl -qw net.netfilter.nf_conntrack_max="$need"
fi

if [[ "$SNAPSHOT" != 0 && "$CTSYNC_BIN" == "$DEFAULT_BIN" ]]; then
  [[ -f "$ROOT/build/Release/nlsock.node" ]] || die "native addon $ROOT/build/Release/nlsock.node missing (npm run build)"
  mkdir -p "$DIR/snap/build/Release"
  cp -a "$ROOT/dist" "$ROOT/package.json" "$DIR/snap/"
  cp -a "$ROOT/build/Release/nlsock.node" "$DIR/snap/build/Release/"
  ln -s "$ROOT/node_modules" "$DIR/snap/node_modules"
  CTSYNC_BIN=$DIR/snap/dist/src/cli/main.js
  echo "   ctsync snapshot: dist/ and nlsock.node of $ROOT copied to $DIR/snap (dist built $(date -r "$DEFAULT_BIN" '+%F %T'))"
fi
echo "   ctsync CLI: $CTSYNC_BIN"
node "$CTSYNC_BIN" --version >/dev/null 2>&1 || die "$CTSYNC_BIN does not run: $(node "$CTSYNC_BIN" --version 2>&1 | tail -n 3)"

JSONL=$DIR/entries.jsonl
node "$GEN" --count "$COUNT" --out "$JSONL"
[[ $(wc -l <"$JSONL") == "$COUNT" ]] || die "entry generator wrote $(wc -l <"$JSONL") lines, not $COUNT"

ip netns add "$NSA"
ip netns add "$NSB"
ip -n "$NSA" link set lo up
ip -n "$NSB" link set lo up
ip -n "$NSA" link add vsync0 type veth peer name vsync1 netns "$NSB"
ip -n "$NSA" addr add 192.0.2.1/24 dev vsync0
ip -n "$NSB" addr add 192.0.2.2/24 dev vsync1
ip -n "$NSA" link set vsync0 up
ip -n "$NSB" link set vsync1 up
ip -n "$NSA" -o link show vsync0 | grep -q "state UP" || sleep 0.5
echo "== namespaces $NSA (primary, 192.0.2.1) and $NSB (backup, 192.0.2.2), files in $DIR"

declare -A R     # "pair|metric|run" -> value (number or FAILED)
FAILURES=0

# replicate_flows: loads the flows into a's kernel and times their replication into `line`
# (called from run_pair: its sa, sb, pi, bi and line)
replicate_flows() {
  measure line replicate --primary-sock "$sa.sock" --primary-proto "$(name "$pi")" --primary-pid "${DPID[a]}" \
    --backup-sock "$sb.sock" --backup-proto "$(name "$bi")" --count "$COUNT" --interval "$POLL_MS" --timeout "$TIMEOUT" \
    --stall "$STALL" -- ip netns exec "$NSA" node "$CTSYNC_BIN" ct load -q "$JSONL"
}

# run_pair PRIMARY BACKUP RUN
run_pair() {
  local pi=$1 bi=$2 run=$3 pair="$1:$2" sa sb line n rssA0 rssB0 rssA1 rssB1
  sa="$DIR/r$run-$pi$bi-a"
  sb="$DIR/r$run-$pi$bi-b"
  conf "$sa.conf" 192.0.2.1 192.0.2.2 vsync0 "$sa"
  conf "$sb.conf" 192.0.2.2 192.0.2.1 vsync1 "$sb"
  flush_kernels
  echo "-- $(name "$pi") -> $(name "$bi"), run $run"
  if ! start "$bi" "$NSB" b "$sb" || ! start "$pi" "$NSA" a "$sa"; then
    stop_node a; stop_node b
    R[$pair|latency|$run]=FAILED; FAILURES=$((FAILURES + 1)); return 0
  fi
  sleep "$START_WAIT"
  # caches empty: the baseline of the RSS per entry (before a warm-up round too, which leaves
  # the memory of its caches allocated)
  rssA0=$(rss "${DPID[a]}"); rssB0=$(rss "${DPID[b]}")
  if [[ "$WARM" == 1 ]]; then
    # a round of the same traffic, then its deletions, not measured
    if replicate_flows &&
      local warm_latency && warm_latency=$(field latency "$line") &&
      ip netns exec "$NSA" conntrack -F >/dev/null 2>&1 &&
      measure line wait --sock "$sb.sock" --proto "$(name "$bi")" --cache external --eq 0 --timeout "$TIMEOUT"; then
      echo "   warm-up round: replicated in ${warm_latency}s, then deleted"
      sleep "$SETTLE"
    else
      echo "   warm-up round FAILED: $(field error "$line")" >&2
      stop_node a; stop_node b
      R[$pair|latency|$run]=FAILED; FAILURES=$((FAILURES + 1)); return 0
    fi
  fi
  local ca0 cb0 ca1 cb1
  ca0=$(cputicks "${DPID[a]}"); cb0=$(cputicks "${DPID[b]}")

  if replicate_flows; then
    ca1=$(cputicks "${DPID[a]}"); cb1=$(cputicks "${DPID[b]}")
    R[$pair|cpu_a|$run]=$(cpusecs "$ca0" "$ca1"); R[$pair|cpu_b|$run]=$(cpusecs "$cb0" "$cb1")
    R[$pair|latency|$run]=$(field latency "$line")
    R[$pair|primary_full|$run]=$(awk -v a="$(field primary_full "$line")" -v b="$(field kernel_first "$line")" 'BEGIN { printf "%.4f", a - b }')
    R[$pair|kernel_load|$run]=$(awk -v a="$(field kernel_full "$line")" -v b="$(field kernel_first "$line")" 'BEGIN { printf "%.4f", a - b }')
    printf '   replication: %ss (kernel full after %ss, primary internal full after %ss; loader exited %ss after spawn, first flow in at %ss)\n' \
      "${R[$pair|latency|$run]}" "${R[$pair|kernel_load|$run]}" "${R[$pair|primary_full|$run]}" "$(field loader_exit "$line")" "$(field kernel_first "$line")"
    printf '   cpu during replication: primary %ss, backup %ss\n' "${R[$pair|cpu_a|$run]}" "${R[$pair|cpu_b|$run]}"
    if measure line overruns --sock "$sa.sock"; then
      R[$pair|overruns|$run]=$(field overruns "$line")
      if [[ "${R[$pair|overruns|$run]}" != 0 ]]; then
        echo "   note: the primary overran its kernel event buffer ${R[$pair|overruns|$run]} time(s) (kernel resyncs: $(field kernel_resyncs "$line")): lost events wait for the resync with the kernel table" >&2
      fi
    fi
  else
    echo "   replication FAILED: $(field error "$line")" >&2
    echo "   last counts: kernel=$(field kernel "$line") primary internal=$(field primary "$line") backup external=$(field backup "$line")" >&2
    diag "$pi" primary "$sa"; diag "$bi" backup "$sb"
    R[$pair|latency|$run]=FAILED; FAILURES=$((FAILURES + 1))
    stop_node a; stop_node b
    return 0
  fi

  sleep "$SETTLE"
  rssA1=$(rss "${DPID[a]}"); rssB1=$(rss "${DPID[b]}")
  R[$pair|mem_ext|$run]=$(awk -v a="$rssB1" -v b="$rssB0" -v n="$COUNT" 'BEGIN { printf "%.0f", (a - b) / n }')
  R[$pair|mem_int|$run]=$(awk -v a="$rssA1" -v b="$rssA0" -v n="$COUNT" 'BEGIN { printf "%.0f", (a - b) / n }')
  R[$pair|rss_b0|$run]=$rssB0; R[$pair|rss_b1|$run]=$rssB1; R[$pair|rss_a0|$run]=$rssA0; R[$pair|rss_a1|$run]=$rssA1
  printf '   memory: backup %s -> %s MiB (%s B/entry external), primary %s -> %s MiB (%s B/entry internal)\n' \
    "$(awk -v v="$rssB0" 'BEGIN { printf "%.1f", v / 1048576 }')" "$(awk -v v="$rssB1" 'BEGIN { printf "%.1f", v / 1048576 }')" "${R[$pair|mem_ext|$run]}" \
    "$(awk -v v="$rssA0" 'BEGIN { printf "%.1f", v / 1048576 }')" "$(awk -v v="$rssA1" 'BEGIN { printf "%.1f", v / 1048576 }')" "${R[$pair|mem_int|$run]}"

  ca0=$(cputicks "${DPID[a]}"); cb0=$(cputicks "${DPID[b]}")
  if measure line resync --sock "$sb.sock" --proto "$(name "$bi")" --count "$COUNT" --interval "$POLL_MS" --timeout "$TIMEOUT"; then
    R[$pair|resync|$run]=$(field resync "$line")
    ca1=$(cputicks "${DPID[a]}"); cb1=$(cputicks "${DPID[b]}")
    R[$pair|cpu_rs_a|$run]=$(cpusecs "$ca0" "$ca1"); R[$pair|cpu_rs_b|$run]=$(cpusecs "$cb0" "$cb1")
    printf '   resync: %ss (flush took %ss, -n answered in %ss); cpu: primary %ss, backup %ss\n' "${R[$pair|resync|$run]}" "$(field flush "$line")" \
      "$(field request_ack "$line")" "${R[$pair|cpu_rs_a|$run]}" "${R[$pair|cpu_rs_b|$run]}"
  else
    echo "   resync FAILED: $(field error "$line") (external=$(field external "$line"))" >&2
    diag "$pi" primary "$sa"; diag "$bi" backup "$sb"
    R[$pair|resync|$run]=FAILED; FAILURES=$((FAILURES + 1))
  fi
  R[$pair|hwm_b|$run]=$(hwm "${DPID[b]}"); R[$pair|hwm_a|$run]=$(hwm "${DPID[a]}")
  # both daemons' own counters (sync losses, retransmissions) for whoever reads KEEP_DIR
  node "$MEASURE" dump-stats --sock "$sa.sock" --proto "$(name "$pi")" >"$sa.stats" 2>&1 || true
  node "$MEASURE" dump-stats --sock "$sb.sock" --proto "$(name "$bi")" >"$sb.stats" 2>&1 || true
  n=$(kcount "$NSB")
  [[ "$n" == 0 ]] || echo "   note: the backup's kernel table holds $n entries (nothing should commit)" >&2
  stop_node a
  stop_node b
}

for ((run = 1; run <= REPEAT; run++)); do
  for p in $PAIRS; do run_pair "${p%%:*}" "${p##*:}" "$run"; done
done

# best PAIR METRIC: lowest value over the runs ("FAILED" if every run failed, "-" if not run)
best() {
  local b="" v run any=0
  for ((run = 1; run <= REPEAT; run++)); do
    v=${R[$1|$2|$run]:-}
    [[ -n "$v" ]] || continue
    any=1
    [[ "$v" =~ ^-?[0-9.]+$ ]] || continue
    if [[ -z "$b" ]] || awk -v a="$v" -v b="$b" 'BEGIN { exit !(a < b) }'; then b=$v; fi
  done
  if [[ -n "$b" ]]; then echo "$b"; elif ((any)); then echo FAILED; else echo -; fi
}
# all PAIR METRIC: every run's value, comma-separated
all() {
  local v run out=""
  for ((run = 1; run <= REPEAT; run++)); do v=${R[$1|$2|$run]:--}; out+="${out:+,}$v"; done
  echo "$out"
}
mib() { [[ "$1" =~ ^[0-9]+$ ]] && awk -v v="$1" 'BEGIN { printf "%.1f", v / 1048576 }' || echo "$1"; }
# row METRIC UNIT CONNTRACKD CTSYNC: lower is better for every metric here
row() {
  local ratio="-" who="-"
  if [[ "$3" =~ ^-?[0-9.]+$ && "$4" =~ ^-?[0-9.]+$ ]]; then
    ratio=$(awk -v a="$3" -v b="$4" 'BEGIN { if (a > 0) printf "%.2fx", b / a; else print "-" }')
    who=$(awk -v a="$3" -v b="$4" 'BEGIN { if (a <= 0 || b <= 0) print (a == b ? "even" : (a < b ? "conntrackd" : "ctsync")); else if (b / a < 0.95) print "ctsync"; else if (b / a > 1.05) print "conntrackd"; else print "even" }')
  fi
  printf '%-44s %12s %12s %9s  %s\n' "$1 ($2)" "$3" "$4" "$ratio" "$who"
}

echo
echo "== results: $COUNT flows, best of $REPEAT, conntrackd and ctsync on the same namespaces and link$([[ "$WARM" == 1 ]] && echo ", after a warm-up round (WARM=1)")"
printf '%-44s %12s %12s %9s  %s\n' metric conntrackd ctsync ratio better
row "replication latency, X -> X" s "$(best cd:cd latency)" "$(best cs:cs latency)"
row "  primary internal cache full, X -> X" s "$(best cd:cd primary_full)" "$(best cs:cs primary_full)"
row "  kernel load by ct load (same loader)" s "$(best cd:cd kernel_load)" "$(best cs:cs kernel_load)"
printf '%-44s %12s %12s %9s  %s\n' "  primary event-buffer overruns (each run)" "$(all cd:cd overruns)" "$(all cs:cs overruns)" "" "(0 = none)"
row "CPU time, primary daemon, replication" s "$(best cd:cd cpu_a)" "$(best cs:cs cpu_a)"
row "CPU time, backup daemon, replication" s "$(best cd:cd cpu_b)" "$(best cs:cs cpu_b)"
row "backup external cache, RSS per entry" B "$(best cd:cd mem_ext)" "$(best cs:cs mem_ext)"
row "primary internal cache, RSS per entry" B "$(best cd:cd mem_int)" "$(best cs:cs mem_int)"
row "backup RSS, empty caches" MiB "$(mib "$(best cd:cd rss_b0)")" "$(mib "$(best cs:cs rss_b0)")"
row "backup RSS, $COUNT external" MiB "$(mib "$(best cd:cd rss_b1)")" "$(mib "$(best cs:cs rss_b1)")"
row "backup peak RSS (VmHWM, after resync)" MiB "$(mib "$(best cd:cd hwm_b)")" "$(mib "$(best cs:cs hwm_b)")"
row "resync (-f external, -n) on the backup" s "$(best cd:cd resync)" "$(best cs:cs resync)"
row "  CPU time, primary (bulk send), resync" s "$(best cd:cd cpu_rs_a)" "$(best cs:cs cpu_rs_a)"
row "  CPU time, backup (receive), resync" s "$(best cd:cd cpu_rs_b)" "$(best cs:cs cpu_rs_b)"
echo "ratio = ctsync / conntrackd (lower is better for every metric; below 1.00x ctsync wins; within 5%: even)"

mixed=0
for p in $PAIRS; do [[ $p == cs:cd || $p == cd:cs ]] && mixed=1; done
if ((mixed)); then
  echo
  echo "== every pair (primary -> backup), best of $REPEAT"
  printf '%-26s %8s %10s %8s %9s %9s %8s %8s %8s %8s %8s\n' "primary -> backup" latency "prim.full" resync "B/ext" "B/int" "cpu P" "cpu B" "rs cpuP" "rs cpuB" overruns
  for p in $PAIRS; do
    printf '%-26s %8s %10s %8s %9s %9s %8s %8s %8s %8s %8s\n' "$(name "${p%%:*}") -> $(name "${p##*:}")" "$(best "$p" latency)" "$(best "$p" primary_full)" \
      "$(best "$p" resync)" "$(best "$p" mem_ext)" "$(best "$p" mem_int)" "$(best "$p" cpu_a)" "$(best "$p" cpu_b)" \
      "$(best "$p" cpu_rs_a)" "$(best "$p" cpu_rs_b)" "$(all "$p" overruns)"
  done
  echo "(seconds; B/ext, B/int: RSS bytes per entry of the backup's external / primary's internal cache; cpu P/B: CPU seconds of the primary / backup daemon during replication, rs: during the resync)"
fi

if ((FAILURES > 0)); then
  echo "bench-sync: $FAILURES measurement(s) FAILED (see above)" >&2
  exit 1
fi
exit 0
