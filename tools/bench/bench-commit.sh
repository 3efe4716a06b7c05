#!/usr/bin/env bash
# Commit benchmark: how long `-c` (external cache -> kernel table) takes on a backup holding N
# replicated flows, stock conntrackd vs ctsync, measured in the same run on the same namespaces.
#   tools/bench/bench-commit.sh [N ...]        default: 100000 1000000
#   BENCH_VERBOSE=1: ctsync logs at verbose level, and its commit phases are printed.
#   BENCH_IMPLS=ctsync: run only that daemon (no ratio is printed then).
#   BENCH_LATE_BACKUP=1: the backup starts only once the primary holds the flows; its external
#   cache fills from the primary's answer to its start-up resync, and the commit follows as soon
#   as it is full: a failover right after the backup came up (ctsync's commit workers start at
#   the first entry the cache takes, and are still warming up if the fill is quicker than that).
#   A size given more than once is measured that many times, each daemon going first in turn,
#   and the median of its speedups is printed: e.g. tools/bench/bench-commit.sh 100000 100000 100000
# The backup's kernel table is empty before each commit; the primary loads the flows with
# `ctsync ct load` and both daemons replicate them. Namespaces and daemons are removed on exit.
#
# Equal footing for both daemons:
# - Conntrack hash size. The hash table is one for the whole host (every namespace's entries are
#   in it: here the primary's N and the backup's N), sized by nf_conntrack's hashsize parameter
#   (default: RAM-based, 262144 here); a netns can only read it. With 2N entries in it the
#   kernel walks long chains for every create (twice: the lookup, then the insert check), and a
#   1M commit takes ~10 s whoever sends it. The bench raises hashsize to at least 2N (a power of
#   two) for the run, as an operator of a table that big should (conntrackd's docs say the same),
#   and restores it on exit. BENCH_HASHSIZE=N sets it, BENCH_HASHSIZE=keep leaves it alone.
# - Scheduling. The configuration asks for SCHED_FIFO priority 1; conntrackd applies it to its one
#   thread, ctsync to its main thread (the event and sync loop).
# - Both commits are timed with the stock conntrackd client; the daemons' own figures (log) are
#   printed alongside.
# - The primary's daemon is stopped before the commit, as in a failover. It matters here because
#   both nodes share one kernel: the kernel builds an event for every created entry as long as
#   anyone in the host listens to conntrack NEW events (the listeners are counted per host, not
#   per namespace), so a live primary in another namespace would make the backup's commit pay
#   for events that a real, separate backup does not pay for. Its table is flushed too (then a
#   second's pause while the kernel frees it): the hash table is one for the host, and every
#   create walks chains that a separate backup's kernel would not have.
set -euo pipefail
cd "$(dirname "$0")/../.."
[[ $(id -u) == 0 ]] || { echo "run as root" >&2; exit 1; }
SIZES=("${@:-100000 1000000}")
read -r -a SIZES <<<"${SIZES[*]}"
CTSYNC=(node "$PWD/dist/src/cli/ctsync.cjs")
TAG="ctsync-benchc-$$"
A="$TAG-a"
B="$TAG-b"
DIR=$(mktemp -d /tmp/ctsync-benchc.XXXXXX)
OLD_MAX=$(cat /proc/sys/net/netfilter/nf_conntrack_max)
HASHSIZE_PARAM=/sys/module/nf_conntrack/parameters/hashsize
OLD_HASHSIZE=$(cat "$HASHSIZE_PARAM")

cleanup() {
  for ns in "$A" "$B"; do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
  done
  echo "$OLD_MAX" >/proc/sys/net/netfilter/nf_conntrack_max
  [[ $(cat "$HASHSIZE_PARAM") == "$OLD_HASHSIZE" ]] || echo "$OLD_HASHSIZE" >"$HASHSIZE_PARAM"
  rm -rf "$DIR"
}
trap cleanup EXIT INT TERM

