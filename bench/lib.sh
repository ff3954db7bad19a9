# shellcheck shell=bash
# bench/lib.sh - what bench/run.sh and bench/frames.sh share; sourced by
# both (bash), after they set BENCH_DIR and ROOT.
#
# Owns: logging (log, die), the checks of the common options, the tools a
# script needs, the working directories (TMP on tmpfs, OUT, RAW and its
# header), stopping what a script started (PIDS, stop_pid) and the cleanup
# on exit (bench_cleanup_more, when a script defines it, runs last), free
# ports, process trees and their CPU ticks, the idle-machine checks
# (check_quiet, wait_quiet, warn_if_busy), raw.tsv rows (record), key=value
# output (kv), waiting for a listener, the private copy of a gatehouse
# binary under test, the test certificate, the C programs (from the meson
# build with -Dbench=true, else compiled with cc into bench/.bin/), and the
# rotated order of a round.
#
# Globals: ROUNDS, DURATION, GATEHOUSE, OUT, WAIT_QUIET, NICE, GH_LOG (the
# common options), TMP, RAW, PIDS, BENCH_EXTRA_LOGS (bench_workdirs), ROUND,
# ORDER (rotate_order), PROXY_PID (the sourcing script's start function).

# the common options' defaults (common_option sets them)
ROUNDS=3                # interleaved rounds; medians are quoted
DURATION=10             # seconds per load
GATEHOUSE=${GATEHOUSE:-$ROOT/build/gatehouse}
OUT=""                  # results directory (bench_workdirs picks one)
NICE=0                  # scheduling priority of everything the script starts
WAIT_QUIET=0            # seconds to wait for an idle machine before each proxy
GH_LOG=warn             # the anchors log nothing per connection; gatehouse logs every close at info

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "error: $*"; exit 1; }

