#!/usr/bin/env bash
# Builds a Debian binary package of gatehouse from `meson install`, without
# a debian/ directory: configure a release build (prefix /usr, sysconfdir
# /etc), install it into a staging root, add DEBIAN/ (control with Depends
# from dpkg-shlibdeps, conffiles for everything under /etc, md5sums), the
# Debian docs (changelog.Debian.gz, copyright), compress the man pages,
# strip the binaries, and `dpkg-deb --root-owner-group --build`.
#
#   scripts/build-deb.sh [OUTDIR]          (default: ./dist)
#
# GH_DEB_BUILD_DIR: the meson build dir to use (default
# /tmp/gatehouse-deb-build-HASH, HASH from the source tree's path). It is
# configured on first use and rebuilt incrementally after, so the wolfSSL
# subproject is compiled once; a dir configured for another source tree is
# configured anew.
# Prints the path of the .deb as its last line.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
out=${1:-$src/dist}
# one cached build dir per source tree (worktrees, CI's fresh clone)
bdir=${GH_DEB_BUILD_DIR:-/tmp/gatehouse-deb-build-$(printf '%s' "$src" | md5sum | cut -c1-12)}
umask 022

for tool in meson ninja dpkg-deb dpkg-shlibdeps scdoc strip gzip; do
  command -v "$tool" >/dev/null || { echo "build-deb: $tool is missing (scripts/setup-debian.sh)" >&2; exit 1; }
done

version=$(meson introspect --projectinfo meson.build 2>/dev/null |
          python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])')
debversion="$version-1"
arch=$(dpkg --print-architecture)
maintainer="gatehouse maintainers <maintainers@users.noreply.b-seed-6f2dd034.example>"
# Reproducible dates: the commit's, else now.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$src" log -1 --format=%ct 2>/dev/null || date +%s)}
commit=$(git -C "$src" rev-parse --short HEAD 2>/dev/null || echo unknown)

# Debian's hardening flags (PIE, relro/now, fortify, stack protector).
eval "$(DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --export=sh)"
configured_src=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["directories"]["source"])' \
                 "$bdir/meson-info/meson-info.json" 2>/dev/null || true)
if [ -n "$configured_src" ] && [ "$configured_src" != "$src" ]; then
  rm -rf "$bdir"   # a meson build dir of another tree: never anything else
elif [ -z "$configured_src" ] && [ -e "$bdir" ] && [ -n "$(ls -A "$bdir")" ]; then
  echo "build-deb: $bdir exists and is not a meson build dir: not using it" >&2
  exit 1
fi
if [ ! -f "$bdir/build.ninja" ]; then
  meson setup "$bdir" --prefix=/usr --sysconfdir=/etc --buildtype=release \
    -Dtests=false -Dman=enabled >/dev/null
fi
ninja -C "$bdir" >/dev/null

stage=$(mktemp -d /tmp/gatehouse-deb-root.XXXXXX)
trap 'rm -rf "$stage"' EXIT
root=$stage/gatehouse_${debversion}_$arch
meson install -C "$bdir" --destdir "$root" --no-rebuild --quiet >/dev/null