max=0
for n in "${SIZES[@]}"; do ((n > max)) && max=$n; done
if ((max * 2 + 1000 > OLD_MAX)); then echo $((max * 2 + 1000)) >/proc/sys/net/netfilter/nf_conntrack_max; fi
case ${BENCH_HASHSIZE:-auto} in
  keep) ;;
  auto)
    want=1; while ((want < max * 2)); do want=$((want * 2)); done
    if ((want > OLD_HASHSIZE)); then echo "$want" >"$HASHSIZE_PARAM"; fi ;;
  *) echo "$BENCH_HASHSIZE" >"$HASHSIZE_PARAM" ;;
esac
echo "conntrack hash: $(cat "$HASHSIZE_PARAM") buckets (was $OLD_HASHSIZE), nf_conntrack_max $(cat /proc/sys/net/netfilter/nf_conntrack_max)"

ip netns add "$A"
ip netns add "$B"
ip link add vA netns "$A" type veth peer name vB netns "$B"
ip -n "$A" addr add 192.0.2.1/24 dev vA
ip -n "$B" addr add 192.0.2.2/24 dev vB
for ns in "$A" "$B"; do ip -n "$ns" link set lo up; done
ip -n "$A" link set vA up
ip -n "$B" link set vB up

conf() { # name addr peer if: the pair's conntrackd.conf (tools/lib/pair-config.ts), sized for N
  node dist/tools/bench/write-pair-conf.js --addr "$2" --peer "$3" --if "$4" --stem "$DIR/$1" \
    --udp 'RcvSocketBuffer 16777216' --udp 'SndSocketBuffer 16777216' \
    --hash-size 1048576 --hash-limit $((max * 2 + 1000)) --netlink-buffer 67108864:268435456 >"$DIR/$1.conf"
}
conf a 192.0.2.1 192.0.2.2 vA
conf b 192.0.2.2 192.0.2.1 vB

client() { # impl ns name args...
  local impl=$1 ns=$2 name=$3; shift 3
  if [[ $impl == conntrackd ]]; then ip netns exec "$ns" conntrackd -C "$DIR/$name.conf" "$@"
  else ip netns exec "$ns" "${CTSYNC[@]}" -C "$DIR/$name.conf" "$@"; fi
}

daemon() { # impl ns name: start in the background (each applies the config's Scheduler itself)
  if [[ $1 == conntrackd ]]; then client conntrackd "$2" "$3" -d
  else ip netns exec "$2" "${CTSYNC[@]}" -C "$DIR/$3.conf" -d ${BENCH_VERBOSE:+--log-level verbose}; fi
}

own_time() { # impl: the daemon's own figure for the last commit, from its log
  if [[ $1 == conntrackd ]]; then sed -n 's/.*commit has taken \([0-9.]*\) seconds.*/\1/p' "$DIR/b.log" | tail -1
  else sed -n 's/.*committed [0-9]* entries.* in \([0-9.]*\) s.*/\1/p' "$DIR/b.log" | tail -1; fi
}

external_count() { # impl
  if [[ $1 == conntrackd ]]; then
    client conntrackd "$B" b -s cache 2>/dev/null | awk '/cache:external/{print $NF; exit}'
  else
    client ctsync "$B" b -s --json 2>/dev/null | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{console.log(JSON.parse(s).external.active)}catch{console.log(0)}})'
  fi
}

wait_for() { # what timeout-s cmd...
  local what=$1 limit=$2; shift 2
  local end=$((SECONDS + limit))
  until "$@"; do
    if ((SECONDS > end)); then echo "timed out waiting for $what" >&2; return 1; fi
    sleep 0.2
  done
}

primary_gone() { [[ -z $(ip netns pids "$A") ]]; }

