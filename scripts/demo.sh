#!/usr/bin/env bash
# Quick start: installs what is needed (Debian 12, as root), builds, makes a
# throwaway certificate, and runs gatehouse with config/demo.ini in front of
# the bundled demo backend until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup-debian.sh
[ -d build ] || meson setup build
ninja -C build

mkdir -p .demo
if [ ! -f .demo/cert.pem ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout .demo/key.pem -out .demo/cert.pem -days 30 -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost,IP:127.0.0.1 2>/dev/null
fi
build/gatehouse -t -c config/demo.ini

python3 demo/backend.py --port 8080 &
backend_pid=$!
gatehouse_pid=
cleanup() {
  [ -n "$gatehouse_pid" ] && kill "$gatehouse_pid" 2>/dev/null && wait "$gatehouse_pid" 2>/dev/null
  kill "$backend_pid" 2>/dev/null && wait "$backend_pid" 2>/dev/null
  return 0
}
trap cleanup EXIT INT TERM

build/gatehouse -c config/demo.ini &
gatehouse_pid=$!
sleep 0.5
cat <<MSG

gatehouse is listening on https://127.0.0.1:8443 in front of the demo backend on 127.0.0.1:8080.
Try, in another terminal:

  curl --cacert $(pwd)/.demo/cert.pem https://localhost:8443/

and read what the audit log recorded (or check its hash chain with verify):

  build/gatehouse-audit tail $(pwd)/.demo/audit.jsonl

Ctrl-C stops both.
MSG
wait "$gatehouse_pid"
