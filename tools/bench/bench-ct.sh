#!/usr/bin/env bash
# Engine benchmark: ctsync's ctnetlink engine against the stock conntrack(8) tool, same run,
# same table, same machine.
#
#   sudo tools/bench/bench-ct.sh [COUNT]          (COUNT defaults to 100000)
#
# Environment:
#   REPEAT=3         runs of each measurement; the best (fastest) one is reported
#   CTSYNC_BIN=...   the CLI to measure (default: dist/src/cli/ctsync.cjs of this checkout)
#   IPV6_PCT=10      share of TCP/UDP entries that are IPv6
#   KEEP_DIR=DIR     keep the generated files in DIR instead of a temporary directory
#
# Everything happens in a fresh, uniquely named network namespace (ctsync-bench-PID-RANDOM),
# deleted on exit, failure or interrupt; the host's conntrack table is never touched. No packet is
# sent anywhere: entries are created through ctnetlink only, with documentation-range addresses.
#
# Measured:
#   load        conntrack -R FILE            vs  ctsync ct load FILE.jsonl   (empty table first)
#   dump-ext    conntrack -L -o extended     vs  ctsync ct list --json       (full table, > /dev/null)
#   dump-text   conntrack -L                 vs  ctsync ct list              (full table, > /dev/null)
# Times are wall clock for the whole command, process start-up included for both tools.
# If a ctsync command fails (the CLI is missing or incomplete), its error is printed and the
# stock-tool measurements go on.
#
# Kernel notes (kernel 6.x): in a non-initial network namespace net.netfilter.nf_conntrack_max
# and nf_conntrack_buckets are read-only: the limit and the hash size are the host's. If the host
# limit is too small for COUNT, this script raises it on the host and puts it back on exit.

set -euo pipefail

SCRIPT=$(readlink -f "${BASH_SOURCE[0]}")
ROOT=$(cd "$(dirname "$SCRIPT")/../.." && pwd)

