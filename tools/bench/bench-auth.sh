#!/usr/bin/env bash
# Cost of sync authentication and encryption (docs/ftfw-protocol.md §13): ctsync -> ctsync,
# replication of COUNT flows from the primary's kernel into the backup's external cache, with
# authentication off, on (signed, `Mode enforce`) and with encryption (`Encrypt on`), in
# alternating runs of one invocation.
#
#   sudo tools/bench/bench-auth.sh [COUNT]        (COUNT defaults to $COUNT or 100000)
#
# Environment:
#   COUNT=100000       flows per run (the first argument wins)
#   ROUNDS=3           rounds; each round runs every variant once, the order rotating by one per
#                      round (off auth enc, auth enc off, enc off auth, ...), so a drift of the
#                      machine's speed does not always fall on the same variant
#   VARIANTS="off auth enc"
#   POLL_MS=20 TIMEOUT=120 STALL=45 START_WAIT=10   as in bench-sync.sh
#   CTSYNC_BIN, CTSYNC_NODE_ARGS, SNAPSHOT, KEEP_DIR  as in bench-sync.sh (tools/bench/bench-pair.sh)
#
# Topology and loader: those of bench-sync.sh (tools/bench/bench-pair.sh, flows from
# tools/bench/bench-sync-gen.ts loaded with `ctsync ct load`, 198.51.100.0/24 -> 203.0.113.0/24),
# fresh daemons for every run, both nodes with the same key file (`ctsync key generate`).
#
# Measured per run:
#   latency   from the first flow in the primary's kernel until the backup's external cache holds
#             COUNT entries (bench-sync-measure.ts replicate, as in bench-sync.sh)
#   cpu       user + system time of both daemons (all threads, /proc/PID/stat) during that
#   datagrams sync datagrams both daemons sent meanwhile (data one way, ACKs the other): each is
#             signed or sealed once and checked or opened once, so the cost of authentication
#             goes with this count, not with the flows
#   load      the 1-minute load average when the run starts (other people share the machine)
# Reported: per variant the median and range of each, and the median over rounds of the ratio
# to `off` of the same round.

set -euo pipefail

SCRIPT=$(readlink -f "${BASH_SOURCE[0]}")
ROOT=$(cd "$(dirname "$SCRIPT")/../.." && pwd)
GEN=$ROOT/dist/tools/bench/bench-sync-gen.js

COUNT=${1:-${COUNT:-100000}}
ROUNDS=${ROUNDS:-3}
VARIANTS=${VARIANTS:-"off auth enc"}
POLL_MS=${POLL_MS:-20}
TIMEOUT=${TIMEOUT:-120}
STALL=${STALL:-45}
START_WAIT=${START_WAIT:-10}
BENCH=bench-auth
# shellcheck source=tools/bench/bench-pair.sh
. "$ROOT/tools/bench/bench-pair.sh"

[[ "$COUNT" =~ ^[1-9][0-9]*$ ]] || { echo "usage: $0 [COUNT]" >&2; exit 2; }
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer"
for v in $VARIANTS; do [[ "$v" =~ ^(off|auth|enc)$ ]] || die "bad variant '$v' in VARIANTS (off, auth, enc)"; done
pair_init "ctsync-bauth-$$-$RANDOM"

measure() { run_helper "$1" "$MEASURE" "${@:2}"; }
cputicks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# sent SOCK: datagrams the daemon has sent on its sync channel since it started
sent() {
  node "$MEASURE" dump-stats --sock "$1" --proto ctsync |
    node -e 'let t = ""; process.stdin.on("data", (d) => (t += d)).on("end", () => console.log(JSON.parse(t).channel.packetsSent))'
}

echo "== ctsync sync authentication benchmark: $COUNT flows, $ROUNDS rounds, variants: $VARIANTS"
pair_banner
raise_conntrack_max $((COUNT + COUNT / 10 + 1024))
snapshot_ctsync

JSONL=$DIR/entries.jsonl
node "$GEN" --count "$COUNT" --out "$JSONL"
KEY=$DIR/sync-1.key
node "$CTSYNC_BIN" key generate "$KEY" >/dev/null
pair_namespaces

# variant_conf VARIANT: CONF_EXTRA for the variant's Authentication block (none for off)
variant_conf() {
  CONF_EXTRA=()
  [[ $1 == off ]] && return 0
  local encrypt=off
  [[ $1 == enc ]] && encrypt=on
  local line
  for line in "Authentication {" "	Mode enforce" "	Key 1 $KEY" "	Encrypt $encrypt" "}"; do
    CONF_EXTRA+=(--sync "$line")
  done
}

declare -A R   # "variant|metric|round" -> value
FAILURES=0

