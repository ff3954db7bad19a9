#!/usr/bin/env bash
# Side-by-side TLS-offload benchmark: gatehouse against hitch, HAProxy (tcp)
# and stunnel, and gatehouse in http mode against HAProxy in http mode, all on
# 127.0.0.1 in front of the same nginx backend, with the same ECDSA P-256
# certificate (and, for the hs-matrix rows, the same RSA-2048 one). See
# bench/README.md.
#
# usage: bench/run.sh [--rounds N] [--duration S] [--only a,b,...] [--rows a,b,...]
#                     [--idle N] [--gatehouse PATH] [--baseline PATH] [--out DIR]
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$BENCH_DIR")
# shellcheck source=bench/lib.sh
. "$BENCH_DIR/lib.sh"

ONLY=""
IDLE_N=2000
BASELINE=""   # --baseline: the old binary, run as gatehouse-base / gatehouse-http-base
ALL_PROXIES=(gatehouse hitch haproxy stunnel gatehouse-http haproxy-http gatehouse-audit gatehouse-http-reuse)
HTTP_PROXIES=" gatehouse-http haproxy-http gatehouse-audit gatehouse-http-reuse gatehouse-http-base "   # proxies that parse HTTP (mode http)
# gatehouse-audit: gatehouse-http with the audit log on (a file on disk, not tmpfs;
# audit_fsync = interval), to compare with gatehouse-http
# gatehouse-http-reuse: gatehouse-http with backend_reuse = always; it differs
# from gatehouse-http only for requests with a body, so it runs the post row only
# gatehouse-base, gatehouse-http-base: with --baseline PATH, gatehouse and
# gatehouse-http with the binary PATH, each next to the new one in every round
# (alternately after and before it; the summary prints new/base ratios per row)
ALL_ROWS=(plain rss keepalive handshake http-handshake bulk hs-matrix post)
DEFAULT_ROWS=plain,rss,keepalive,handshake,bulk   # http-handshake (+1 min), hs-matrix (+6 min) and post are opt-in
ROWS_ARG=$DEFAULT_ROWS
HAP_REWRITE=yes   # haproxy-http adds X-Forwarded-For/-Proto and X-Request-Id, as gatehouse-http does

usage() {
  cat <<EOF
usage: $0 [--rounds N] [--duration S] [--only LIST] [--rows LIST] [--idle N]
          [--gatehouse PATH] [--baseline PATH] [--out DIR] [--nice N] [--wait-quiet S]
          [--gh-log LEVEL] [--hap-rewrite yes|no]
  --rounds N      interleaved rounds (default $ROUNDS); medians are quoted
  --duration S    seconds per measurement (default $DURATION)
  --only LIST     comma-separated subset of: ${ALL_PROXIES[*]}
  --rows LIST     comma-separated subset of: ${ALL_ROWS[*]},
                  or all (default $DEFAULT_ROWS);
                  handshake is the full-handshake row of the tcp-mode proxies,
                  http-handshake the same row for gatehouse-http and haproxy-http,
                  hs-matrix full and resumed handshakes/s of the tcp-mode
                  proxies, ECDSA and RSA, TLS 1.3 and 1.2 (8 figures per proxy),
                  post keep-alive POSTs with a 1 KiB body, http-mode proxies only
  --hap-rewrite yes|no
                  haproxy-http adds the request headers gatehouse-http adds
                  (X-Forwarded-For, X-Forwarded-Proto, X-Request-Id; default $HAP_REWRITE)
  --idle N        idle TLS connections for the memory row (default $IDLE_N)
  --gatehouse P   gatehouse binary (default build/gatehouse)
  --baseline P    an older gatehouse binary to compare with: gatehouse-base (and
                  gatehouse-http-base when gatehouse-http runs) run it in the same
                  rounds, each next to the new one; the summary prints the
                  ratios new/base per row (target: within 3 %)
  --out DIR       results directory (default bench/results/<timestamp>)
  --nice N        run everything the script starts at nice N (e.g. -10 on a
                  machine busy with builds; default 0)
  --wait-quiet S  before each proxy, wait up to S s for CPUs 0 and 1 to be idle
                  (default 0: only warn)
  --gh-log LEVEL  gatehouse log_level (default warn: no per-connection log lines,
                  like the anchors here; info logs one line per connection)
EOF
  exit 2
}

while [ $# -gt 0 ]; do
  case "$1" in
    --only) ONLY=${2:?}; shift 2 ;;
    --rows) ROWS_ARG=${2:?}; shift 2 ;;
    --hap-rewrite) HAP_REWRITE=${2:?}; shift 2 ;;
    --idle) IDLE_N=${2:?}; shift 2 ;;
    --baseline) BASELINE=${2:?}; shift 2 ;;
    -h|--help) usage ;;
    *) if common_option "$1" "${2:-}"; then shift 2; else echo "unknown argument: $1" >&2; usage; fi ;;
  esac
done
check_common_args
[[ "$IDLE_N" =~ ^[1-9][0-9]*$ ]] || { echo "--idle must be a positive integer" >&2; exit 2; }
[[ "$HAP_REWRITE" =~ ^(yes|no)$ ]] || { echo "--hap-rewrite must be yes or no" >&2; exit 2; }
[ "$ROWS_ARG" != all ] || ROWS_ARG=$(IFS=,; echo "${ALL_ROWS[*]}")
ROWS=" "
IFS=, read -ra _rows <<<"$ROWS_ARG"
for r in "${_rows[@]}"; do
  case " ${ALL_ROWS[*]} " in
    *" $r "*) ROWS+="$r " ;;
    *) echo "--rows: unknown row '$r' (known: ${ALL_ROWS[*]}, all)" >&2; exit 2 ;;
  esac
