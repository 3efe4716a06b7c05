#!/usr/bin/env bash
# Makes this machine ready to run ctsync, its tests and its demo: as root on Debian 12 with Node 20
# and npm, installs the system tools (conntrack, conntrackd, keepalived, iptables, nftables, ...),
# the npm dependencies, and builds (native addon + TypeScript). Safe to run again.
set -euo pipefail

cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

section() {
  printf '\n==================== %s ====================\n' "$*"
}

T_START=$SECONDS
elapsed() { printf '(%dm%02ds elapsed)' $(((SECONDS - T_START) / 60)) $(((SECONDS - T_START) % 60)); }

section "environment"
echo "kernel:  $(uname -srm)"
echo "user:    $(id -un) (uid $(id -u))"
echo "node:    $(node --version)"
echo "npm:     $(npm --version)"
echo "os:      $(. /etc/os-release && echo "${PRETTY_NAME:-unknown}")"
if [[ $(id -u) != 0 ]]; then
  echo "CI must run as root (network namespaces, ctnetlink)" >&2
  exit 1
fi

section "system packages $(elapsed)"
# python3-xmltodict: the -x test reads the XML as VyOS's op-mode does, with the same library;
# prometheus: promtool checks the example alert rules, and the lab test scrapes with a real server
PACKAGES=(conntrack conntrackd keepalived iptables iproute2 tcpdump nftables python3-xmltodict prometheus)
# Installing conntrackd/keepalived must not start them on the host: block service starts while
# installing (as Debian's container images do), unless a policy is already in place.
POLICY=/usr/sbin/policy-rc.d
MADE_POLICY=0
if [[ ! -e $POLICY ]]; then
  printf '#!/bin/sh\nexit 101\n' >"$POLICY"
  chmod 755 "$POLICY"
  MADE_POLICY=1
fi
remove_policy() { if ((MADE_POLICY)); then rm -f "$POLICY"; MADE_POLICY=0; fi; }
trap remove_policy EXIT

for try in 1 2 3; do
  if timeout 600 apt-get update -qq </dev/null; then break; fi
  if ((try == 3)); then echo "apt-get update failed" >&2; exit 1; fi
  echo "apt-get update failed (try $try), retrying in 10s" >&2
  sleep 10
done
for try in 1 2 3; do
  if timeout 900 apt-get install -y -qq --no-install-recommends -o Dpkg::Use-Pty=0 \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
    "${PACKAGES[@]}" </dev/null >/tmp/ctsync-ci-apt.log 2>&1; then
    break
  fi
  tail -30 /tmp/ctsync-ci-apt.log >&2
  if ((try == 3)); then echo "apt-get install failed" >&2; exit 1; fi
  echo "apt-get install failed (try $try), retrying in 10s" >&2
  sleep 10
done
remove_policy
# The tests run their own prometheus; the package's service must not scrape or listen on the host
# (the policy kept it from starting; this keeps it from starting at boot where systemd runs).
systemctl disable prometheus.service >/dev/null 2>&1 || true
if [[ -d /run/systemd/system ]]; then systemctl stop prometheus.service 2>/dev/null || true; fi
dpkg-query -W -f '  ${Package} ${Version}\n' "${PACKAGES[@]}"
echo "  $(conntrack --version 2>&1 | head -1)"
echo "  $(promtool --version 2>&1 | head -1)"

section "kernel conntrack $(elapsed)"
# nf_conntrack may be a module or built in (then there is no modprobe, nor a need for it).
if command -v modprobe >/dev/null 2>&1; then
  modprobe nf_conntrack 2>/dev/null || echo "modprobe nf_conntrack failed (built in, or not available)"
  modprobe nf_conntrack_netlink 2>/dev/null || true
fi
# Prove it works where the tests use it: a throwaway namespace, one entry in, one entry counted.
PROBE_NS="ctsync-ciprobe-$$"
cleanup_probe() { ip netns del "$PROBE_NS" 2>/dev/null || true; }
trap 'cleanup_probe; remove_policy' EXIT
ip netns add "$PROBE_NS"
ip netns exec "$PROBE_NS" conntrack -I -p tcp -s 192.0.2.1 -d 198.51.100.1 --sport 1025 --dport 80 \
  --state ESTABLISHED -t 60 -u SEEN_REPLY,ASSURED >/dev/null 2>&1 || true
count=$(ip netns exec "$PROBE_NS" conntrack -C 2>/dev/null || echo "?")
cleanup_probe
if [[ "$count" != 1 ]]; then
  echo "conntrack does not work in a network namespace (count after one insert: $count)" >&2
  exit 1
fi
echo "nf_conntrack usable in a network namespace"
echo "host: nf_conntrack_max=$(cat /proc/sys/net/netfilter/nf_conntrack_max 2>/dev/null || echo '?')" \
  "buckets=$(cat /proc/sys/net/netfilter/nf_conntrack_buckets 2>/dev/null || echo '?')"

section "npm dependencies $(elapsed)"
if [[ ! -d node_modules || package-lock.json -nt node_modules ]]; then
  timeout 900 npm ci --no-audit --no-fund </dev/null
else
  echo "node_modules up to date"
fi

section "build $(elapsed)"
timeout 900 npm run build </dev/null

