#!/usr/bin/env bash
# Memory under churn: does a sync pair's RSS level off while flows come and go, or grow? ctsync
# and stock conntrackd, same run, same namespaces, same loader.
#
#   sudo tools/bench/bench-churn.sh
#
# Environment:
#   FLOWS=10000        flows kept alive in the primary's kernel table
#   RATE=1000          flows created per second, and as many (the oldest) deleted per second
#   DURATION=600       seconds of churn per pair
#   WARMUP=120         seconds at the start of the churn left out of the slopes (caches and
#                      buffers reaching their working size, the JIT compiler, a first compaction)
#   INTERVAL=5         seconds between samples
#   PAIRS="cs:cs cd:cd"
#                      primary:backup pairs to run, one after the other (cd = conntrackd,
#                      cs = ctsync; cs:cd and cd:cs work too)
#   START_WAIT=10      seconds between the daemons answering and the load (ctsync's start-up
#                      handshake and its startup resync; see tools/bench/bench-sync.sh)
#   CSV_DIR=DIR        write every sample of every pair to DIR/churn-PRIMARY-BACKUP.csv
#   CTSYNC_BIN, CTSYNC_NODE_ARGS, CTSYNC_CHRT, SNAPSHOT, KEEP_DIR: as in tools/bench/bench-sync.sh
#
# Method: for each pair, fresh daemons (tools/bench/bench-pair.sh: namespaces joined by veth,
# 192.0.2.1 <-> 192.0.2.2, UDP 3780, FT-FW, the pair's conntrackd.conf, tools/lib/pair-config.ts,
# with `Scheduler { Type FIFO Priority 1 }`); after START_WAIT a loader in the primary's namespace
# (bench-churn.ts churn: the project's ctnetlink client, batched creates and deletes, no
# process per flow) creates FLOWS flows (198.51.100.0/24 -> 203.0.113.0/24), then every 50 ms
# creates the flows due at RATE per second and deletes as many of the oldest, so FLOWS stay
# alive and every flow lives FLOWS / RATE seconds. Every INTERVAL seconds for DURATION seconds
# (bench-churn.ts run) it samples both daemons' VmRSS (and RssAnon / RssFile / RssShmem)
# from /proc/PID/status, ctsync's JS heap (process.memoryUsage through its control socket), the
# backup's external cache count and the primary's kernel count. The slope is the least-squares
# fit of RSS (MiB) over time (minutes) through the samples after WARMUP: a daemon whose memory
# levels off has a slope near 0; a leak shows as a steady slope. Garbage freed only in rare bursts
# (a full GC every few minutes) makes a sawtooth instead: RSS climbs by tens of MiB between drops
# while the slope through a drop can come out near 0 or below; the RSS max after WARMUP and the
# median rise over one minute ("rise/min") show it.
# The backup's external cache must stay near FLOWS throughout (the churn really replicates): its
# min / mean / max after the warm-up are in the table. A loader that cannot keep up (a busy
# machine) drops what it is late by rather than bursting; "behind" counts those flows.
# Daemons are killed and namespaces deleted on exit, failure or interrupt; the host's conntrack
# table is never touched. The machine's other load moves RSS little but the loader's achieved rate
# (in the table) more.

set -euo pipefail

SCRIPT=$(readlink -f "${BASH_SOURCE[0]}")
ROOT=$(cd "$(dirname "$SCRIPT")/../.." && pwd)
HELPER=$ROOT/dist/tools/bench/bench-churn.js

FLOWS=${FLOWS:-10000}
RATE=${RATE:-1000}
DURATION=${DURATION:-600}
WARMUP=${WARMUP:-120}
INTERVAL=${INTERVAL:-5}
PAIRS=${PAIRS:-"cs:cs cd:cd"}
START_WAIT=${START_WAIT:-10}
CSV_DIR=${CSV_DIR:-}
BENCH=bench-churn
# shellcheck source=tools/bench/bench-pair.sh
. "$ROOT/tools/bench/bench-pair.sh"