done
[ "$ROWS" != " " ] || { echo "--rows: empty" >&2; exit 2; }
want_row() {  # want_row ROW [PROXY]: is ROW measured (for PROXY)?
  local row=$1
  if [ "$row" = handshake ] && [ -n "${2:-}" ] && [[ "$HTTP_PROXIES" == *" $2 "* ]]; then
    row=http-handshake
  fi
  # the handshake matrix is for the tcp-mode proxies only
  if [ "$row" = hs-matrix ] && [ -n "${2:-}" ] && [[ "$HTTP_PROXIES" == *" $2 "* ]]; then
    return 1
  fi
  # POST bodies are for the http-mode proxies only (a tcp-mode proxy does not
  # see requests); gatehouse-http-reuse differs from gatehouse-http only there
  if [ -n "${2:-}" ] && { { [ "$row" = post ] && [[ "$HTTP_PROXIES" != *" $2 "* ]]; } ||
                          { [ "$row" != post ] && [ "$2" = gatehouse-http-reuse ]; }; }; then
    return 1
  fi
  [[ "$ROWS" == *" $row "* ]]
}

apply_nice

# ---------------------------------------------------------------- prerequisites
require_tools cc wrk nginx openssl taskset timeout python3 ps

STUNNEL=$(command -v stunnel4 || command -v stunnel || true)
HAPROXY=$(command -v haproxy || true)
declare -A BIN=([gatehouse]="$GATEHOUSE" [hitch]="$(command -v hitch || true)"
                [haproxy]="$HAPROXY" [stunnel]="$STUNNEL"
                [gatehouse-http]="$GATEHOUSE" [haproxy-http]="$HAPROXY"
                [gatehouse-audit]="$GATEHOUSE" [gatehouse-http-reuse]="$GATEHOUSE"
                [gatehouse-base]="$BASELINE" [gatehouse-http-base]="$BASELINE")
if [ -n "$BASELINE" ] && [ ! -x "$BASELINE" ]; then die "--baseline: no executable at $BASELINE"; fi
PROXIES=()
if [ -n "$ONLY" ]; then
  IFS=, read -ra wanted <<<"$ONLY"
else
  wanted=("${ALL_PROXIES[@]}")
fi
for p in "${wanted[@]}"; do
  case " ${ALL_PROXIES[*]} " in
    *" $p "*) ;;
    *) die "--only: unknown proxy '$p' (known: ${ALL_PROXIES[*]})" ;;
  esac
  # with --baseline, the old binary runs too (next to the new one: pair_baselines)
  want=("$p")
  if [ -n "$BASELINE" ] && { [ "$p" = gatehouse ] || [ "$p" = gatehouse-http ]; }; then want+=("$p-base"); fi
  for name in "${want[@]}"; do
    b=${BIN[$name]}
    if [ -z "$b" ] || [ ! -x "$b" ]; then
      if [[ "$name" == gatehouse* ]]; then
        log "skip $name: no binary at $b (build it: meson setup build && ninja -C build)"
      else
        pkg=${name%-http}
        log "skip $name: not installed (install: scripts/setup-debian.sh --bench, or apt-get install ${pkg/stunnel/stunnel4})"
      fi
      continue
    fi
    PROXIES+=("$name")
  done
done
# a proxy none of the selected rows runs on is not started at all
# (e.g. --rows hs-matrix: the http-mode proxies)
_kept=()
for p in ${PROXIES[@]+"${PROXIES[@]}"}; do
  for r in rss keepalive handshake bulk hs-matrix post; do
    if want_row "$r" "$p"; then _kept+=("$p"); break; fi
  done
done
PROXIES=(${_kept[@]+"${_kept[@]}"})
# post row: with backend_reuse = safe gatehouse connects to nginx for every
# request and closes after the answer, so thousands of its connections a
# second sit in TIME_WAIT; connect() reuses those ports on loopback only with
# tcp_tw_reuse 1 or 2 (2, the default, is loopback only). With 0 the ephemeral
# range runs out within seconds and the row measures 502s, not POSTs.
if want_row post && [ "$(cat /proc/sys/net/ipv4/tcp_tw_reuse 2>/dev/null || echo 0)" = 0 ]; then
  log "WARNING: net.ipv4.tcp_tw_reuse = 0: the post row will run out of ports through gatehouse-http (set it to 2)"
fi
[ "${#PROXIES[@]}" -gt 0 ] || log "no proxy available: only the plaintext ceiling will be measured"

# ---------------------------------------------------------------- state, cleanup
bench_workdirs gatehouse-bench "" proxy
BENCH_EXTRA_LOGS=("$TMP/nginx/error.log")

# after lib.sh's cleanup: keep the audit log's size and the verifier's
# verdict, not the entries
bench_cleanup_more() {
  if [ -n "${AUDIT_DIR:-}" ] && [ -d "$AUDIT_DIR" ]; then
    { du -h "$AUDIT_DIR/audit.jsonl" 2>/dev/null
      [ -x "$(dirname "$GATEHOUSE")/gatehouse-audit" ] &&
        "$(dirname "$GATEHOUSE")/gatehouse-audit" verify --key "$AUDIT_DIR/audit.key" \
          "$AUDIT_DIR/audit.jsonl" 2>&1 | tail -3; } >"$OUT/audit-summary.txt" 2>&1 || true
    rm -rf "$AUDIT_DIR"
  fi
}
bench_traps

# Descriptors: idle connections need 2 per connection in a proxy.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE=$(ulimit -n)
if [ "$NOFILE" != unlimited ] && [ "$NOFILE" -lt $((IDLE_N * 2 + 200)) ]; then
  die "open-file limit $NOFILE is too low for --idle $IDLE_N"
