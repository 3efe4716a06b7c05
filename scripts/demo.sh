#!/usr/bin/env bash
# The failover lab: two gateways under keepalived with ctsync, long-lived connections through
# them, a failover and a failback, then the same without ctsync. Installs what is missing first.
# Options are passed to the lab, tools/lab (see: node dist/tools/lab/run.js --help).
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ $(id -u) != 0 ]]; then
  echo "the demo needs root (network namespaces, keepalived, conntrack): run it with sudo" >&2
  exit 1
fi
bash scripts/setup.sh >/tmp/ctsync-setup.log 2>&1 || { tail -40 /tmp/ctsync-setup.log >&2; echo "setup failed (full log: /tmp/ctsync-setup.log)" >&2; exit 1; }
exec node dist/tools/lab/run.js "$@"