for v in FLOWS RATE DURATION INTERVAL; do [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer, not '${!v}'"; done
[[ "$WARMUP" =~ ^[0-9]+$ ]] && ((WARMUP < DURATION)) || die "WARMUP must be an integer from 0 to below DURATION ($DURATION), not '$WARMUP'"
for p in $PAIRS; do [[ "$p" =~ ^(cd|cs):(cd|cs)$ ]] || die "bad pair '$p' in PAIRS (cd:cd, cs:cs, cs:cd, cd:cs)"; done
[[ -z "$CSV_DIR" ]] || mkdir -p "$CSV_DIR" || die "cannot make CSV_DIR $CSV_DIR"
pair_init "ctsync-bchurn-$$-$RANDOM"

echo "== ctsync memory under churn: $FLOWS flows alive, $RATE created and $RATE deleted per second, $DURATION s per pair (slopes after $WARMUP s), pairs: $PAIRS"
pair_banner
raise_conntrack_max $((FLOWS * 2 + RATE * 10 + 1024))
snapshot_ctsync
CLIENT=$(dirname "$(dirname "$CTSYNC_BIN")")/netlink/conntrack-client.js
[[ -f "$CLIENT" ]] || die "the ctnetlink client $CLIENT is missing next to the CLI"
pair_namespaces

declare -A R     # "pair|key" -> value
FAILURES=0

# run_pair PRIMARY BACKUP
run_pair() {
  local pi=$1 bi=$2 pair="$1:$2" sa sb line csv=()
  sa="$DIR/$pi$bi-a"
  sb="$DIR/$pi$bi-b"
  echo "-- $(name "$pi") -> $(name "$bi"): $DURATION s of churn"
  if ! start_pair "$pi" "$bi" "$sa" "$sb"; then
    R[$pair|error]="did not start"; FAILURES=$((FAILURES + 1)); return 0
  fi
  sleep "$START_WAIT"
  [[ -z "$CSV_DIR" ]] || csv=(--csv "$CSV_DIR/churn-$(name "$pi")-$(name "$bi").csv")
  if run_helper line "$HELPER" run --primary-pid "${DPID[a]}" --backup-pid "${DPID[b]}" \
    --primary-sock "$sa.sock" --backup-sock "$sb.sock" --primary-proto "$(name "$pi")" --backup-proto "$(name "$bi")" \
    --flows "$FLOWS" --duration "$DURATION" --warmup "$WARMUP" --interval "$INTERVAL" "${csv[@]}" \
    -- ip netns exec "$NSA" node "$HELPER" churn --client "$CLIENT" --flows "$FLOWS" --rate "$RATE"; then
    local k
    for k in ext_min ext_mean ext_max kernel_mean churned churn_rate churn_failed churn_behind compactions_b; do
      R[$pair|$k]=$(field "$k" "$line")
    done
    local q s
    for q in rss_a rss_b heap_a heap_b; do
      for s in 0 1 _min _max _slope _rise; do R[$pair|$q$s]=$(field "$q$s" "$line"); done
    done
    printf '   churned %s flows (%s/s achieved, %s failed, %s behind); backup external after warm-up: min %s mean %.0f max %s\n' \
      "${R[$pair|churned]}" "$(printf '%.0f' "${R[$pair|churn_rate]}")" "${R[$pair|churn_failed]}" "${R[$pair|churn_behind]}" \
      "${R[$pair|ext_min]}" "${R[$pair|ext_mean]}" "${R[$pair|ext_max]}"
  else
    R[$pair|error]=$(field error "$line")
    [[ -n "${R[$pair|error]}" ]] || R[$pair|error]="the helper failed without saying why (killed?)"
    echo "   churn FAILED: ${R[$pair|error]}" >&2
    diag "$pi" primary "$sa"; diag "$bi" backup "$sb"
    FAILURES=$((FAILURES + 1))
  fi
  node "$MEASURE" dump-stats --sock "$sa.sock" --proto "$(name "$pi")" >"$sa.stats" 2>&1 || true
  node "$MEASURE" dump-stats --sock "$sb.sock" --proto "$(name "$bi")" >"$sb.stats" 2>&1 || true
  stop_node a
  stop_node b
}

for p in $PAIRS; do run_pair "${p%%:*}" "${p##*:}"; done

num() { [[ "$1" =~ ^-?[0-9.]+$ ]] && printf "%.${2:-2}f" "$1" || echo "${1:--}"; }
echo
echo "== results: $FLOWS flows alive, churn $RATE/s, $DURATION s, slopes over the samples after $WARMUP s (MiB = 2^20 bytes)"
fmt='%-19s %-7s %6s %6s %6s %6s %9s %9s %6s %6s %9s  %s\n'
# shellcheck disable=SC2059
printf "$fmt" daemon node "RSS:" min max end "MiB/min" "rise/min" "heap:" end "MiB/min" "backup external min/mean/max"
for p in $PAIRS; do
  for node in a b; do
    if [[ -n "${R[$p|error]:-}" ]]; then
      [[ $node == a ]] && printf '%-19s %s\n' "$(name "${p%%:*}") -> $(name "${p##*:}")" "FAILED: ${R[$p|error]}"
      continue
    fi
    impl=${p%%:*}; role=primary
    [[ $node == b ]] && { impl=${p##*:}; role=backup; }
    ext="-"
    [[ $node == b ]] && ext="${R[$p|ext_min]}/$(num "${R[$p|ext_mean]}" 0)/${R[$p|ext_max]}"
    # shellcheck disable=SC2059
    printf "$fmt" "$(name "$impl") ($p)" "$role" \
      "$(mib "${R[$p|rss_${node}0]}")" "$(mib "${R[$p|rss_${node}_min]}")" "$(mib "${R[$p|rss_${node}_max]}")" "$(mib "${R[$p|rss_${node}1]}")" \
      "$(num "${R[$p|rss_${node}_slope]}")" "$(num "${R[$p|rss_${node}_rise]}")" \
      "$(mib "${R[$p|heap_${node}0]:-}")" "$(mib "${R[$p|heap_${node}1]:-}")" "$(num "${R[$p|heap_${node}_slope]:-}")" "$ext"
  done
done
echo "(MiB. RSS: at the first sample, min / max after the warm-up, at the last sample; MiB/min: least-squares"
echo " slope after the warm-up; rise/min: median rise over one minute after the warm-up, which shows growth"
echo " that a rare drop (garbage collected in one go) hides from the slope. heap: ctsync's JS heap"
echo " (process.memoryUsage().heapUsed) at the first and last sample, and its slope)"

if ((FAILURES > 0)); then
  echo "$BENCH: $FAILURES pair(s) FAILED (see above)" >&2
  exit 1
fi
exit 0