fi

# gatehouse may be rebuilt while the bench runs: run a private copy, one version throughout
HAVE_GH=""
case " ${PROXIES[*]} " in *" gatehouse"*) HAVE_GH=1 ;; esac
if [ -n "$HAVE_GH" ]; then
  copy_under_test "$GATEHOUSE" "$TMP/gatehouse-under-test" "$OUT/gatehouse-version.txt"
  for p in gatehouse gatehouse-http gatehouse-audit gatehouse-http-reuse; do
    BIN[$p]="$TMP/gatehouse-under-test"
  done
fi
case " ${PROXIES[*]} " in
  *"-base "*)
    copy_under_test "$BASELINE" "$TMP/gatehouse-base" "$OUT/gatehouse-base-version.txt"
    BIN[gatehouse-base]="$TMP/gatehouse-base"
    BIN[gatehouse-http-base]="$TMP/gatehouse-base" ;;
esac

# ---------------------------------------------------------------- build the client
HSC=$(bench_program handshake_client -lssl -lcrypto)

# ---------------------------------------------------------------- helpers
# (free_ports, tree_pids, cpu_ticks: bench/lib.sh)
rss_kib() {  # summed VmRSS of a process tree, KiB
  local t=0 p v
  for p in $(tree_pids "$1"); do
    v=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null) || continue
    t=$((t + ${v:-0}))
  done
  echo "$t"
}

# ---------------------------------------------------------------- certificate, backend
log "results: $OUT"
log "proxies: ${PROXIES[*]:-none}; rounds=$ROUNDS duration=${DURATION}s idle=$IDLE_N nice=$NICE"
make_cert ec ""
if want_row hs-matrix; then  # the hs-matrix rows also run every tcp-mode proxy with this one
  make_cert rsa rsa-
fi

read -r BACKEND_PORT P_GATEHOUSE P_HITCH P_HAPROXY P_STUNNEL P_GH_HTTP P_HAP_HTTP P_GH_AUDIT P_GH_REUSE \
  P_GH_BASE P_GH_HTTP_BASE <<<"$(free_ports 11)"
[ -n "$P_GH_HTTP_BASE" ] || die "could not find free ports"
declare -A PORT=([gatehouse]=$P_GATEHOUSE [hitch]=$P_HITCH [haproxy]=$P_HAPROXY [stunnel]=$P_STUNNEL
                 [gatehouse-http]=$P_GH_HTTP [haproxy-http]=$P_HAP_HTTP [gatehouse-audit]=$P_GH_AUDIT
                 [gatehouse-http-reuse]=$P_GH_REUSE [gatehouse-base]=$P_GH_BASE
                 [gatehouse-http-base]=$P_GH_HTTP_BASE)

mkdir -p "$TMP/www" "$TMP/nginx"
head -c 1024 /dev/urandom | base64 -w 0 | head -c 1024 >"$TMP/www/index.html"
cp "$TMP/www/index.html" "$TMP/www/1k"
head -c 1048576 /dev/urandom >"$TMP/www/1m"
chmod 644 "$TMP/www/"*
cat >"$TMP/nginx/nginx.conf" <<EOF
worker_processes 1;
daemon off;
master_process on;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log warn;
worker_rlimit_nofile 20000;
events { worker_connections 10000; }
http {
  access_log off;
  client_body_temp_path $TMP/nginx/body;
  proxy_temp_path $TMP/nginx/proxy;
  fastcgi_temp_path $TMP/nginx/fastcgi;
  uwsgi_temp_path $TMP/nginx/uwsgi;
  scgi_temp_path $TMP/nginx/scgi;
  default_type application/octet-stream;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  keepalive_timeout 300s;
  keepalive_requests 10000000;
  open_file_cache max=16 inactive=600s;
  open_file_cache_valid 600s;
  server {
    listen 127.0.0.1:$BACKEND_PORT backlog=4096;
    root $TMP/www;
    index index.html;
    # post row: static files answer POST with 405; this answers any method
    # with a fixed 2-byte body from memory (nginx reads and drops the request
    # body), so the backend's share stays small
    location = /post { return 200 "ok"; }
    # connections nginx accepted so far: the post row's backend connects
    location = /nginx-status { stub_status; }
  }
}
EOF
taskset -c 0 nginx -p "$TMP/nginx" -e "$TMP/nginx/error.log" -c "$TMP/nginx/nginx.conf" \
  >"$TMP/nginx.log" 2>&1 &
NGINX_PID=$!
PIDS+=("$NGINX_PID")
wait_listen "$BACKEND_PORT" "$NGINX_PID" 10 || { cat "$TMP/nginx.log" "$TMP/nginx/error.log" >&2 2>/dev/null; die "backend nginx did not start"; }
log "backend: nginx pid $NGINX_PID on 127.0.0.1:$BACKEND_PORT (CPU 0)"

# ---------------------------------------------------------------- proxy configs
# gatehouse (tcp mode); with --baseline the same on its own port for the old binary
gh_conf gatehouse "$P_GATEHOUSE" "$BACKEND_PORT" "mode = tcp"
gh_conf gatehouse-base "$P_GH_BASE" "$BACKEND_PORT" "mode = tcp"

