#!/usr/bin/env bash
# Runs the whole test suite as root on a Debian 12 machine: installs what is missing
# (scripts/setup.sh), checks lint and format (`npm run lint`: ESLint and Prettier), then
# `npm test` (unit tests, then integration tests in network namespaces with the real kernel,
# conntrackd and keepalived), then the Debian package's test (built, installed, purged).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

printf '\n==================== lint ====================\n'
lint_status=0
timeout 600 npm run lint </dev/null || lint_status=$?

printf '\n==================== test ====================\n'
status=0
timeout 3300 npm test </dev/null || status=$?

# builds the Debian package from scratch (minutes), so it runs apart, after the suite
printf '\n==================== package ====================\n'
package_status=0
CTSYNC_PACKAGE_TEST=1 timeout 1800 npx mocha --no-config --timeout 1200000 \
  dist/test/integration/package/deb.test.js </dev/null || package_status=$?

left=$(ip netns list 2>/dev/null | awk '{print $1}' | grep '^ctsync-' || true)
if [[ -n "$left" ]]; then
  echo "warning: network namespaces left behind by the tests:" >&2
  echo "$left" >&2
fi
if ((status == 124)); then echo "npm test timed out" >&2; fi
echo "npm test exit status: $status"
echo "package test exit status: $package_status"
if ((status == 0 && package_status != 0)); then status=$package_status; fi
if ((lint_status != 0)); then echo "npm run lint failed (exit status $lint_status): see the lint section above" >&2; exit 1; fi
exit "$status"