results=()
round=-1
for n in "${SIZES[@]}"; do
  round=$((round + 1))
  node dist/tools/bench/gen-entries.js --count "$n" --out "$DIR/flows" >/dev/null
  # which daemon goes first alternates: the VM's speed drifts within minutes
  order=${BENCH_IMPLS:-conntrackd ctsync}
  if [[ -z ${BENCH_IMPLS:-} ]] && ((round % 2 == 1)); then order="ctsync conntrackd"; fi
  for impl in $order; do
    ip netns exec "$A" conntrack -F >/dev/null 2>&1 || true
    ip netns exec "$B" conntrack -F >/dev/null 2>&1 || true
    rm -f "$DIR"/*.lock "$DIR"/*.sock "$DIR"/*.log
    daemon "$impl" "$A" a
    if [[ -n ${BENCH_LATE_BACKUP:-} ]]; then
      wait_for "$impl socket" 20 test -S "$DIR/a.sock"
      ip netns exec "$A" "${CTSYNC[@]}" ct load -q "$DIR/flows.jsonl"
      daemon "$impl" "$B" b
      wait_for "$impl sockets" 20 test -S "$DIR/b.sock"
    else
      daemon "$impl" "$B" b
      wait_for "$impl sockets" 20 test -S "$DIR/a.sock" -a -S "$DIR/b.sock"
      sleep 1.5
      ip netns exec "$A" "${CTSYNC[@]}" ct load -q "$DIR/flows.jsonl"
    fi
    # the ICMP flows of the generator may expire: count what the primary holds
    want=$(ip netns exec "$A" conntrack -C)
    external_full() { [[ $(external_count "$impl") -ge $want ]]; }
    wait_for "$impl external cache to hold $want" 300 external_full
    client "$impl" "$A" a -k >/dev/null 2>&1 || true
    wait_for "$impl primary to stop" 20 primary_gone
    # the primary's flows leave the host's table: a real backup's kernel does not hold them
    # (the hash table is one for the host, and every create walks its chains)
    ip netns exec "$A" conntrack -F >/dev/null 2>&1 || true
    sleep 1 # the kernel frees the flushed entries in the background
    # timed with the stock conntrackd client for both daemons (ctsync answers its binary
    # protocol): the figure is the daemon's commit, not a client's start-up
    t0=$(date +%s.%N)
    client conntrackd "$B" b -c >/dev/null
    t1=$(date +%s.%N)
    got=$(ip netns exec "$B" conntrack -C)
    secs=$(echo "$t1 - $t0" | bc -l)
    sleep 0.3
    own=$(own_time "$impl")
    [[ -n ${BENCH_VERBOSE:-} && $impl == ctsync ]] && sed -n 's/.*(verbose) commit phases/  phases/p' "$DIR/b.log"
    printf '%-10s %9d entries: commit %.3f s (daemon says %s s), %9.0f entries/s, kernel holds %d\n' "$impl" "$n" "$secs" "${own:-?}" "$(echo "$got / $secs" | bc -l)" "$got"
    results+=("$round $n $impl $secs $got")
    client "$impl" "$B" b -k >/dev/null 2>&1 || true
    sleep 1
  done
done

[[ -z ${BENCH_IMPLS:-} ]] || exit 0
echo
printf '%-10s %-12s %-12s %-8s\n' entries conntrackd ctsync speedup
# one line per size given (a size given twice is measured twice)
for ((round = 0; round < ${#SIZES[@]}; round++)); do
  n=${SIZES[$round]}
  c=$(printf '%s\n' "${results[@]}" | awk -v r="$round" '$1==r && $3=="conntrackd"{print $4}')
  s=$(printf '%s\n' "${results[@]}" | awk -v r="$round" '$1==r && $3=="ctsync"{print $4}')
  printf '%-10s %-12.3f %-12.3f %.2fx\n' "$n" "$c" "$s" "$(echo "$c / $s" | bc -l)"
done
# a size measured more than once: the median of its speedups (one slow moment of the VM moves
# a single pair's ratio by a third)
for n in $(printf '%s\n' "${SIZES[@]}" | sort -n | uniq -d); do
  for ((round = 0; round < ${#SIZES[@]}; round++)); do
    [[ ${SIZES[$round]} == "$n" ]] || continue
    printf '%s\n' "${results[@]}" | awk -v r="$round" '$1==r{t[$3]=$4} END{print t["conntrackd"] / t["ctsync"]}'
  done | sort -g | awk -v n="$n" '{v[NR]=$1} END{m = NR % 2 ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2; printf "%-10s median speedup of %d runs: %.2fx (%.2fx to %.2fx)\n", n, NR, m, v[1], v[NR]}'
done