# http mode: every request head parsed, checked and rebuilt (X-Forwarded-For,
# X-Forwarded-Proto, X-Request-Id added); one backend connection per client
# connection, opened at the first request. The http keys keep their defaults.
gh_conf gatehouse-http "$P_GH_HTTP" "$BACKEND_PORT" "mode = http"
gh_conf gatehouse-http-base "$P_GH_HTTP_BASE" "$BACKEND_PORT" "mode = http"
# the same with backend_reuse = always: a backend connection that carried a
# request body is kept for the next request (default safe: a new one each time)
gh_conf gatehouse-http-reuse "$P_GH_REUSE" "$BACKEND_PORT" "mode = http
backend_reuse = always"
# the same with the audit log on. It goes to the disk the repository is on:
# $TMP is tmpfs.
AUDIT_DIR=$(mktemp -d "$ROOT/bench/.audit.XXXXXX")
head -c 32 /dev/urandom >"$AUDIT_DIR/audit.key"
chmod 600 "$AUDIT_DIR/audit.key"
gh_conf gatehouse-audit "$P_GH_AUDIT" "$BACKEND_PORT" "mode = http" "audit_file = $AUDIT_DIR/audit.jsonl
audit_key_file = $AUDIT_DIR/audit.key
audit_fsync = interval"

mkdir -p "$TMP/hitch-ocsp"
cat >"$TMP/hitch.conf" <<EOF
frontend = "[127.0.0.1]:$P_HITCH"
backend = "[127.0.0.1]:$BACKEND_PORT"
pem-file = "$TMP/combined.pem"
workers = 1
daemon = off
backlog = 4096
tls-protos = TLSv1.2 TLSv1.3
ocsp-dir = "$TMP/hitch-ocsp"
syslog = off
log-level = 1
user = "nobody"
EOF

cat >"$TMP/haproxy.cfg" <<EOF
global
  nbthread 1
  maxconn 8000
defaults
  mode tcp
  maxconn 8000
  timeout connect 5s
  timeout client 300s
  timeout server 300s
frontend fe
  bind 127.0.0.1:$P_HAPROXY ssl crt $TMP/combined.pem ssl-min-ver TLSv1.2
  backlog 4096
  default_backend be
backend be
  server s1 127.0.0.1:$BACKEND_PORT
EOF

# HAProxy in http mode, configured to do what gatehouse-http does: keep-alive
# on both sides, one private backend connection per client connection
# (http-reuse never: HAProxy would otherwise share idle backend connections
# between clients), no logging (no "log" line anywhere), and with
# --hap-rewrite yes the same three request headers added.
hap_http_conf haproxy-http "$P_HAP_HTTP" "$BACKEND_PORT" "$HAP_REWRITE"
if [[ " ${PROXIES[*]} " == *" haproxy-http "* ]]; then
  "${BIN[haproxy-http]}" -c -f "$TMP/haproxy-http.cfg" >"$TMP/haproxy-http-check.log" 2>&1 \
    || { cat "$TMP/haproxy-http-check.log" >&2; die "haproxy -c rejects the http config"; }
fi

cat >"$TMP/stunnel.conf" <<EOF
foreground = yes
pid =
syslog = no
debug = 3
[tls]
accept = 127.0.0.1:$P_STUNNEL
connect = 127.0.0.1:$BACKEND_PORT
cert = $TMP/cert.pem
key = $TMP/key.pem
sslVersionMin = TLSv1.2
EOF

# hs-matrix: the same configs with the RSA-2048 certificate (NAME-rsa.EXT)
if want_row hs-matrix; then
  for f in gatehouse.ini gatehouse-base.ini hitch.conf haproxy.cfg stunnel.conf; do
    sed -e "s#$TMP/cert.pem#$TMP/rsa-cert.pem#; s#$TMP/key.pem#$TMP/rsa-key.pem#" \
        -e "s#$TMP/combined.pem#$TMP/rsa-combined.pem#" "$TMP/$f" >"$TMP/${f%.*}-rsa.${f##*.}"
  done
fi

start_proxy() {  # start_proxy NAME [rsa] -> sets PROXY_PID, returns 1 on failure
  local name=$1 v=${2:+-$2} pid p
  local logf="$TMP/$1$v.log"
  : >"$logf"
  # each proxy's config is TMP/NAME.EXT, TMP/NAME-rsa.EXT with the RSA certificate
  case "$name" in
    gatehouse*) taskset -c 1 "${BIN[$name]}" -c "$TMP/$name$v.ini" >>"$logf" 2>&1 & ;;
    hitch)      taskset -c 1 "${BIN[hitch]}" --config="$TMP/hitch$v.conf" >>"$logf" 2>&1 & ;;
    haproxy*)   taskset -c 1 "${BIN[$name]}" -db -f "$TMP/$name$v.cfg" >>"$logf" 2>&1 & ;;
    stunnel)    taskset -c 1 "${BIN[stunnel]}" "$TMP/stunnel$v.conf" >>"$logf" 2>&1 & ;;
  esac
  pid=$!
  PIDS+=("$pid")
  PROXY_PID=$pid
  if [[ "$name" == gatehouse* ]] && { [ "$GH_LOG" = info ] || [ "$GH_LOG" = debug ]; }; then
    local i ok=0
    for i in $(seq 100); do
      kill -0 "$pid" 2>/dev/null || break
      if grep -q 'event=ready' "$logf"; then ok=1; break; fi
      sleep 0.1
    done
    [ "$ok" = 1 ] || return 1
  else
    wait_listen "${PORT[$name]}" "$pid" 10 || return 1
  fi
  sleep 0.3  # let worker processes/threads appear
  # hitch pins worker N to CPU N by itself: re-pin every thread of the tree
  for p in $(tree_pids "$pid"); do
    taskset -a -p -c 1 "$p" >/dev/null 2>&1 || true
  done
  return 0
}

