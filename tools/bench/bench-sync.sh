#!/usr/bin/env bash
# FT-FW sync benchmark: stock conntrackd against ctsync, same run, same namespaces, same loader.
#
#   sudo tools/bench/bench-sync.sh [COUNT]        (COUNT defaults to $COUNT or 100000)
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
#   CTSYNC_BIN=...     the CLI (default: dist/src/cli/ctsync.cjs of this checkout)
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
# Topology (tools/bench/bench-pair.sh): two fresh, uniquely named network namespaces
# (ctsync-bsync-PID-RANDOM-a / -b) joined by a veth pair, 192.0.2.1 (primary, a) <-> 192.0.2.2
# (backup, b), UDP port 3780, FT-FW. Each daemon runs in the foreground (so its pid is known) with
# the same conntrackd.conf (the pair's, tools/lib/pair-config.ts). Flows are created in a's
# kernel with `ctsync ct load` for every pair, so only the sync daemons differ. Entries use 198.51.100.0/24 -> 203.0.113.0/24 only.
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
ROOT=$(cd "$(dirname "$SCRIPT")/../.." && pwd)
GEN=$ROOT/dist/tools/bench/bench-sync-gen.js

COUNT=${1:-${COUNT:-100000}}
REPEAT=${REPEAT:-1}
PAIRS=${PAIRS:-"cd:cd cs:cs cs:cd cd:cs"}
POLL_MS=${POLL_MS:-20}
TIMEOUT=${TIMEOUT:-120}
STALL=${STALL:-45}
START_WAIT=${START_WAIT:-10}
WARM=${WARM:-0}
SETTLE=${SETTLE:-2}
BENCH=bench-sync
# shellcheck source=tools/bench/bench-pair.sh
. "$ROOT/tools/bench/bench-pair.sh"

[[ "$COUNT" =~ ^[1-9][0-9]*$ ]] || { echo "usage: $0 [COUNT]" >&2; exit 2; }
[[ "$REPEAT" =~ ^[1-9][0-9]*$ ]] || die "REPEAT must be a positive integer"
[[ "$POLL_MS" =~ ^[1-9][0-9]*$ ]] || die "POLL_MS must be a positive integer"
for p in $PAIRS; do [[ "$p" =~ ^(cd|cs):(cd|cs)$ ]] || die "bad pair '$p' in PAIRS (cd:cd, cs:cs, cs:cd, cd:cs)"; done
pair_init "ctsync-bsync-$$-$RANDOM"

# measure OUTVAR SUBCOMMAND ARGS...: bench-sync-measure.ts in the background (run_helper)
measure() { run_helper "$1" "$MEASURE" "${@:2}"; }

cputicks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
cpusecs() { awk -v a="$1" -v b="$2" -v h="$CLK_TCK" 'BEGIN { printf "%.2f", (b - a) / h }'; }
hwm() { awk '/^VmHWM:/ {print $2 * 1024}' "/proc/$1/status"; }

# ---------------------------------------------------------------------------------------------
echo "== ctsync FT-FW sync benchmark: $COUNT flows, repeat $REPEAT, pairs: $PAIRS"
pair_banner
echo "   (wall-clock timings: a busy machine skews them)"
raise_conntrack_max $((COUNT + COUNT / 10 + 1024))

snapshot_ctsync

JSONL=$DIR/entries.jsonl
node "$GEN" --count "$COUNT" --out "$JSONL"
[[ $(wc -l <"$JSONL") == "$COUNT" ]] || die "entry generator wrote $(wc -l <"$JSONL") lines, not $COUNT"

pair_namespaces

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
  echo "-- $(name "$pi") -> $(name "$bi"), run $run"
  if ! start_pair "$pi" "$bi" "$sa" "$sb"; then
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
