#!/usr/bin/env bash
# Builds ctsync_<version>_<arch>.deb from the checkout's files (tracked, and untracked ones git
# does not ignore), in a scratch copy, so the checkout's node_modules, build/ and dist/ are
# neither used nor touched: npm ci, npm run build (node-gyp and tsc, so the builder needs a
# compiler; the gateway does not), production node_modules only, then dpkg-deb.
#
#   bash scripts/package-deb.sh [--out DIR]     (default DIR: the checkout's root)
#
# Prints the path of the .deb on its last line. Layout of the package: README.md, "Debian package".
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
out=$repo
while (($# > 0)); do
  case $1 in
  --out)
    out=${2:?--out needs a directory}
    shift 2
    ;;
  -h | --help)
    sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
  *)
    echo "package-deb.sh: unknown argument '$1' (see --help)" >&2
    exit 2
    ;;
  esac
done
for tool in dpkg-deb dpkg-query git gzip ldconfig npm node objdump strip; do
  command -v "$tool" >/dev/null || {
    echo "package-deb.sh: $tool is missing" >&2
    exit 1
  }
done
mkdir -p "$out"
out=$(cd "$out" && pwd)

scratch=$(mktemp -d "${TMPDIR:-/tmp}/ctsync-deb.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
src=$scratch/src
root=$scratch/root

# 1. a clean copy of the sources, built there
mkdir -p "$src"
(cd "$repo" && git ls-files -z --cached --others --exclude-standard) |
  (cd "$repo" && xargs -0 cp --parents --no-dereference -t "$src" 2>/dev/null || true)
[[ -f $src/package.json ]] || {
  echo "package-deb.sh: copying the sources failed" >&2
  exit 1
}
(
  cd "$src"
  npm ci --no-audit --no-fund --prefer-offline
  npm run build
  npm prune --omit=dev --no-audit --no-fund
) >&2

version=$(node -p "require('$src/package.json').version")
arch=$(dpkg --print-architecture)
addon=$src/build/Release/nlsock.node

# 2. the tree as installed
lib=$root/usr/lib/ctsync
doc=$root/usr/share/doc/ctsync
mkdir -p "$lib/build/Release" "$root/usr/sbin" "$root/usr/bin" "$root/lib/systemd/system" \
  "$doc/examples" "$root/usr/share/man/man8" "$root/usr/share/man/man5" "$root/DEBIAN"
(cd "$src" && cp -r --parents dist/src package.json node_modules "$lib")
# source maps serve only `node --enable-source-maps`; the unit never passes it
find "$lib/dist" -name '*.js.map' -delete
# the addon prebuilt: N-API (binding.gyp's NAPI_VERSION) is one ABI for every Node >= 20
install -m 0644 "$addon" "$lib/build/Release/nlsock.node"
strip --strip-unneeded "$lib/build/Release/nlsock.node"
chmod 0755 "$lib/dist/src/cli/ctsync.cjs"
ln -s ../lib/ctsync/dist/src/cli/ctsync.cjs "$root/usr/sbin/ctsync"
# etc/ctsync.service runs /usr/bin/ctsync
ln -s ../sbin/ctsync "$root/usr/bin/ctsync"
# conntrackd's own binary is diverted away by preinst (packaging/deb/preinst)
ln -s ctsync "$root/usr/sbin/conntrackd"
install -m 0644 "$src/etc/ctsync.service" "$root/lib/systemd/system/ctsync.service"
(cd "$src" && find etc keepalived -type f ! -name '*.service' -exec cp --parents -t "$doc/examples" {} +)
(cd "$src" && install -m 0644 README.md ARCHITECTURE.md packaging/deb/copyright "$doc/")
(cd "$doc" && gzip -9n README.md ARCHITECTURE.md)
install -m 0644 "$src/docs/man/ctsync.8" "$root/usr/share/man/man8/ctsync.8"
install -m 0644 "$src/docs/man/ctsync.conf.5" "$root/usr/share/man/man5/ctsync.conf.5"
gzip -9n "$root/usr/share/man/man8/ctsync.8" "$root/usr/share/man/man5/ctsync.conf.5"
find "$root" -type d -exec chmod 0755 {} +
find "$root" -type f ! -perm -u+x -exec chmod 0644 {} +
find "$root" -type f -perm -u+x -exec chmod 0755 {} +

# 3. the control data: the addon's shared libraries as dependencies, at the builder's versions
shlib_depends() {
  local lib_name path pkg ver
  for lib_name in $(objdump -p "$addon" | awk '/NEEDED/ {print $2}'); do
    path=$(ldconfig -p | awk -v l="$lib_name" '$1 == l && /x86-64/ {print $NF; exit}')
    pkg=$( (dpkg-query -S "$path" || dpkg-query -S "$(readlink -f "$path")") 2>/dev/null | head -1 | cut -d: -f1)
    [[ -n $pkg ]] || {
      echo "package-deb.sh: no package holds $lib_name, which the addon needs" >&2
      exit 1
    }
    ver=$(dpkg-query -W -f '${Version}' "$pkg" | sed 's/-[^-]*$//')
    printf ', %s (>= %s)\n' "$pkg" "$ver"
  done | sort -u
}
install -m 0755 "$src/packaging/deb/preinst" "$src/packaging/deb/postinst" "$src/packaging/deb/prerm" \
  "$src/packaging/deb/postrm" "$root/DEBIAN/"
depends="nodejs (>= 20)$(shlib_depends | tr -d '\n')"
installed_kib=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat >"$root/DEBIAN/control" <<EOF
Package: ctsync
Version: $version
Architecture: $arch
Maintainer: ctsync developers <root@localhost>
Installed-Size: $installed_kib
Depends: $depends
Recommends: keepalived
Suggests: conntrackd
Section: net
Priority: optional
Description: conntrack table replication for active/backup gateways
 ctsync keeps the connection-tracking tables of two Linux gateways in an
 active/backup pair in sync, so that established connections survive a
 failover. It is a drop-in for conntrackd: the same command-line flags, it
 reads conntrackd.conf, and it speaks the FT-FW sync protocol with a stock
 conntrackd peer.
 .
 The package diverts /usr/sbin/conntrackd (kept as /usr/sbin/conntrackd.distrib
 when the conntrackd package is installed) to ctsync; removing the package
 gives it back.
EOF

deb=$out/ctsync_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >&2
echo "$deb"
