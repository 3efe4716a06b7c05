# shellcheck shell=bash
# A pair of sync daemons for the benchmarks, sourced by tools/bench/bench-sync.sh,
# tools/bench/bench-churn.sh and tools/bench/bench-auth.sh (not run on its own).
#
# Topology: two fresh, uniquely named network namespaces ($NSA primary, $NSB backup) joined by a
# veth pair, 192.0.2.1 (primary, a) <-> 192.0.2.2 (backup, b), UDP port 3780, FT-FW. Each daemon
# (conntrackd, or ctsync from $CTSYNC_BIN) runs in the foreground in its namespace, so its pid is
# known (DPID[a], DPID[b]), with the pair's conntrackd.conf, tools/lib/pair-config.ts. Daemons are
# killed, namespaces deleted and the host's nf_conntrack_max put back on exit, failure or
# interrupt (pair_init installs the traps); the host's conntrack table is never touched.
#
# The sourcing script sets BENCH (its name, for messages) and ROOT (the checkout), then calls
# pair_init TAG, and reads: DIR (its files), NSA, NSB, DPID, and the functions below.

MEASURE=$ROOT/dist/tools/bench/bench-sync-measure.js
DEFAULT_BIN=$ROOT/dist/src/cli/ctsync.cjs
CTSYNC_BIN=${CTSYNC_BIN:-$DEFAULT_BIN}
SNAPSHOT=${SNAPSHOT:-1}
CTSYNC_NODE_ARGS=${CTSYNC_NODE_ARGS:-}
CTSYNC_CHRT=${CTSYNC_CHRT:-0}

NSA=""
NSB=""
ORIG_MAX=""
CHILD=""          # the helper while it runs (run_helper)
declare -A DPID   # node letter -> daemon pid
CONF_EXTRA=()     # extra write-pair-conf.ts arguments for both nodes (e.g. --sync LINE)
DIR=""
CLEAN_DIR=1

die() { echo "$BENCH: $*" >&2; exit 1; }