# run_variant VARIANT ROUND
run_variant() {
  local v=$1 round=$2 sa="$DIR/r$2-$1-a" sb="$DIR/r$2-$1-b" line ca0 cb0 ca1 cb1 da0 db0
  variant_conf "$v"
  R[$v|load|$round]=$(cut -d' ' -f1 /proc/loadavg)
  if ! start_pair cs cs "$sa" "$sb"; then
    R[$v|latency|$round]=FAILED; FAILURES=$((FAILURES + 1)); return 0
  fi
  sleep "$START_WAIT"
  da0=$(sent "$sa.sock"); db0=$(sent "$sb.sock")
  ca0=$(cputicks "${DPID[a]}"); cb0=$(cputicks "${DPID[b]}")
  if measure line replicate --primary-sock "$sa.sock" --primary-proto ctsync --primary-pid "${DPID[a]}" \
    --backup-sock "$sb.sock" --backup-proto ctsync --count "$COUNT" --interval "$POLL_MS" --timeout "$TIMEOUT" \
    --stall "$STALL" -- ip netns exec "$NSA" node "$CTSYNC_BIN" ct load -q "$JSONL"; then
    ca1=$(cputicks "${DPID[a]}"); cb1=$(cputicks "${DPID[b]}")
    R[$v|latency|$round]=$(field latency "$line")
    R[$v|cpu|$round]=$(awk -v a=$((ca1 - ca0)) -v b=$((cb1 - cb0)) -v h="$CLK_TCK" 'BEGIN { printf "%.2f", (a + b) / h }')
    R[$v|cpu_a|$round]=$(awk -v a=$((ca1 - ca0)) -v h="$CLK_TCK" 'BEGIN { printf "%.2f", a / h }')
    R[$v|cpu_b|$round]=$(awk -v b=$((cb1 - cb0)) -v h="$CLK_TCK" 'BEGIN { printf "%.2f", b / h }')
    # the polls' requests and the stats requests are not sync datagrams: these are the link's
    R[$v|dgrams|$round]=$(($(sent "$sa.sock") - da0 + $(sent "$sb.sock") - db0))
    printf -- '-- round %s, %-4s: replication %ss, cpu %ss (primary %s, backup %s), %s datagrams, load %s\n' "$round" "$v" \
      "${R[$v|latency|$round]}" "${R[$v|cpu|$round]}" "${R[$v|cpu_a|$round]}" "${R[$v|cpu_b|$round]}" "${R[$v|dgrams|$round]}" "${R[$v|load|$round]}"
  else
    echo "-- round $round, $v: replication FAILED: $(field error "$line")" >&2
    diag cs primary "$sa"; diag cs backup "$sb"
    R[$v|latency|$round]=FAILED; FAILURES=$((FAILURES + 1))
  fi
  stop_node a
  stop_node b
}

read -r -a ORDER <<<"$VARIANTS"
for ((round = 1; round <= ROUNDS; round++)); do
  n=${#ORDER[@]}
  for ((i = 0; i < n; i++)); do run_variant "${ORDER[$(((i + round - 1) % n))]}" "$round"; done
done

# values VARIANT METRIC: the rounds' numeric values, one a line
values() {
  local round v
  for ((round = 1; round <= ROUNDS; round++)); do
    v=${R[$1|$2|$round]:-}
    [[ "$v" =~ ^[0-9.]+$ ]] && echo "$v"
  done
  return 0
}
# ratios VARIANT METRIC: per round, VARIANT / off
ratios() {
  local round v o
  for ((round = 1; round <= ROUNDS; round++)); do
    v=${R[$1|$2|$round]:-}; o=${R[off|$2|$round]:-}
    [[ "$v" =~ ^[0-9.]+$ && "$o" =~ ^[0-9.]+$ ]] && awk -v a="$v" -v b="$o" 'BEGIN { if (b > 0) printf "%.3f\n", a / b }'
  done
  return 0
}
# summary [DIGITS]: "median (min-max)" of stdin, with DIGITS decimals (default 2)
summary() {
  sort -g | awk -v d="${1:-2}" '{ v[NR] = $1 } END {
    if (NR == 0) { print "-"; exit }
    m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    f = "%." d "f"; printf f " (" f "-" f ")", m, v[1], v[NR] }'
}

echo
echo "== results: $COUNT flows, $ROUNDS rounds; median (min-max) over the rounds; ratio: median of VARIANT / off of the same round"
printf '%-6s %-22s %-22s %-22s %-22s %-26s %-20s\n' variant "replication (s)" "CPU both daemons (s)" "time / off" "CPU / off" "datagrams" "load avg (1 min)"
for v in $VARIANTS; do
  printf '%-6s %-22s %-22s %-22s %-22s %-26s %-20s\n' "$v" "$(values "$v" latency | summary)" "$(values "$v" cpu | summary)" \
    "$(ratios "$v" latency | summary)" "$(ratios "$v" cpu | summary)" "$(values "$v" dgrams | summary 0)" "$(values "$v" load | summary)"
done
echo "(off: no Authentication; auth: Mode enforce, signed; enc: Mode enforce, Encrypt on)"

if ((FAILURES > 0)); then
  echo "bench-auth: $FAILURES measurement(s) FAILED (see above)" >&2
  exit 1
fi
exit 0