# ---------------------------------------------------------------------------------------------
# Inner part: runs inside the namespace (re-executed by the outer part through ip netns exec).
# ---------------------------------------------------------------------------------------------
if [[ "${1:-}" == "--inner" ]]; then
  : "${BENCH_COUNT:?}" "${BENCH_DIR:?}" "${BENCH_HOST_NETNS:?}" "${BENCH_REPEAT:?}" "${BENCH_CTSYNC:?}"
  COUNT=$BENCH_COUNT
  DIR=$BENCH_DIR
  REPEAT=$BENCH_REPEAT
  BIN=$BENCH_CTSYNC
  CTFILE=$DIR/entries.conntrack
  JSONL=$DIR/entries.jsonl

  # Never flush or load the host's table.
  if [[ "$(readlink /proc/self/ns/net)" == "$BENCH_HOST_NETNS" ]]; then
    echo "bench-ct: refusing to run: not inside the benchmark namespace" >&2
    exit 1
  fi

  now() { date +%s%N; }
  # secs START END -> seconds with 3 decimals
  secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b - a) / 1e9 }'; }
  count() { conntrack -C; }
  flush() {
    conntrack -F >/dev/null 2>&1 || true
    local n
    n=$(count)
    if [[ "$n" != 0 ]]; then echo "bench-ct: table not empty after flush ($n entries)" >&2; exit 1; fi
  }

  RESULTS=()   # "op|tool|seconds" (seconds = FAILED when the command failed)
  record() { RESULTS+=("$1|$2|$3"); }

  # best OP TOOL -- CMD...: runs CMD REPEAT times (stdout to /dev/null), records the fastest.
  # For the stock tool a failure aborts the benchmark; for ctsync it is reported and skipped.
  best() {
    local op=$1 tool=$2; shift 3
    local best="" t0 t1 s i err=$DIR/err.txt
    for ((i = 1; i <= REPEAT; i++)); do
      t0=$(now)
      if ! "$@" >/dev/null 2>"$err"; then
        echo "  $tool ($op) FAILED: $*" >&2
        sed -n '1,20p' "$err" | sed 's/^/    | /' >&2
        if [[ "$tool" == conntrack* ]]; then exit 1; fi
        record "$op" "$tool" FAILED
        return 0
      fi
      t1=$(now)
      s=$(secs "$t0" "$t1")
      echo "  $tool ($op) run $i: ${s}s"
      if [[ -z "$best" ]] || awk -v a="$s" -v b="$best" 'BEGIN { exit !(a < b) }'; then best=$s; fi
    done
    record "$op" "$tool" "$best"
  }

  # load TOOL -- CMD...: empty table, timed load, verify the count. Best of REPEAT.
  load() {
    local tool=$1; shift 2
    local best="" t0 t1 s i n err=$DIR/err.txt
    for ((i = 1; i <= REPEAT; i++)); do
      flush
      t0=$(now)
      if ! "$@" >/dev/null 2>"$err"; then
        echo "  $tool (load) FAILED: $*" >&2
        sed -n '1,20p' "$err" | sed 's/^/    | /' >&2
        if [[ "$tool" == conntrack* ]]; then exit 1; fi
        record load "$tool" FAILED
        return 0
      fi
      t1=$(now)
      s=$(secs "$t0" "$t1")
      n=$(count)
      echo "  $tool (load) run $i: ${s}s, table now holds $n entries"
      if [[ "$n" != "$COUNT" ]]; then
        echo "  $tool (load): expected $COUNT entries, found $n" >&2
        if [[ "$tool" == conntrack* ]]; then exit 1; fi
        record load "$tool" "WRONG($n)"
        return 0
      fi
      if [[ -z "$best" ]] || awk -v a="$s" -v b="$best" 'BEGIN { exit !(a < b) }'; then best=$s; fi
    done
    record load "$tool" "$best"
  }

  echo "== namespace: nf_conntrack_max=$(sysctl -n net.netfilter.nf_conntrack_max)" \
    "buckets=$(sysctl -n net.netfilter.nf_conntrack_buckets)" \
    "events=$(sysctl -n net.netfilter.nf_conntrack_events) entries=$COUNT repeat=$REPEAT"

  HAVE_CTSYNC=1
  if [[ ! -f "$BIN" ]]; then
    echo "== ctsync CLI not found at $BIN (not built yet?): only the stock tool is measured" >&2
    HAVE_CTSYNC=0
  fi

  echo "== load"
  load conntrack -- conntrack -R "$CTFILE"
  if ((HAVE_CTSYNC)); then
    load ctsync -- node "$BIN" ct load "$JSONL"
  else
    record load ctsync n/a
  fi

  # The dumps need the full table, whatever ctsync's load did.
  if [[ "$(count)" != "$COUNT" ]]; then
    flush
    conntrack -R "$CTFILE"
  fi
  n=$(count)
  if [[ "$n" != "$COUNT" ]]; then echo "bench-ct: could not fill the table ($n entries)" >&2; exit 1; fi

  # Sanity: both listings see the whole table (untimed).
  lines=$(conntrack -L -o extended 2>/dev/null | wc -l)
  echo "== conntrack -L -o extended prints $lines lines for $n entries"
  if [[ "$lines" != "$n" ]]; then echo "bench-ct: conntrack -L saw $lines of $n" >&2; exit 1; fi
  if ((HAVE_CTSYNC)); then
    if lines=$(node "$BIN" ct list --json 2>"$DIR/err.txt" | wc -l); then
      echo "== ctsync ct list --json prints $lines lines for $n entries"
    else
      echo "== ctsync ct list --json failed:" >&2
      sed -n '1,20p' "$DIR/err.txt" | sed 's/^/    | /' >&2
    fi
  fi

  echo "== dump (best of $REPEAT)"
  best dump-ext conntrack -- conntrack -L -o extended
  if ((HAVE_CTSYNC)); then best dump-ext ctsync -- node "$BIN" ct list --json; else record dump-ext ctsync n/a; fi
  best dump-text conntrack -- conntrack -L
  if ((HAVE_CTSYNC)); then best dump-text ctsync -- node "$BIN" ct list; else record dump-text ctsync n/a; fi

  # Final table.
  echo
  echo "== results: $COUNT entries (mixed tcp/udp/icmp, ipv4/ipv6), best of $REPEAT, wall clock"
  printf '%-10s %-38s %9s %12s %8s\n' operation tool seconds entries/s ratio
  declare -A SEC
  for r in "${RESULTS[@]}"; do
    IFS='|' read -r op tool s <<<"$r"
    SEC[$op/$tool]=$s
  done
  rate() { awk -v n="$COUNT" -v s="$1" 'BEGIN { if (s + 0 > 0) printf "%.0f", n / s; else print "-" }'; }
  for op in load dump-ext dump-text; do
    case $op in
      load) ct="conntrack -R"; cs="ctsync ct load (jsonl)" ;;
      dump-ext) ct="conntrack -L -o extended"; cs="ctsync ct list --json" ;;
      dump-text) ct="conntrack -L"; cs="ctsync ct list" ;;
    esac
    s1=${SEC[$op/conntrack]:-FAILED}
    s2=${SEC[$op/ctsync]:-FAILED}
    printf '%-10s %-38s %9s %12s %8s\n' "$op" "$ct" "$s1" "$(rate "$s1")" ""
    if [[ "$s2" =~ ^[0-9.]+$ ]]; then
      ratio=$(awk -v a="$s1" -v b="$s2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }')
      printf '%-10s %-38s %9s %12s %8s\n' "" "$cs" "$s2" "$(rate "$s2")" "$ratio"
    else
      printf '%-10s %-38s %9s %12s %8s\n' "" "$cs" "$s2" "-" "-"
    fi
  done
  echo "ratio = ctsync entries/s / conntrack entries/s (above 1.00x: ctsync is faster)"
  exit 0
fi

# ---------------------------------------------------------------------------------------------
# Outer part: checks, files, namespace, cleanup.
# ---------------------------------------------------------------------------------------------
COUNT=${1:-100000}
REPEAT=${REPEAT:-3}
CTSYNC_BIN=${CTSYNC_BIN:-$ROOT/dist/src/cli/ctsync.cjs}
IPV6_PCT=${IPV6_PCT:-10}

if [[ ! "$COUNT" =~ ^[1-9][0-9]*$ ]]; then echo "usage: $0 [COUNT]" >&2; exit 2; fi
if [[ ! "$REPEAT" =~ ^[1-9][0-9]*$ ]]; then echo "bench-ct: REPEAT must be a positive integer" >&2; exit 2; fi
if [[ $(id -u) != 0 ]]; then echo "bench-ct: must run as root (network namespaces, ctnetlink)" >&2; exit 1; fi
for tool in ip conntrack node awk; do
  command -v "$tool" >/dev/null || { echo "bench-ct: $tool not found" >&2; exit 1; }
done

NS="ctsync-bench-$$-$RANDOM"
ORIG_MAX=""
INNER=""
if [[ -n "${KEEP_DIR:-}" ]]; then
  DIR=$KEEP_DIR
  mkdir -p "$DIR"
  CLEAN_DIR=0
else
  DIR=$(mktemp -d /tmp/ctsync-bench.XXXXXX)
  CLEAN_DIR=1
fi

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ -n "$INNER" ]]; then
    kill -TERM "$INNER" 2>/dev/null || true
    wait "$INNER" 2>/dev/null || true
  fi
  if ip netns list 2>/dev/null | grep -qw -- "$NS"; then
    ip netns del "$NS" || echo "bench-ct: could not delete namespace $NS" >&2
  fi
  if [[ -n "$ORIG_MAX" ]]; then
    sysctl -qw net.netfilter.nf_conntrack_max="$ORIG_MAX" || true
  fi
  if ((CLEAN_DIR)); then rm -rf -- "$DIR"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "== ctsync engine benchmark: $COUNT entries, namespace $NS"
