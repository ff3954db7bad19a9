#!/usr/bin/env bash
# Unpacks Debian's wolfssl source package (trixie, with debian/patches applied)
# into subprojects/wolfssl/upstream, where subprojects/wolfssl/meson.build
# compiles it. The unpacked tree is not committed (see .gitignore).
set -euo pipefail
cd "$(dirname "$0")/.."
dest=subprojects/wolfssl/upstream
if [ -f "$dest/wolfssl/ssl.h" ]; then
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# apt drops privileges to _apt for downloads; let it write here.
chmod 0777 "$work"
( cd "$work" && apt-get source --download-only -qq wolfssl/trixie )
dsc=$(ls "$work"/wolfssl_*.dsc | head -n1)
dpkg-source --no-check -x "$dsc" "$work/tree" >/dev/null
rm -rf "$dest"
mkdir -p "$(dirname "$dest")"
mv "$work/tree" "$dest"
echo "fetch-wolfssl: $(basename "$dsc" .dsc) unpacked into $dest"