# Binaries: stripped as dh_strip does.
for bin in "$root"/usr/bin/* "$root"/usr/sbin/*; do
  strip --remove-section=.comment --remove-section=.note --strip-unneeded "$bin"
done
# Man pages: gzip -9n, as Debian policy wants.
find "$root/usr/share/man" -type f ! -name '*.gz' -exec gzip -9n {} +

doc=$root/usr/share/doc/gatehouse
install -d "$doc"
{
  printf 'gatehouse (%s) unstable; urgency=medium\n\n' "$debversion"
  printf '  * Package built by scripts/build-deb.sh from commit %s.\n\n' "$commit"
  printf ' -- %s  %s\n' "$maintainer" "$(date -u -R -d "@$SOURCE_DATE_EPOCH")"
} | gzip -9n > "$doc/changelog.Debian.gz"
cat > "$doc/copyright" <<COPYRIGHT
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: gatehouse

Files: *
Copyright: 2024-2026 gatehouse contributors
License: GPL-3.0+

Files: subprojects/wolfssl/*
Copyright: 2006-2024 wolfSSL Inc.
License: GPL-2.0+
Comment: wolfSSL is linked statically from Debian's wolfssl source (with
 gatehouse's patches in subprojects/wolfssl/patches).

License: GPL-3.0+
 This program is free software: you can redistribute it and/or modify it
 under the terms of the GNU General Public License as published by the Free
 Software Foundation, either version 3 of the License, or (at your option)
 any later version.
 .
 On Debian systems, the complete text of the GNU General Public License
 version 3 can be found in "/usr/share/common-licenses/GPL-3".

License: GPL-2.0+
 This program is free software; you can redistribute it and/or modify it
 under the terms of the GNU General Public License as published by the Free
 Software Foundation; either version 2 of the License, or (at your option)
 any later version.
 .
 On Debian systems, the complete text of the GNU General Public License
 version 2 can be found in "/usr/share/common-licenses/GPL-2".
COPYRIGHT
chmod 0644 "$doc/copyright"
install -D -m 0644 "$src/config/lintian-overrides" "$root/usr/share/lintian/overrides/gatehouse"

# Depends: what the binaries link, as dpkg-shlibdeps finds it (it wants a
# debian/control to read; a minimal one in a scratch dir will do).
shl=$stage/shlibdeps
install -d "$shl/debian"
printf 'Source: gatehouse\n\nPackage: gatehouse\nArchitecture: any\n' > "$shl/debian/control"
depends=$(cd "$shl" && dpkg-shlibdeps -O "${root#"$shl/"}"/usr/bin/* "${root#"$shl/"}"/usr/sbin/* 2>/dev/null |
          sed -n 's/^shlibs:Depends=//p')
[ -n "$depends" ] || { echo "build-deb: dpkg-shlibdeps found no dependencies" >&2; exit 1; }

install -d "$root/DEBIAN"
installed_size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat > "$root/DEBIAN/control" <<CONTROL
Package: gatehouse
Version: $debversion
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $installed_size
Depends: $depends, adduser
Recommends: logrotate
Section: net
Priority: optional
Description: TLS-offloading reverse proxy for legacy services
 gatehouse terminates TLS in front of plain TCP or HTTP/1.1 services. In
 HTTP mode it parses every request strictly and forwards one normalised
 form, so the backend reads exactly what was checked. Every handshake,
 request, rejection and close can go to a hash-chained audit log that
 gatehouse-audit verifies.
CONTROL
( cd "$root" && find etc -type f 2>/dev/null | sed 's|^|/|' | sort ) > "$root/DEBIAN/conffiles"
[ -s "$root/DEBIAN/conffiles" ] || rm "$root/DEBIAN/conffiles"
( cd "$root" && find . -type f ! -path './DEBIAN/*' -printf '%P\n' | LC_ALL=C sort |
  xargs -d '\n' md5sum ) > "$root/DEBIAN/md5sums"
chmod 0644 "$root"/DEBIAN/*
# The unit (config/systemd/gatehouse.service) runs as the gatehouse system
# user: create it (and its group, which key files are made readable to) on
# configure; it stays on removal, as Debian leaves system users.
cat > "$root/DEBIAN/postinst" <<'POSTINST'
#!/bin/sh
set -e
if [ "$1" = configure ] && ! getent passwd gatehouse >/dev/null; then
    adduser --system --group --no-create-home --home /nonexistent \
        --gecos "gatehouse TLS proxy" gatehouse >/dev/null
fi
exit 0
POSTINST
chmod 0755 "$root/DEBIAN/postinst"

mkdir -p "$out"
deb=$out/gatehouse_${debversion}_$arch.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