echo "   $(conntrack --version 2>&1 | head -1); kernel $(uname -r); node $(node --version)"
echo "   $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) (timings are wall clock: a busy machine skews them)"

# The limit is global (read-only in a child namespace): make room on the host if needed.
host_max=$(sysctl -n net.netfilter.nf_conntrack_max 2>/dev/null || echo 0)
need=$((COUNT + COUNT / 10 + 1024))
if ((host_max < need)); then
  echo "== raising host net.netfilter.nf_conntrack_max $host_max -> $need (restored on exit)"
  ORIG_MAX=$host_max
  sysctl -qw net.netfilter.nf_conntrack_max="$need"
fi

echo "== generating entries"
t0=$(date +%s%N)
node "$ROOT/dist/tools/bench/gen-entries.js" --count "$COUNT" --out "$DIR/entries" --ipv6-pct "$IPV6_PCT"
t1=$(date +%s%N)
echo "   $(wc -l <"$DIR/entries.conntrack") conntrack -R lines, $(wc -l <"$DIR/entries.jsonl") JSON lines in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')s"

ip netns add "$NS"
ip netns exec "$NS" ip link set lo up

# In the background and waited for, so that a signal to this script is handled at once.
BENCH_COUNT=$COUNT BENCH_DIR=$DIR BENCH_REPEAT=$REPEAT BENCH_CTSYNC=$CTSYNC_BIN \
  BENCH_HOST_NETNS=$(readlink /proc/self/ns/net) \
  ip netns exec "$NS" bash "$SCRIPT" --inner </dev/null &
INNER=$!
rc=0
wait "$INNER" || rc=$?
INNER=""
exit "$rc"