# pair_init TAG: checks the tools, makes DIR (or uses KEEP_DIR), installs the clean-up traps;
# the namespaces are named TAG-a and TAG-b (made by pair_namespaces).
pair_init() {
  [[ $(id -u) == 0 ]] || die "must run as root (network namespaces, ctnetlink)"
  local tool
  for tool in ip conntrack conntrackd node awk; do command -v "$tool" >/dev/null || die "$tool not found"; done
  [[ "$CTSYNC_CHRT" == 0 ]] || command -v chrt >/dev/null || die "CTSYNC_CHRT=1 needs chrt"
  [[ -f "$CTSYNC_BIN" ]] || die "ctsync CLI not found at $CTSYNC_BIN (build first: npm run build)"
  NSA="$1-a"
  NSB="$1-b"
  if [[ -n "${KEEP_DIR:-}" ]]; then
    DIR=$KEEP_DIR
    mkdir -p "$DIR"
    CLEAN_DIR=0
  else
    DIR=$(mktemp -d "/tmp/$1.XXXXXX")
    CLEAN_DIR=1
  fi
  trap pair_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

alive() { [[ -n "$1" ]] && kill -0 "$1" 2>/dev/null && [[ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]]; }

# stop_pid PID: SIGTERM, up to 5 s, then SIGKILL; reaps it.
stop_pid() {
  local pid=$1 i
  alive "$pid" || { wait "$pid" 2>/dev/null || true; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do alive "$pid" || break; sleep 0.1; done
  if alive "$pid"; then
    echo "$BENCH: pid $pid ignored SIGTERM, killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

pair_cleanup() {
  local rc=$? ns pid
  trap - EXIT INT TERM
  if [[ -n "$CHILD" ]]; then kill -TERM "$CHILD" 2>/dev/null || true; wait "$CHILD" 2>/dev/null || true; fi
  for pid in "${DPID[@]}"; do stop_pid "$pid"; done
  for ns in "$NSA" "$NSB"; do
    [[ -n "$ns" ]] || continue
    if ip netns list 2>/dev/null | awk '{print $1}' | grep -qxF -- "$ns"; then
      # anything still running in our namespaces (a loader, a daemon that forked) is ours
      for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
      ip netns del "$ns" || echo "$BENCH: could not delete namespace $ns" >&2
    fi
  done
  if [[ -n "$ORIG_MAX" ]]; then sysctl -qw net.netfilter.nf_conntrack_max="$ORIG_MAX" || true; fi
  if [[ -n "$DIR" ]]; then
    if ((CLEAN_DIR)); then rm -rf -- "$DIR"; else echo "$BENCH: files kept in $DIR"; fi
  fi
  exit "$rc"
}

# run_helper OUTVAR SCRIPT ARGS...: runs a node helper in the background (so a signal to the
# script is handled at once); its stdout goes to OUTVAR, its stderr (indented) to ours; returns
# its exit status.
run_helper() {
  local __var=$1 rc=0; shift
  node "$@" >"$DIR/helper.out" 2>"$DIR/helper.err" </dev/null &
  CHILD=$!
  wait "$CHILD" || rc=$?
  CHILD=""
  printf -v "$__var" '%s' "$(cat "$DIR/helper.out")"
  if [[ -s "$DIR/helper.err" ]]; then sed 's/^/    helper: /' "$DIR/helper.err" >&2; fi
  return "$rc"
}
# field KEY LINE: a value from a key=value line ("" if absent)
field() { sed -n "s/^\(.* \)\{0,1\}$1=\(\"[^\"]*\"\|[^ ]*\).*/\2/p" <<<"$2" | tr -d '"'; }

name() { [[ $1 == cd ]] && echo conntrackd || echo ctsync; }
CLK_TCK=$(getconf CLK_TCK)
rss() { awk '/^VmRSS:/ {print $2 * 1024}' "/proc/$1/status"; }
kcount() { ip netns exec "$1" conntrack -C; }
mib() { [[ "$1" =~ ^[0-9]+$ ]] && awk -v v="$1" 'BEGIN { printf "%.1f", v / 1048576 }' || echo "${1:--}"; }

# raise_conntrack_max ENTRIES: raises the host's limit (shared by every namespace) when it is
# below ENTRIES; put back on exit.
raise_conntrack_max() {
  local host_max
  host_max=$(sysctl -n net.netfilter.nf_conntrack_max 2>/dev/null || echo 0)
  if ((host_max < $1)); then
    echo "== raising host net.netfilter.nf_conntrack_max $host_max -> $1 (restored on exit)"
    ORIG_MAX=$host_max
    sysctl -qw net.netfilter.nf_conntrack_max="$1"
  fi
}

# snapshot_ctsync: with SNAPSHOT=1 (and the default CLI) ctsync runs from a private copy of
# dist/ and build/Release/ made now, so a rebuild of the checkout meanwhile cannot change or break
# the daemons half way.
snapshot_ctsync() {
  if [[ "$SNAPSHOT" != 0 && "$CTSYNC_BIN" == "$DEFAULT_BIN" ]]; then
    [[ -f "$ROOT/build/Release/nlsock.node" ]] || die "native addon $ROOT/build/Release/nlsock.node missing (npm run build)"
    mkdir -p "$DIR/snap/build/Release"
    cp -a "$ROOT/dist" "$ROOT/package.json" "$DIR/snap/"
    cp -a "$ROOT/build/Release/nlsock.node" "$DIR/snap/build/Release/"
    ln -s "$ROOT/node_modules" "$DIR/snap/node_modules"
    CTSYNC_BIN=$DIR/snap/dist/src/cli/ctsync.cjs
    echo "   ctsync snapshot: dist/ and nlsock.node of $ROOT copied to $DIR/snap (dist built $(date -r "$DEFAULT_BIN" '+%F %T'))"
  fi
  echo "   ctsync CLI: $CTSYNC_BIN"
  node "$CTSYNC_BIN" --version >/dev/null 2>&1 || die "$CTSYNC_BIN does not run: $(node "$CTSYNC_BIN" --version 2>&1 | tail -n 3)"
}

# pair_namespaces: the two namespaces and their veth link
pair_namespaces() {
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
}

# conf FILE ADDR PEER IFNAME STEM: the pair's conntrackd.conf both daemons read (tools/lib/pair-config.ts).
conf() {
  node "$ROOT/dist/tools/bench/write-pair-conf.js" --addr "$2" --peer "$3" --if "$4" --stem "$5" "${CONF_EXTRA[@]}" >"$1"
}

# start_pair PRIMARY BACKUP STEM_A STEM_B: writes both nodes' configurations, empties both
# kernel tables, starts the backup (b), then the primary (a); fails with both stopped.
start_pair() {
  conf "$3.conf" 192.0.2.1 192.0.2.2 vsync0 "$3"
  conf "$4.conf" 192.0.2.2 192.0.2.1 vsync1 "$4"
  flush_kernels
  if ! start "$2" "$NSB" b "$4" || ! start "$1" "$NSA" a "$3"; then
    stop_node a; stop_node b
    return 1
  fi
}

# start IMPL NS NODE STEM: starts a daemon in the foreground (in the background of this script),
# records its pid in DPID[NODE], waits until it answers on its socket.
start() {
  local impl=$1 ns=$2 node=$3 stem=$4 pid i
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
      echo "$BENCH: $(name "$impl") on $node exited during start-up:" >&2
      tail -n 20 "$stem.out" "$stem.log" 2>/dev/null | sed 's/^/    | /' >&2
      return 1
    fi
    if [[ -S "$stem.sock" ]] && node "$MEASURE" stats --sock "$stem.sock" --proto "$(name "$impl")" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  echo "$BENCH: $(name "$impl") on $node does not answer on $stem.sock after 15 s" >&2
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

# pair_banner: versions and load of the machine
pair_banner() {
  echo "   $(conntrackd -v 2>&1 | head -1 | sed 's/\. Licensed.*//'); node $(node --version); kernel $(uname -r)"
  echo "   $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
  [[ -z "$CTSYNC_NODE_ARGS" ]] || echo "   ctsync daemons run with node flags: $CTSYNC_NODE_ARGS"
  [[ "$CTSYNC_CHRT" == 0 ]] || echo "   ctsync daemons run under chrt -f 1"
}
