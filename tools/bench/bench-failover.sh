#!/usr/bin/env bash
# Failover gap benchmark: the lab (tools/lab) with N extra flows in the table, ctsync driven by
# keepalived's notify FIFO; prints per connection the gap (last byte before the failure -> first
# byte after) for the failover and the failback, keepalived's own switch time, and the commits.
#   tools/bench/bench-failover.sh [FLOWS] [RUNS]      default: 100000 3
set -euo pipefail
cd "$(dirname "$0")/../.."
[[ $(id -u) == 0 ]] || { echo "run as root" >&2; exit 1; }
FLOWS=${1:-100000}
RUNS=${2:-3}
for run in $(seq 1 "$RUNS"); do
  echo "== run $run: $FLOWS extra flows"
  node dist/tools/lab/run.js --flows "$FLOWS" --no-control --ha native --connections 4 \
    | grep -E "TCP connections kept|^ +[0-9]+ 192|keepalived: gwB MASTER|commit on gw|RESULT"
done