# measure PROXYPID CMD...: runs CMD, sets OUTPUT, SHARE (proxy CPU share of
# one core) and USER_SHARE (the user-space part of it; the rest is the kernel)
measure() {
  local ppid=$1; shift
  local c0 c1 u0 u1 t0 t1
  local s0 s1
  s0=$(grep '^cpu1 ' /proc/stat)
  read -r c0 u0 <<<"$(cpu_ticks "$ppid")"; t0=$EPOCHREALTIME
  OUTPUT=$("$@" 2>&1) || true
  t1=$EPOCHREALTIME; read -r c1 u1 <<<"$(cpu_ticks "$ppid")"
  s1=$(grep '^cpu1 ' /proc/stat)
  SHARE=$(awk -v a="$c0" -v b="$c1" -v t0="$t0" -v t1="$t1" -v hz="$CLK_TCK" \
    'BEGIN { printf "%.4f", (b - a) / hz / (t1 - t0) }')
  USER_SHARE=$(awk -v a="$u0" -v b="$u1" -v t0="$t0" -v t1="$t1" -v hz="$CLK_TCK" \
    'BEGIN { printf "%.4f", (b - a) / hz / (t1 - t0) }')
  # busy share of CPU 1 not spent in the proxy: other processes (and softirq)
  OTHER1=$(busy_minus "$s0" "$s1" "$SHARE")
}

# wrk output -> "rps p99_ms errors"
parse_wrk() {
  awk '
    /Requests\/sec:/ { rps = $2 }
    /^ +99%/ { v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v)
               p99 = (u == "us") ? v / 1000 : (u == "s") ? v * 1000 : (u == "m") ? v * 60000 : v }
    /Socket errors:/ { gsub(/,/, ""); err += $4 + $6 + $8 + $10 }
    /Non-2xx or 3xx responses:/ { err += $5 }
    END { printf "%s %s %d\n", (rps == "" ? "0" : rps), (p99 == "" ? "NA" : p99), err }'
}
WRK_TIMEOUT=$((DURATION + 20))
HS_TIMEOUT=$((DURATION + 20))

run_ka() {  # keep-alive 1 KiB requests
  local name=$1 ppid=$2 url=$3 rps p99 err
  measure "$ppid" taskset -c 0 timeout "$WRK_TIMEOUT" wrk -t1 -c50 -d"${DURATION}s" --latency --timeout 5s "$url"
  read -r rps p99 err <<<"$(parse_wrk <<<"$OUTPUT")"
  record "$name" ka_rps "$rps"; record "$name" ka_p99_ms "$p99"; record "$name" ka_errors "$err"
  record "$name" ka_cpu "$SHARE"; record "$name" ka_cpu1_other "$OTHER1"
  log "  $name keep-alive 1KiB: ${rps} req/s p99 ${p99} ms errors $err proxy-cpu $SHARE (CPU 1 others $OTHER1)"
  [ "$rps" != 0 ] || printf '%s\n' "$OUTPUT" | tail -5 >&2
}