# check_common_args: --rounds, --duration, --wait-quiet, --nice as given
check_common_args() {
  [[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || { echo "--rounds must be a positive integer" >&2; exit 2; }
  [[ "$DURATION" =~ ^[1-9][0-9]*$ ]] || { echo "--duration must be a positive integer" >&2; exit 2; }
  [[ "$WAIT_QUIET" =~ ^[0-9]+$ ]] || { echo "--wait-quiet must be a number of seconds" >&2; exit 2; }
  [[ "$NICE" =~ ^-?[0-9]+$ ]] || { echo "--nice must be an integer" >&2; exit 2; }
}

# apply_nice: this script (and what it starts) at nice NICE
apply_nice() {
  if [ "$NICE" != 0 ]; then
    renice -n "$NICE" -p $$ >/dev/null || { echo "renice $NICE failed (needs root for < 0)" >&2; exit 1; }
  fi
}

# require_tools CMD...: each on PATH, and 2 CPUs (proxy on CPU 1, load on CPU 0)
require_tools() {
  local cmd missing=()
  for cmd in "$@"; do
    command -v "$cmd" >/dev/null 2>&1 || missing+=("$cmd")
  done
  [ "${#missing[@]}" -eq 0 ] || die "missing: ${missing[*]}; install with: scripts/setup-debian.sh --bench"
  [ "$(nproc)" -ge 2 ] || die "needs at least 2 CPUs (proxy on CPU 1, load on CPU 0)"
}

# bench_workdirs NAME OUT_PREFIX COLUMN: TMP (tmpfs), OUT (default
# bench/results/OUT_PREFIX<timestamp>), RAW with its header (COLUMN: what
# the second field names), PIDS empty
bench_workdirs() {
  TMP=$(mktemp -d "/dev/shm/$1.XXXXXX")
  chmod 755 "$TMP"
  [ -n "$OUT" ] || OUT="$BENCH_DIR/results/$2$(date +%Y%m%d-%H%M%S)"
  mkdir -p "$OUT"
  RAW="$OUT/raw.tsv"
  printf 'round\t%s\tmetric\tvalue\n' "$3" >"$RAW"
  PIDS=()   # every long-running process this script started
  BENCH_EXTRA_LOGS=()   # more logs than TMP/*.log to keep in OUT/logs
}

stop_pid() {  # stop_pid PID: SIGTERM, wait up to 5 s, then SIGKILL
  local pid=$1 i
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "pid $pid did not stop on SIGTERM; SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

# on exit: stop every process in PIDS, keep the logs' tails in OUT/logs,
# remove TMP, then bench_cleanup_more if the script defines one
bench_cleanup() {
  local rc=$? pid f
  trap - EXIT INT TERM
  for pid in ${PIDS[@]+"${PIDS[@]}"}; do stop_pid "$pid"; done
  if [ -n "${TMP:-}" ] && [ -d "$TMP" ]; then
    mkdir -p "$OUT/logs"
    for f in "$TMP"/*.log ${BENCH_EXTRA_LOGS[@]+"${BENCH_EXTRA_LOGS[@]}"}; do
      [ -f "$f" ] && tail -c 200000 "$f" >"$OUT/logs/$(basename "$f")" 2>/dev/null || true
    done
    rm -rf "$TMP"
  fi
  if declare -F bench_cleanup_more >/dev/null; then bench_cleanup_more || true; fi
  exit "$rc"
}
bench_traps() {
  trap bench_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

# free_ports N: N free TCP ports on 127.0.0.1 outside the ephemeral range, so
# that the load's outgoing connections can never take them.
free_ports() {
  python3 - "$1" <<'EOF'
import random, socket, sys
n = int(sys.argv[1])
lo, hi = map(int, open('/proc/sys/net/ipv4/ip_local_port_range').read().split())
pool = list(range(10000, lo)) if lo > 11000 else list(range(hi + 1, 65536))
random.shuffle(pool)
out = []
for p in pool:
    s = socket.socket()
    try:
        s.bind(('127.0.0.1', p)); out.append(p)
    except OSError:
        pass
    finally:
        s.close()
    if len(out) == n:
        break
print(' '.join(map(str, out)))
EOF
}

tree_pids() {  # tree_pids PID: PID and all its descendants
  ps -e -o pid=,ppid= | awk -v r="$1" '
    { par[$1] = $2 }
    END { want[r] = 1; ch = 1
          while (ch) { ch = 0; for (k in par) if (!(k in want) && (par[k] in want)) { want[k] = 1; ch = 1 } }
          for (k in want) print k }'
}

# cpu_ticks PID...: "ALL USER": user+sys and user alone (+ reaped children)
# of the process trees of the PIDs, in clock ticks
cpu_ticks() {
  local t=0 u=0 root p line rest
  local -a f
  for root in "$@"; do
    for p in $(tree_pids "$root"); do
      line=$(cat "/proc/$p/stat" 2>/dev/null) || continue
      rest=${line##*) }
      read -ra f <<<"$rest"
      t=$((t + f[11] + f[12] + f[13] + f[14]))
      u=$((u + f[11] + f[13]))
    done
  done
  echo "$t $u"
}
# shellcheck disable=SC2034  # the scripts' measure() divides by it
CLK_TCK=$(getconf CLK_TCK)

# busy_minus "cpuN line before" "after" SHARE: the busy share of the CPU
# between the two /proc/stat lines minus SHARE, >= 0
busy_minus() {
  awk -v a="$1" -v b="$2" -v share="$3" 'BEGIN {
      split(a, x, " "); split(b, y, " "); tot = 0
      for (k = 2; k <= 9; k++) tot += y[k] - x[k]
      idle = (y[5] - x[5]) + (y[6] - x[6])
      o = tot ? (1 - idle / tot) - share : 0
      printf "%.2f", (o < 0 ? 0 : o) }'
}

check_quiet() {  # prints what is busy on CPU 0/1 (1 s sample), nothing when idle
  local a b
  a=$(grep -E '^cpu[01] ' /proc/stat); sleep 1; b=$(grep -E '^cpu[01] ' /proc/stat)
  awk -v a="$a" -v b="$b" 'BEGIN {
      split(a, la, "\n"); split(b, lb, "\n")
      for (i = 1; i <= 2; i++) {
        split(la[i], x, " "); split(lb[i], y, " "); tot = 0
        for (k = 2; k <= 9; k++) tot += y[k] - x[k]
        idle = (y[5] - x[5]) + (y[6] - x[6])
        busy = tot ? 100 * (1 - idle / tot) : 0
        if (busy > 10) printf "%s %.0f%% busy; ", x[1], busy
      } }'
}
wait_quiet() {  # up to WAIT_QUIET seconds for an idle machine
  local deadline=$((SECONDS + WAIT_QUIET))
  [ "$WAIT_QUIET" -gt 0 ] || return 0
  while [ -n "$(check_quiet)" ]; do
    if [ "$SECONDS" -ge "$deadline" ]; then log "  machine still busy after ${WAIT_QUIET}s; going on"; return 0; fi
  done
}
warn_if_busy() {
  local busy
  busy=$(check_quiet)
  if [ -n "$busy" ]; then
    log "WARNING: machine not idle before the round ($busy); figures will be noisy. Top CPU users:"
    top -bn1 -o %CPU | sed -n '8,10p' >&2 || true
    record machine busy_before_round 1
  fi
}
# shellcheck disable=SC2153  # ROUND: the sourcing script's round counter
record() { printf '%s\t%s\t%s\t%s\n' "$ROUND" "$1" "$2" "$3" >>"$RAW"; }
kv() { tr ' ' '\n' <<<"$2" | awk -F= -v k="$1" '$1 == k { print $2; exit }'; }

wait_listen() {  # wait_listen PORT PID SECONDS
  local port=$1 pid=$2 secs=$3 i
  for i in $(seq $((secs * 10))); do
    kill -0 "$pid" 2>/dev/null || return 1
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  return 1
}

# copy_under_test SRC DEST VERSION_FILE: gatehouse may be rebuilt while the
# bench runs, so a private copy runs, one version throughout; what it is
# (checksum, mtime, the git state of the tree it was built from, -V) goes
# to VERSION_FILE and stderr
copy_under_test() {
  local src=$1 dest=$2 tree
  cp "$src" "$dest"
  tree=$(cd "$(dirname "$src")" && git rev-parse --show-toplevel 2>/dev/null || echo "$ROOT")
  { echo "binary: $src sha256 $(sha256sum <"$src" | cut -c1-16) mtime $(date -r "$src" '+%F %T')"
    echo "git: $(git -C "$tree" rev-parse --short HEAD 2>/dev/null || echo '?') $(git -C "$tree" status --porcelain -- src include meson.build 2>/dev/null | grep -q . && echo '(src dirty)')"
    "$dest" -V 2>&1 || true; } | tee "$3" >&2
}

# make_cert ec|rsa PREFIX: a self-signed certificate for localhost and
# 127.0.0.1 in TMP/PREFIXcert.pem, TMP/PREFIXkey.pem and both in
# TMP/PREFIXcombined.pem (ECDSA P-256 or RSA-2048)
make_cert() {
  local kind=$1 pre=$2 newkey=(-newkey ec -pkeyopt ec_paramgen_curve:P-256)
  [ "$kind" = ec ] || newkey=(-newkey rsa:2048)
  openssl req -x509 "${newkey[@]}" -nodes -days 30 \
    -keyout "$TMP/${pre}key.pem" -out "$TMP/${pre}cert.pem" -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost,IP:127.0.0.1 >/dev/null 2>&1 || die "openssl req ($kind) failed"
  cat "$TMP/${pre}cert.pem" "$TMP/${pre}key.pem" >"$TMP/${pre}combined.pem"
  chmod 600 "$TMP/${pre}key.pem" "$TMP/${pre}combined.pem"
}

# gh_conf NAME PORT BACKEND_PORT LISTENER_LINES [GLOBAL_LINES]: TMP/NAME.ini:
# one worker, log_level GH_LOG, listener NAME on 127.0.0.1:PORT in front of
# 127.0.0.1:BACKEND_PORT with TMP's certificate, room for 10000 connections,
# and the lines given
gh_conf() {
  cat >"$TMP/$1.ini" <<EOF
[global]
workers = 1
shutdown_grace = 1s
log_level = $GH_LOG
${5:-}

[listener:$1]
listen = 127.0.0.1:$2
backend = 127.0.0.1:$3
cert = $TMP/cert.pem
key = $TMP/key.pem
max_connections = 10000
backlog = 4096
$4
EOF
}

# hap_http_conf NAME PORT BACKEND_PORT REWRITE [GLOBAL_LINES] [DEFAULTS_LINES]:
# TMP/NAME.cfg, HAProxy in http mode doing what gatehouse in http mode does:
# keep-alive on both sides, one private backend connection per client
# connection (http-reuse never: HAProxy would otherwise share idle backend
# connections between clients), no logging (no "log" line anywhere), and
# with REWRITE yes the request headers gatehouse adds (X-Forwarded-For,
# X-Forwarded-Proto, X-Request-Id)
hap_http_conf() {
  local rewrite="  # no rewrite: request headers passed on as received"
  if [ "$4" = yes ]; then
    rewrite="  http-request del-header X-Forwarded-For
  option forwardfor
  http-request set-header X-Forwarded-Proto https
  http-request set-header X-Request-Id %[rand(),hex]"
  fi
  cat >"$TMP/$1.cfg" <<EOF
global
  nbthread 1
  maxconn 8000
${5:-}
defaults
  mode http
  option http-keep-alive
  http-reuse never
  maxconn 8000
  timeout connect 5s
  timeout client 300s
  timeout server 300s
  timeout http-request 10s
  timeout http-keep-alive 300s
${6:-}
frontend fe
  bind 127.0.0.1:$2 ssl crt $TMP/combined.pem ssl-min-ver TLSv1.2
  backlog 4096
$rewrite
  default_backend be
backend be
  http-reuse never
  server s1 127.0.0.1:$3
EOF
}

# common_option OPTION VALUE: sets what an option both scripts take says
# (--rounds, --duration, --gatehouse, --out, --wait-quiet, --nice,
# --gh-log); false for any other option
common_option() {
  case "$1" in
    --rounds) ROUNDS=${2:?$1 needs a value} ;;
    --duration) DURATION=${2:?$1 needs a value} ;;
    --gatehouse) GATEHOUSE=${2:?$1 needs a value} ;;
    --out) OUT=${2:?$1 needs a value} ;;
    --wait-quiet) WAIT_QUIET=${2:?$1 needs a value} ;;
    --nice) NICE=${2:?$1 needs a value} ;;
    --gh-log) GH_LOG=${2:?$1 needs a value} ;;
    *) return 1 ;;
  esac
}

# newer_than_all FILE SRC...: FILE is an executable newer than every SRC
newer_than_all() {
  local file=$1 src
  shift
  [ -x "$file" ] || return 1
  for src in "$@"; do [ "$src" -nt "$file" ] && return 1; done
  return 0
}

# bench_program NAME LIBS...: the path of the C program bench/NAME.c: the
# meson build's (BENCH_BUILD_DIR/bench/NAME, default build/, configured with
# -Dbench=true) when it is newer than its sources, else one compiled with cc
# into bench/.bin/ (with bench_util.c but for ws_echo_server); dies when it
# cannot be built
bench_program() {
  local name=$1
  shift
  local built="${BENCH_BUILD_DIR:-$ROOT/build}/bench/$name" bin="$BENCH_DIR/.bin/$name"
  local srcs=("$BENCH_DIR/$name.c") deps=()
  [ "$name" = ws_echo_server ] || { srcs+=("$BENCH_DIR/bench_util.c"); deps=("$BENCH_DIR/bench_util.h"); }
  if newer_than_all "$built" "${srcs[@]}" ${deps[@]+"${deps[@]}"}; then
    echo "$built"
    return 0
  fi
  if ! newer_than_all "$bin" "${srcs[@]}" ${deps[@]+"${deps[@]}"}; then
    mkdir -p "$BENCH_DIR/.bin"
    cc -O2 -Wall -o "$bin" "${srcs[@]}" "$@" >&2 \
      || die "cannot build $name (needs libssl-dev: scripts/setup-debian.sh --bench)"
  fi
  echo "$bin"
}

# rotate_order ROUND NAME...: ORDER = the NAMEs starting at the ROUNDth
# (cyclically), so no one always runs first
rotate_order() {
  local round=$1 i n
  shift
  n=$#
  ORDER=()
  local names=("$@")
  for ((i = 0; i < n; i++)); do ORDER+=("${names[$(((i + round - 1) % n))]}"); done
}

# start_failed NAME LOG [WHAT]: after a failed start (of NAME with WHAT),
# the log's tail and start_failed in raw.tsv; stops PROXY_PID
start_failed() {
  log "  $1${3:+ ($3)} failed to start; log tail:"
  tail -20 "$2" >&2 || true
  stop_pid "$PROXY_PID"
  record "$1" start_failed 1
}

# note_if_died NAME PID LOG: a proxy that exited during its rows
note_if_died() {
  if ! kill -0 "$2" 2>/dev/null; then
    log "  WARNING: $1 (pid $2) exited during the round; log tail:"
    tail -20 "$3" >&2 || true
    record "$1" died 1
  fi
}
