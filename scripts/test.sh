#!/usr/bin/env bash
# Runs the whole test suite as root on a Debian 12 machine: installs what is missing
# (scripts/setup.sh), checks lint and format (`npm run lint`: ESLint and Prettier), then
# `npm test` (unit tests, then integration tests in network namespaces with the real kernel,
# conntrackd and keepalived).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

printf '\n==================== lint ====================\n'
lint_status=0
timeout 600 npm run lint </dev/null || lint_status=$?

printf '\n==================== test ====================\n'
status=0
timeout 3300 npm test </dev/null || status=$?

left=$(ip netns list 2>/dev/null | awk '{print $1}' | grep '^ctsync-' || true)
if [[ -n "$left" ]]; then
  echo "warning: network namespaces left behind by the tests:" >&2
  echo "$left" >&2
fi
if ((status == 124)); then echo "npm test timed out" >&2; fi
echo "npm test exit status: $status"
if ((lint_status != 0)); then echo "npm run lint failed (exit status $lint_status): see the lint section above" >&2; exit 1; fi
exit "$status"