# backend_accepts: connections nginx has accepted so far (stub_status)
backend_accepts() {
  local resp
  # HTTP/1.0 over bash's /dev/tcp: nginx answers and closes
  resp=$( { exec 3<>"/dev/tcp/127.0.0.1/$BACKEND_PORT" &&
            printf 'GET /nginx-status HTTP/1.0

' >&3 && timeout 5 cat <&3; } 2>/dev/null )     || { echo NA; return; }
  # body: "Active connections: N", "server accepts handled requests", " A H R"
  awk '/^server accepts/ { getline; print $1; found = 1; exit } END { if (!found) print "NA" }' <<<"$resp"
}

# keep-alive POSTs with a 1 KiB body (bench/post.lua) to nginx's /post
# (200, 2-byte body): with backend_reuse = safe gatehouse opens one backend
# connection per request, so nginx's accepted-connection count over the load
# divided by the requests gives the backend connects per request (minus 1:
# the second status request is itself a connection)
run_post() {
  local name=$1 ppid=$2 url=$3 rps p99 err a0 a1 reqs per
  a0=$(backend_accepts)
  measure "$ppid" taskset -c 0 timeout "$WRK_TIMEOUT" wrk -t1 -c50 -d"${DURATION}s" --latency --timeout 5s \
    -s "$BENCH_DIR/post.lua" "$url"
  a1=$(backend_accepts)
  read -r rps p99 err <<<"$(parse_wrk <<<"$OUTPUT")"
  reqs=$(awk '/ requests in / { print $1; exit }' <<<"$OUTPUT")
  per=$(awk -v a="$a0" -v b="$a1" -v n="${reqs:-0}" \
    'BEGIN { if (a == "NA" || b == "NA" || n == 0) print "NA"; else printf "%.3f", (b - a - 1) / n }')
  record "$name" post_rps "$rps"; record "$name" post_p99_ms "$p99"; record "$name" post_errors "$err"
  record "$name" post_cpu "$SHARE"; record "$name" post_cpu1_other "$OTHER1"
  record "$name" post_backend_connects_per_req "$per"
  log "  $name keep-alive POST 1KiB body: ${rps} req/s p99 ${p99} ms errors $err backend connects/req $per proxy-cpu $SHARE (CPU 1 others $OTHER1)"
  [ "$rps" != 0 ] || printf '%s\n' "$OUTPUT" | tail -5 >&2
}

run_hs() {  # full handshakes + GET, TLS 1.3
  local name=$1 ppid=$2 port=$3 rate res err
  measure "$ppid" taskset -c 0 timeout "$HS_TIMEOUT" "$HSC" -p "$port" -c 50 -d "$DURATION" -3 -g
  rate=$(kv hs_per_s "$OUTPUT"); res=$(kv resumed "$OUTPUT"); err=$(kv errors "$OUTPUT")
  record "$name" hs_rate "${rate:-0}"; record "$name" hs_resumed "${res:-NA}"
  record "$name" hs_errors "${err:-NA}"; record "$name" hs_cpu "$SHARE"; record "$name" hs_cpu1_other "$OTHER1"
  record "$name" hs_p99_ms "$(kv hs_p99_ms "$OUTPUT")"
  log "  $name full handshakes+GET: ${rate:-?}/s resumed ${res:-?} errors ${err:-?} proxy-cpu $SHARE (CPU 1 others $OTHER1)"
  [ -n "$rate" ] || printf '%s\n' "$OUTPUT" | tail -5 >&2
  if [ "${res:-0}" != 0 ]; then log "  WARNING: $name resumed $res handshakes: not a full-handshake figure"; fi
  if [ "${err:-0}" != 0 ]; then log "  $name handshake client: $OUTPUT"; fi
}

# hs-matrix: handshakes only (connect, handshake, close_notify, close; no
# request), 50 at a time. Full: no session cache, no tickets (resumed must be
# 0). Resumed (-r): each slot keeps the session (ticket or session ID) of its
# last handshake and offers it on the next; with TLS 1.3 it waits for the
# server's ticket before closing. Metrics hsm_KEY_VER_MODE_{rate,cpu,...}.
run_hsm() {  # run_hsm NAME PPID PORT ecdsa|rsa
  local name=$1 ppid=$2 port=$3 key=$4 ver mode pre rate res hs err opts
  for ver in 13 12; do
    for mode in full resumed; do
      pre="hsm_${key}_${ver}_${mode}"
      opts=(-p "$port" -c 50 -d "$DURATION" "-${ver#1}")
      [ "$mode" = full ] || opts+=(-r)
      measure "$ppid" taskset -c 0 timeout "$HS_TIMEOUT" "$HSC" "${opts[@]}"
      rate=$(kv hs_per_s "$OUTPUT"); res=$(kv resumed "$OUTPUT"); hs=$(kv handshakes "$OUTPUT")
      err=$(kv errors "$OUTPUT")
      record "$name" "${pre}_rate" "${rate:-0}"; record "$name" "${pre}_handshakes" "${hs:-0}"
      record "$name" "${pre}_resumed" "${res:-NA}"; record "$name" "${pre}_errors" "${err:-NA}"
      record "$name" "${pre}_cpu" "$SHARE"; record "$name" "${pre}_cpu1_other" "$OTHER1"
      record "$name" "${pre}_ucpu" "$USER_SHARE"
      record "$name" "${pre}_p99_ms" "$(kv hs_p99_ms "$OUTPUT")"
      log "  $name $key TLS 1.${ver#1} $mode handshakes: ${rate:-?}/s resumed ${res:-?}/${hs:-?} errors ${err:-?} proxy-cpu $SHARE (CPU 1 others $OTHER1)"
      [ -n "$rate" ] || printf '%s\n' "$OUTPUT" | tail -5 >&2
      if [ "$mode" = full ] && [ "${res:-0}" != 0 ]; then
        log "  WARNING: $name resumed $res handshakes: not a full-handshake figure"
      fi
      # all but each slot's first handshake should resume (allow 5 % more full ones)
      if [ "$mode" = resumed ] && [ "${hs:-0}" -gt 0 ] && [ $(( (hs - ${res:-0} - 50) * 20 )) -gt "$hs" ]; then
        log "  WARNING: $name $key TLS 1.${ver#1}: only ${res:-0} of $hs handshakes resumed"
      fi
      if [ "${err:-0}" != 0 ]; then log "  $name handshake client: $OUTPUT"; fi
    done
  done
}

# probe_tls NAME KEY PORT: what a default OpenSSL 3 client (handshake_client
# has the same defaults) negotiates, and how it resumes, with openssl
# s_client: one line per TLS version to $OUT/negotiated.tsv (round 1 only)
probe_tls() {
  local name=$1 key=$2 port=$3 ver o1 o2 proto cipher group sig tickets reused sess="$TMP/probe.sess"
  for ver in 13 12; do
    rm -f "$sess"
    # stdin open for 0.5 s: TLS 1.3 tickets arrive after the handshake
    o1=$(sleep 0.5 | taskset -c 0 timeout 10 openssl s_client -connect "127.0.0.1:$port" -servername localhost \
      "-tls1_${ver#1}" -sess_out "$sess" 2>&1) || true
    o2=$(sleep 0.5 | taskset -c 0 timeout 10 openssl s_client -connect "127.0.0.1:$port" -servername localhost \
      "-tls1_${ver#1}" -sess_in "$sess" 2>&1) || true
    read -r proto cipher <<<"$(sed -n 's/^New, \(TLSv[0-9.]*\), Cipher is \(.*\)/\1 \2/p' <<<"$o1" | head -1)"
    group=$(sed -n 's/^Server Temp Key: //p' <<<"$o1" | head -1 | sed 's/^ECDH, //; s/,.*//')
    sig=$(sed -n 's/^Peer signature type: //p' <<<"$o1" | head -1)
    tickets=no; if grep -q 'TLS session ticket lifetime hint' <<<"$o1"; then tickets=yes; fi
    reused=no; if grep -q '^Reused,' <<<"$o2"; then reused=yes; fi
    printf '%s\t%s\t1.%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$key" "${ver#1}" "${proto:-?}" "${cipher:-?}" \
      "${group:-?}" "${sig:-?}" "$tickets" "$reused" >>"$OUT/negotiated.tsv"
    log "  $name $key TLS 1.${ver#1}: negotiated ${proto:-?} ${cipher:-?} group ${group:-?} sig ${sig:-?}; ticket issued: $tickets; s_client resumed: $reused"
  done
}

run_bulk() {  # 1 MiB responses
  local name=$1 ppid=$2 url=$3 rps p99 err mibs
  measure "$ppid" taskset -c 0 timeout "$WRK_TIMEOUT" wrk -t1 -c10 -d"${DURATION}s" --timeout 5s "$url"
  read -r rps p99 err <<<"$(parse_wrk <<<"$OUTPUT")"
  mibs=$rps  # each response body is exactly 1 MiB
  record "$name" bulk_mibs "$mibs"; record "$name" bulk_errors "$err"; record "$name" bulk_cpu "$SHARE"; record "$name" bulk_cpu1_other "$OTHER1"
  log "  $name bulk 1MiB: ${mibs} MiB/s errors $err proxy-cpu $SHARE (CPU 1 others $OTHER1)"
  [ "$rps" != 0 ] || printf '%s\n' "$OUTPUT" | tail -5 >&2
}

run_rss() {  # RSS per idle TLS 1.3 connection
  local name=$1 ppid=$2 port=$3 r0 r1 cpid i ready="" outf="$TMP/idle.out" per
  sleep 0.5
  r0=$(rss_kib "$ppid")
  : >"$outf"
  taskset -c 0 timeout 120 "$HSC" -p "$port" -3 -i "$IDLE_N" -c 100 -d 100 -t 20 >"$outf" 2>&1 &
  cpid=$!
  PIDS+=("$cpid")
  for i in $(seq 600); do
    if grep -q '^idle_ready=' "$outf"; then ready=1; break; fi
    kill -0 "$cpid" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$ready" ]; then
    stop_pid "$cpid"
    log "  $name idle: could not hold $IDLE_N connections: $(tr '\n' ' ' <"$outf")"
    record "$name" rss_errors 1
    return
  fi
  sleep 2  # let the proxy finish backend connects and ticket sends
  r1=$(rss_kib "$ppid")
  stop_pid "$cpid"
  local held dropped
  held=$(kv idle_held "$(tail -1 "$outf")"); dropped=$(kv dropped "$(tail -1 "$outf")")
  per=$(awk -v a="$r0" -v b="$r1" -v n="$IDLE_N" 'BEGIN { printf "%.1f", (b - a) / n }')
  record "$name" rss_base_kib "$r0"; record "$name" rss_kib_per_conn "$per"
  record "$name" rss_dropped "${dropped:-NA}"
  log "  $name idle: RSS $r0 -> $r1 KiB with $IDLE_N idle TLS 1.3 conns = $per KiB/conn (dropped ${dropped:-?} held ${held:-?})"
  sleep 1  # let the proxy close them
}

smoke() {  # smoke PORT: 3 GETs through the proxy
  local out
  out=$(taskset -c 0 timeout 15 "$HSC" -p "$1" -c 1 -n 3 -d 10 -g 2>&1) || true
  [ "$(kv requests_ok "$out")" = 3 ] && [ "$(kv errors "$out")" = 0 ] && return 0
  log "  smoke test failed: $out"
  return 1
}

# ---------------------------------------------------------------- crypto speed
# gatehouse-crypto-speed is built next to gatehouse; like gatehouse, a
# private copy runs, one version throughout.
CRYPTO_SPEED=""
if [ -n "$HAVE_GH" ]; then
  if [ -x "$(dirname "$GATEHOUSE")/gatehouse-crypto-speed" ]; then
    cp "$(dirname "$GATEHOUSE")/gatehouse-crypto-speed" "$TMP/gatehouse-crypto-speed-under-test"
    CRYPTO_SPEED="$TMP/gatehouse-crypto-speed-under-test"
  else
    log "no gatehouse-crypto-speed next to $GATEHOUSE: no crypto speed figures"
  fi
fi
if [ -n "$CRYPTO_SPEED" ]; then
  log "gatehouse-crypto-speed (CPU 1):"
  taskset -c 1 timeout 120 "$CRYPTO_SPEED" 2>&1 | tee "$OUT/crypto-speed.txt" \
    || log "gatehouse-crypto-speed failed (exit ${PIPESTATUS[0]})"
fi
# hs-matrix: the ceiling for gatehouse's handshakes, measured again at the
# start of each round (proxy "crypto" in raw.tsv; the report takes medians).
# gatehouse-crypto-speed counts operations per wall-clock second; the proxies'
# per-core figures are per CPU second, so its own CPU share (user+sys / real)
# is recorded too and the report divides by it (the same when CPU 1 is idle).
record_crypto_speed() {
  local out t real user sys f="$OUT/crypto-speed-round$ROUND.txt"
  local TIMEFORMAT='%R %U %S'
  t=$( { time taskset -c 1 timeout 120 "$CRYPTO_SPEED" >"$f" 2>&1; } 2>&1 ) \
    || { log "gatehouse-crypto-speed failed"; return 0; }
  read -r real user sys <<<"$t"
  out=$(cat "$f")
  record crypto ecdsa_p256_sign "$(awk '/^ECDSA P-256 sign/ {print $4}' <<<"$out")"
  record crypto ecdhe_p256 "$(awk '/^ECDHE P-256/ {print $3}' <<<"$out")"
  record crypto x25519 "$(awk '/^X25519 ECDHE/ {print $3}' <<<"$out")"
  record crypto cpu_share "$(awk -v r="$real" -v u="$user" -v s="$sys" 'BEGIN { printf "%.3f", (r > 0 ? (u + s) / r : 1) }')"
  log "  crypto speed (CPU 1, cpu ${user}+${sys}s of ${real}s): $(grep -E '^(ECDSA|ECDHE|X25519)' <<<"$out" | awk '{$1=$1; print}' | tr '\n' ';')"
}
if want_row hs-matrix; then
  printf 'proxy\tkey\ttls\tprotocol\tcipher\tgroup\tsignature\tticket_issued\ts_client_resumed\n' >"$OUT/negotiated.tsv"
fi

# ---------------------------------------------------------------- one proxy
# run_proxy NAME ecdsa|rsa: one start of NAME with that certificate, its
# smoke test, its rows (with rsa: only the hs-matrix), a note if it died,
# its stop; false when it did not start
run_proxy() {
  local name=$1 key=$2 v="" ppid port=${PORT[$1]}
  [ "$key" = ecdsa ] || v=-rsa
  wait_quiet
  if ! start_proxy "$name" ${v:+rsa}; then
    start_failed "$name" "$TMP/$name$v.log" ${v:+"RSA certificate"}
    return 1
  fi
  ppid=$PROXY_PID
  if smoke "$port"; then
    if [ "$key" = ecdsa ]; then
      if want_row rss "$name"; then run_rss "$name" "$ppid" "$port"; fi
      if want_row keepalive "$name"; then run_ka "$name" "$ppid" "https://127.0.0.1:$port/1k"; fi
      if want_row handshake "$name"; then run_hs "$name" "$ppid" "$port"; fi
      if want_row bulk "$name"; then run_bulk "$name" "$ppid" "https://127.0.0.1:$port/1m"; fi
      if want_row post "$name"; then run_post "$name" "$ppid" "https://127.0.0.1:$port/post"; fi
    fi
    if want_row hs-matrix "$name"; then
      if [ "$ROUND" = 1 ]; then probe_tls "$name" "$key" "$port"; fi
      run_hsm "$name" "$ppid" "$port" "$key"
    fi
  else
    record "$name" smoke_failed 1
  fi
  note_if_died "$name" "$ppid" "$TMP/$name$v.log"
  stop_pid "$ppid"
}

# ---------------------------------------------------------------- rounds
# --baseline: ORDER with each NAME-base next to NAME, after it in odd rounds
# and before it in even ones, so old and new binary meet the same machine
pair_baselines() {
  local n out=()
  for n in ${ORDER[@]+"${ORDER[@]}"}; do
    if [[ "$n" == *-base ]]; then
      [[ " ${ORDER[*]} " == *" ${n%-base} "* ]] || out+=("$n")   # (its new one is not running)
    elif [[ " ${ORDER[*]} " == *" $n-base "* ]]; then
      if [ $((ROUND % 2)) = 1 ]; then out+=("$n" "$n-base"); else out+=("$n-base" "$n"); fi
    else
      out+=("$n")
    fi
  done
  ORDER=(${out[@]+"${out[@]}"})
}
# rough duration: per round 1 s busy check, per proxy about 2 s start/stop,
# about 6 s for the idle-RSS row (--idle 2000), DURATION per load row
est=$(( 1 + $(want_row plain && echo "$DURATION" || echo 0) ))
for name in ${PROXIES[@]+"${PROXIES[@]}"}; do
  est=$((est + 2))
  if want_row rss "$name"; then est=$((est + 4 + IDLE_N / 1000)); fi
  # hs-matrix: 8 loads, a second start with the RSA certificate
  if want_row hs-matrix "$name"; then est=$((est + 8 * DURATION + 4)); fi
  for r in keepalive handshake bulk post; do
    if want_row "$r" "$name"; then est=$((est + DURATION)); fi
  done
done
log "rows:${ROWS% }; expected duration about $(( (est * ROUNDS + 59) / 60 )) min ($ROUNDS x ${est} s)"
BENCH_T0=$SECONDS
for ROUND in $(seq "$ROUNDS"); do
  # rotate the order each round so no proxy always runs first
  rotate_order "$ROUND" ${PROXIES[@]+"${PROXIES[@]}"}
  pair_baselines
  warn_if_busy
  log "round $ROUND/$ROUNDS: $(want_row plain && echo 'plain ')${ORDER[*]}"

  if want_row hs-matrix && [ -n "$CRYPTO_SPEED" ]; then wait_quiet; record_crypto_speed; fi

  # plaintext ceiling: wrk straight to nginx
  if want_row plain; then
    measure "$NGINX_PID" taskset -c 0 timeout "$WRK_TIMEOUT" wrk -t1 -c50 -d"${DURATION}s" --latency --timeout 5s \
      "http://127.0.0.1:$BACKEND_PORT/1k"
    read -r rps p99 err <<<"$(parse_wrk <<<"$OUTPUT")"
    record plain ka_rps "$rps"; record plain ka_p99_ms "$p99"; record plain ka_errors "$err"
    log "  plain (no TLS) keep-alive 1KiB: $rps req/s p99 $p99 ms errors $err"
  fi

  for name in ${ORDER[@]+"${ORDER[@]}"}; do
    run_proxy "$name" ecdsa || continue
    # hs-matrix with the RSA certificate: the same proxy restarted with it
    if want_row hs-matrix "$name"; then run_proxy "$name" rsa || true; fi
  done
done
log "rounds done in $((SECONDS - BENCH_T0)) s"

# ---------------------------------------------------------------- report
python3 "$BENCH_DIR/report.py" "$RAW" ${PROXIES[@]+"${PROXIES[@]}"} >"$OUT/summary.txt"
echo
cat "$OUT/summary.txt"
log "raw figures: $RAW; summary: $OUT/summary.txt"
