#!/usr/bin/env bash
# Installs what gatehouse needs to build and test on Debian 12 (run as root),
# and fetches Debian's security-patched wolfSSL source for the subproject.
# Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

want_tests=0
want_bench=0
for arg in "$@"; do
  case "$arg" in
    --tests) want_tests=1 ;;
    --bench) want_bench=1; want_tests=1 ;;
    *) echo "usage: $0 [--tests] [--bench]" >&2; exit 2 ;;
  esac
done

export DEBIAN_FRONTEND=noninteractive

# deb-src for the existing Debian entries, plus trixie (Debian 13, current
# stable) for source only: its wolfssl source package carries the CVE fixes.
src_list=/etc/apt/sources.list.d/gatehouse-src.sources
if [ ! -f "$src_list" ]; then
  uri=$(awk '/^URIs:/ && /debian\/?$/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  if [ -z "$uri" ]; then
    uri=$(awk '$1=="deb" && $0 ~ /debian / {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
  fi
  [ -n "$uri" ] || { echo "setup: cannot find the Debian archive in the apt sources" >&2; exit 1; }
  cat > "$src_list" <<SRC
Types: deb-src
URIs: $uri
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  need_update=1
else
  need_update=0
fi

pkgs=(build-essential meson ninja-build pkg-config libev-dev libinih-dev
      dpkg-dev patch ca-certificates openssl curl python3
      scdoc)  # the man pages (config/man)
if [ "$want_tests" = 1 ]; then
  # systemd: systemd-analyze verify on the unit file (test_systemd.py)
  pkgs+=(libcmocka-dev python3-pytest python3-jsonschema clang libclang-rt-14-dev wrk cppcheck clang-tidy testssl.sh systemd)
  # tests/integration/test_man.py and test_package.py (scripts/build-deb.sh)
  pkgs+=(man-db groff-base lintian binutils)
fi
if [ "$want_bench" = 1 ]; then
  pkgs+=(hitch haproxy stunnel4 nginx-light libssl-dev)
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ] || [ "$need_update" = 1 ]; then
  apt-get update -qq
fi
if [ "${#missing[@]}" -gt 0 ]; then
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

scripts/fetch-wolfssl.sh
