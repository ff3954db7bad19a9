#!/usr/bin/env bash
# Frame-validation benchmark: WebSocket echo messages/s through gatehouse
# (mode http, websocket = on: every frame checked both ways) against HAProxy
# 2.6 (mode http: after the 101 it tunnels bytes without looking at frames),
# and newline-terminated lines/s through gatehouse tcp mode with
# framing = line against framing = raw. Small messages, ping-pong, 1 and 50
# connections, on 127.0.0.1. See bench/README.md, "Frame validation".
# Small-frame streaming rows (the WebSocket targets): one connection, a
# 1 MiB text message in 16,384 fragments of 64 bytes (one TLS record each),
# four ways (--stream-kinds): both (every fragment echoed as it comes while
# the client sends: both directions full of small frames at once), first
# (the same, but nothing read until every fragment is written), s2c (sent
# in 64 KiB frames, echoed as 16,384 fragments: server-to-client small
# frames only), c2s (16,384 fragments out, echoed as one frame:
# client-to-server small frames only). Seconds until the last fragment is
# back, fragments/s, and gatehouse-ws's time over haproxy-ws's and
# gatehouse-tcp-ws's. --stream-frames N changes the count (0: no rows).
#
# usage: bench/frames.sh [--rounds N] [--duration S] [--gatehouse PATH] [--out DIR]
#                        [--wait-quiet S] [--only LIST] [--conns LIST] [--size B]
#        bench/frames.sh --report OUT/raw.tsv     (the summary of an earlier run again)
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$BENCH_DIR")
# shellcheck source=bench/lib.sh
. "$BENCH_DIR/lib.sh"

SIZE=64
CONNS_ARG=1,50
ONLY=""
MAX_OTHER=0.25
REPORT=""
STREAM_FRAMES=16384
STREAM_KINDS=both,first,s2c,c2s
# gatehouse-tcp-ws: gatehouse in tcp mode (framing raw) in front of the same
# WebSocket backend: the client's upgrade and frames pass as opaque bytes. A
# reference for what the HTTP parsing and frame checks cost inside gatehouse.
ALL_TARGETS=(gatehouse-ws haproxy-ws gatehouse-tcp-ws gatehouse-line gatehouse-raw)

usage() {
  cat <<EOF
usage: $0 [--rounds N] [--duration S] [--gatehouse PATH] [--out DIR]
          [--wait-quiet S] [--nice N] [--only LIST] [--conns LIST] [--size B]
          [--gh-log LEVEL] [--stream-frames N] [--stream-kinds LIST]
  --rounds N      interleaved rounds (default $ROUNDS); medians are quoted
  --duration S    seconds per load (default $DURATION)
  --gatehouse P   gatehouse binary (default build/gatehouse)
  --out DIR       results directory (default bench/results/frames-<timestamp>)
  --wait-quiet S  before each target, wait up to S s for CPUs 0 and 1 to be idle
                  (default 0: only warn)
  --nice N        run everything the script starts at nice N (default 0)
  --only LIST     comma-separated subset of: ${ALL_TARGETS[*]}
  --conns LIST    connection counts, comma-separated (default $CONNS_ARG)
  --size B        message size in bytes: WebSocket payload, or line length
                  with its '\n' (default $SIZE)
  --gh-log LEVEL  gatehouse log_level (default $GH_LOG)
  --max-other F   a load with CPU 1 busier than F with other work is "disturbed"
                  and left out of the medians when undisturbed rounds exist
                  (default $MAX_OTHER)
  --stream-frames N  fragments of --size bytes in the small-frame streaming row
                  (default $STREAM_FRAMES; 0 leaves the rows out)
  --stream-kinds LIST  streaming rows, comma-separated subset of both,first,s2c,c2s
                  (default $STREAM_KINDS; see the top of this script)
  --report RAW    only print the summary of an earlier run's raw.tsv
EOF
  exit 2
}

while [ $# -gt 0 ]; do
  case "$1" in
    --only) ONLY=${2:?}; shift 2 ;;
    --conns) CONNS_ARG=${2:?}; shift 2 ;;
    --size) SIZE=${2:?}; shift 2 ;;
    --max-other) MAX_OTHER=${2:?}; shift 2 ;;
    --report) REPORT=${2:?}; shift 2 ;;
    --stream-frames) STREAM_FRAMES=${2:?}; shift 2 ;;
    --stream-kinds) STREAM_KINDS=${2:?}; shift 2 ;;
    -h|--help) usage ;;
    *) if common_option "$1" "${2:-}"; then shift 2; else echo "unknown argument: $1" >&2; usage; fi ;;
  esac
done
check_common_args
[[ "$STREAM_FRAMES" =~ ^[0-9]+$ ]] || { echo "--stream-frames must be a whole number" >&2; exit 2; }
IFS=, read -ra STREAM_KIND_LIST <<<"$STREAM_KINDS"
for k in "${STREAM_KIND_LIST[@]}"; do
  case "$k" in both|first|s2c|c2s) ;; *) echo "--stream-kinds: '$k' is not both, first, s2c or c2s" >&2; exit 2 ;; esac
done
[[ "$SIZE" =~ ^[0-9]+$ ]] && [ "$SIZE" -ge 2 ] && [ "$SIZE" -le 65536 ] \
  || { echo "--size must be 2..65536" >&2; exit 2; }
IFS=, read -ra CONNS <<<"$CONNS_ARG"
for n in "${CONNS[@]}"; do
  [[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "--conns: '$n' is not a positive integer" >&2; exit 2; }
done

apply_nice

# summarize RAW.tsv: the summary table (stdout); also run alone by --report
summarize() {
  python3 - "$1" "$MAX_OTHER" <<'EOF'
import statistics, sys
from collections import defaultdict
raw, max_other = sys.argv[1], float(sys.argv[2])
vals = defaultdict(lambda: defaultdict(dict))   # target -> metric -> round -> value
text = defaultdict(dict)
with open(raw) as f:
    next(f)
    for line in f:
        r, t, m, v = line.rstrip("\n").split("\t")
        try:
            vals[t][m][int(r)] = float(v)
        except ValueError:
            text[t][m] = v
size = f"{vals['run']['size'][0]:.0f}" if vals["run"].get("size") else "64"
conns = sorted({m.split("_")[0][1:] for t in vals for m in vals[t]
                if m.startswith("c") and m.endswith("_rate")}, key=int)
TARGETS = ["gatehouse-ws", "haproxy-ws", "gatehouse-tcp-ws", "gatehouse-line", "gatehouse-raw"]
TARGETS = [t for t in TARGETS if vals[t]]

def is_clean(t, c, r):
    """undisturbed: neither CPU more than max_other busy with work other than
    the proxy (CPU 1) or the client and the backends (CPU 0)"""
    return (vals[t][f"c{c}_cpu1_other"].get(r, 0) <= max_other
            and vals[t][f"c{c}_cpu0_other"].get(r, 0) <= max_other)

def used(t, c):
    """rounds for one load: the undisturbed ones (CPU 1 others <= max_other) when any"""
    have = sorted(vals[t][f"c{c}_rate"])
    clean = [r for r in have if is_clean(t, c, r)]
    return (clean or have), len(clean), len(have)

def med(xs):
    return statistics.median(xs) if xs else None

def metric(t, c, m):
    rs, _, _ = used(t, c)
    return med([vals[t][f"c{c}_{m}"][r] for r in rs if r in vals[t][f"c{c}_{m}"]])

def percore_round(t, c, r):
    rate, cpu = vals[t][f"c{c}_rate"].get(r), vals[t][f"c{c}_cpu"].get(r)
    return rate / cpu if rate and cpu else None

def percore(t, c):
    rs, _, _ = used(t, c)
    return med([x for x in (percore_round(t, c, r) for r in rs) if x])

def fmt(v, d=0):
    if v is None:
        return "-"
    return f"{v:,.{d}f}"

out = []
out.append(f"Frame validation: ping-pong echo of {size}-byte messages, one in flight per connection "
           "(medians over rounds; per core = msgs/s / proxy CPU share)")
out.append("")
hdr = f"{'target':<18}{'conns':>6}{'msgs/s':>11}{'per core':>11}{'proxy CPU':>10}{'p50 ms':>9}{'p99 ms':>9}{'CPU1 oth':>9}{'CPU0 oth':>9}{'wrong':>7}{'errors':>7}{'rounds':>8}"
out.append(hdr)
out.append("-" * len(hdr))
bad = []
for t in TARGETS:
    for c in conns:
        if f"c{c}_rate" not in vals[t]:
            continue
        rs, nclean, nall = used(t, c)
        wrong = sum(vals[t][f"c{c}_wrong"].values())
        errs = sum(vals[t][f"c{c}_errors"].values())
        if wrong or errs:
            bad.append(f"{t} c={c}: wrong {wrong:.0f}, errors {errs:.0f}")
        out.append(f"{t:<18}{c:>6}{fmt(metric(t, c, 'rate')):>11}{fmt(percore(t, c)):>11}"
                   f"{fmt(metric(t, c, 'cpu'), 2):>10}{fmt(metric(t, c, 'p50_ms'), 3):>9}"
                   f"{fmt(metric(t, c, 'p99_ms'), 3):>9}{fmt(metric(t, c, 'cpu1_other'), 2):>9}"
                   f"{fmt(metric(t, c, 'cpu0_other'), 2):>9}"
                   f"{wrong:>7.0f}{errs:>7.0f}{f'{nclean}/{nall}':>8}")
out.append("")
out.append("CPU1 oth: CPU 1 busy with anything but the proxy; CPU0 oth: CPU 0 busy with anything but the "
           "client and the echo backends (shares of one core, softirq included)")
out.append(f"rounds = undisturbed/all: a load with either above {max_other:.2f} is left out of the medians "
           "when an undisturbed round exists; wrong/errors summed over all rounds")

STREAM_KINDS = [("stream_", "both", "each fragment echoed as it comes, read while sending"),
                ("stream_first_", "first", "each echoed as it comes, nothing read until all are written"),
                ("stream_s2c_", "s2c", "sent in 64 KiB frames, echoed as the fragments: server-to-client only"),
                ("stream_c2s_", "c2s", "the fragments echoed as one frame: client-to-server only")]
stream_kinds = [(m, k, what) for m, k, what in STREAM_KINDS
                if any(vals[t].get(m + "s") for t in TARGETS)]
if stream_kinds:
    m0 = stream_kinds[0][0]
    t0 = next(t for t in TARGETS if vals[t].get(m0 + "s"))
    n = f"{vals[t0][m0 + 'frames'][min(vals[t0][m0 + 'frames'])]:.0f}"
    out.append("")
    out.append(f"Small-frame streaming: one connection, one message of {n} fragments of {size} bytes "
               "(one TLS record each; medians over rounds)")
    for m, k, what in stream_kinds:
        out.append(f"  {k}: {what}")
    hdr2 = (f"{'kind':<7}{'target':<18}{'seconds':>9}{'frag/s':>10}{'proxy CPU':>10}"
            f"{'back':>8}{'of':>7}{'rounds':>8}")
    out.append(hdr2)
    out.append("-" * len(hdr2))
    secs_of = {}
    for m, k, _ in stream_kinds:
        for t in TARGETS:
            if not vals[t].get(m + "s"):
                continue
            rs = sorted(vals[t][m + "s"])
            secs = med([vals[t][m + "s"][r] for r in rs])
            back = min(vals[t][m + "back"].get(r, 0) for r in rs)
            exp = vals[t].get(m + "expect", {})
            want = min(exp.values()) if exp else float(n)
            cpu = med([vals[t][m + "cpu"][r] for r in rs if r in vals[t][m + "cpu"]])
            rate = float(n) / secs if secs else None
            secs_of[(k, t)] = (secs, {r: vals[t][m + "s"][r] for r in rs})
            out.append(f"{k:<7}{t:<18}{fmt(secs, 2):>9}{fmt(rate):>10}{fmt(cpu, 2):>10}"
                       f"{back:>8.0f}{want:>7.0f}{len(rs):>8}")
            if back < want:
                bad.append(f"{t} stream {k}: only {back:.0f} of {want:.0f} frames came back")
    out.append("")
    out.append("Small-frame streaming, gatehouse-ws time over the anchors' (median ratio; "
               "per-round min..max; above 1: gatehouse-ws slower)")
    for _, k, _ in stream_kinds:
        cells = []
        for anchor in ("haproxy-ws", "gatehouse-tcp-ws"):
            a, b = secs_of.get((k, "gatehouse-ws")), secs_of.get((k, anchor))
            if not a or not b or not a[0] or not b[0]:
                continue
            rr = [a[1][r] / b[1][r] for r in sorted(set(a[1]) & set(b[1])) if b[1][r]]
            spread = f" [{min(rr):.2f}..{max(rr):.2f}]" if rr else ""
            cells.append(f"/ {anchor} {a[0] / b[0]:.2f}x{spread}")
        if cells:
            out.append(f"  {k:<6} " + "; ".join(cells))

def ratio_block(title, a, b, target):
    """ratio of medians over the same rounds for both targets: those where
    both were undisturbed when there is any, else all; then the min..max of
    the per-round ratios over all rounds"""
    if a not in TARGETS or b not in TARGETS:
        return
    out.append("")
    out.append(title)
    for c in conns:
        both = sorted(set(vals[a][f"c{c}_rate"]) & set(vals[b][f"c{c}_rate"]))
        if not both:
            continue
        clean = [r for r in both if is_clean(a, c, r) and is_clean(b, c, r)]
        use = clean or both
        cells = []
        for label, per in (("per core", lambda t, r: percore_round(t, c, r)),
                           ("raw", lambda t, r: vals[t][f"c{c}_rate"].get(r))):
            fa = med([x for x in (per(a, r) for r in use) if x])
            fb = med([x for x in (per(b, r) for r in use) if x])
            if not fa or not fb:
                cells.append(f"{label} -")
                continue
            q = fa / fb
            rr = [per(a, r) / per(b, r) for r in both if per(a, r) and per(b, r)]
            spread = f" [{min(rr):.2f}..{max(rr):.2f}]" if rr else ""
            verdict = ""
            if target and label == "per core":
                verdict = " ok" if q >= target else " BELOW"
            cells.append(f"{label} {q:.2f}x{verdict}{spread}")
        p99a = med([vals[a][f"c{c}_p99_ms"][r] for r in use if r in vals[a][f"c{c}_p99_ms"]])
        p99b = med([vals[b][f"c{c}_p99_ms"][r] for r in use if r in vals[b][f"c{c}_p99_ms"]])
        p99 = f"; p99 {p99a / p99b:.2f}x" if p99a and p99b else ""
        which = (f"rounds {','.join(map(str, use))} (both undisturbed)" if clean
                 else f"all {len(both)} rounds (none undisturbed for both)")
        out.append(f"  {c:>3} conn{'s' if c != '1' else ' '}: " + "; ".join(cells) + p99 + f"; {which}")

out.append("")
out.append("Ratios: medians over the same rounds for both sides (the rounds where both were undisturbed, "
           "else all), [min..max of the per-round ratios over all rounds]")
ratio_block("gatehouse-ws / haproxy-ws (full frame validation vs an unchecked tunnel; target >= 0.80x "
            "per core)", "gatehouse-ws", "haproxy-ws", 0.8)
ratio_block("gatehouse-ws / gatehouse-tcp-ws (what HTTP + frame checks cost inside gatehouse; no target)",
            "gatehouse-ws", "gatehouse-tcp-ws", None)
ratio_block("gatehouse-line / gatehouse-raw (framing = line vs raw, lines/s; no target set)",
            "gatehouse-line", "gatehouse-raw", None)

neg = [(t, text[t].get("negotiated", "").strip('"')) for t in TARGETS if text[t].get("negotiated")]
if neg:
    out.append("")
    out.append("Negotiated (round 1, the load client's OpenSSL defaults): TLS version, cipher, key-exchange group")
    for t, p in neg:
        out.append(f"  {t:<18}{p}")
probes = [(t, text[t].get("probe", "").strip('"')) for t in TARGETS if text[t].get("probe")]
if probes:
    out.append("")
    out.append("Validation probes (round 1): an unmasked client frame; a 9001-byte line (max_line 8k)")
    for t, p in probes:
        out.append(f"  {t:<18}{p}")
busy = vals["machine"]["busy_before_round"]
if busy:
    out.append("")
    out.append(f"WARNING: the machine was busy before round(s) {', '.join(str(r) for r in sorted(busy))}")
out.append("")
out.append("Errors / anomalies: " + ("; ".join(bad) if bad else "none (every echo verified byte for byte)"))
for t in TARGETS:
    for k in ("start_failed", "smoke_failed", "died"):
        if vals[t].get(k):
            out.append(f"  {t}: {k} in round(s) {sorted(vals[t][k])}")
print("\n".join(out))
EOF
}

if [ -n "$REPORT" ]; then
  [ -f "$REPORT" ] || die "--report: no file $REPORT"
  summarize "$REPORT"
  exit 0
fi

# ---------------------------------------------------------------- prerequisites
require_tools cc openssl taskset timeout python3 ps
HAPROXY=$(command -v haproxy || true)

TARGETS=()
if [ -n "$ONLY" ]; then IFS=, read -ra wanted <<<"$ONLY"; else wanted=("${ALL_TARGETS[@]}"); fi
for t in "${wanted[@]}"; do
  case " ${ALL_TARGETS[*]} " in *" $t "*) ;; *) die "--only: unknown target '$t' (known: ${ALL_TARGETS[*]})" ;; esac
  if [ "$t" = haproxy-ws ]; then
    if [ -z "$HAPROXY" ]; then log "skip haproxy-ws: not installed (scripts/setup-debian.sh --bench)"; continue; fi
  elif [ ! -x "$GATEHOUSE" ]; then
    log "skip $t: no binary at $GATEHOUSE (build it: meson setup build && ninja -C build)"; continue
  fi
  TARGETS+=("$t")
done
[ "${#TARGETS[@]}" -gt 0 ] || die "nothing to measure"

# ---------------------------------------------------------------- state, cleanup
bench_workdirs gatehouse-frames frames- target
ROUND=0
printf '0\trun\tsize\t%s\n' "$SIZE" >>"$RAW"

bench_traps

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# gatehouse may be rebuilt while the bench runs: run a private copy throughout
if [ -x "$GATEHOUSE" ]; then
  GH="$TMP/gatehouse-under-test"
  copy_under_test "$GATEHOUSE" "$GH" "$OUT/gatehouse-version.txt"
fi
if [ -n "$HAPROXY" ]; then
  HAPV=$("$HAPROXY" -v 2>&1 || true)
  echo "${HAPV%%$'\n'*}" >"$OUT/haproxy-version.txt"
fi

# ---------------------------------------------------------------- build the tools
WSL=$(bench_program ws_load -lssl -lcrypto)
ECHO=$(bench_program ws_echo_server -lcrypto)

# ---------------------------------------------------------------- helpers
# (free_ports, tree_pids, cpu_ticks, busy_minus, wait_listen...: bench/lib.sh)

# measure PROXYPID CMD...: runs CMD (a ws_load); sets OUTPUT, SHARE (proxy CPU
# share of one core over the command's wall time), OTHER1 (CPU 1 busy share
# not spent in the proxy: other processes and softirq), BACKEND (the echo
# backends' share) and OTHER0 (CPU 0 busy share spent neither in the client,
# by its own cpu_s=, nor in the backends: other processes and softirq)
measure() {
  local ppid=$1; shift
  local c0 c1 t0 t1 s0 s1 z0 z1 b0 b1 client
  s0=$(grep '^cpu1 ' /proc/stat); z0=$(grep '^cpu0 ' /proc/stat)
  read -r b0 _ <<<"$(cpu_ticks "$ECHO_WS_PID" "$ECHO_LINE_PID")"
  read -r c0 _ <<<"$(cpu_ticks "$ppid")"; t0=$EPOCHREALTIME
  OUTPUT=$("$@" 2>&1) || true
  t1=$EPOCHREALTIME; read -r c1 _ <<<"$(cpu_ticks "$ppid")"
  read -r b1 _ <<<"$(cpu_ticks "$ECHO_WS_PID" "$ECHO_LINE_PID")"
  s1=$(grep '^cpu1 ' /proc/stat); z1=$(grep '^cpu0 ' /proc/stat)
  SHARE=$(awk -v a="$c0" -v b="$c1" -v t0="$t0" -v t1="$t1" -v hz="$CLK_TCK" \
    'BEGIN { printf "%.4f", (b - a) / hz / (t1 - t0) }')
  BACKEND=$(awk -v a="$b0" -v b="$b1" -v t0="$t0" -v t1="$t1" -v hz="$CLK_TCK" \
    'BEGIN { printf "%.4f", (b - a) / hz / (t1 - t0) }')
  client=$(kv cpu_s "$OUTPUT")
  CLIENT=$(awk -v c="${client:-0}" -v t0="$t0" -v t1="$t1" 'BEGIN { printf "%.4f", c / (t1 - t0) }')
  OTHER1=$(busy_minus "$s0" "$s1" "$SHARE")
  OTHER0=$(busy_minus "$z0" "$z1" "$(awk -v a="$CLIENT" -v b="$BACKEND" 'BEGIN { print a + b }')")
}

# ---------------------------------------------------------------- certificate, backends
log "results: $OUT"
make_cert ec ""

read -r WS_BACK LINE_BACK P1 P2 P3 P4 P5 <<<"$(free_ports 7)"
[ -n "$P5" ] || die "could not find free ports"
declare -A PORT=([gatehouse-ws]=$P1 [haproxy-ws]=$P2 [gatehouse-tcp-ws]=$P3 [gatehouse-line]=$P4 [gatehouse-raw]=$P5)

taskset -c 0 "$ECHO" -p "$WS_BACK" >"$TMP/echo-ws.log" 2>&1 &
ECHO_WS_PID=$!; PIDS+=("$ECHO_WS_PID")
taskset -c 0 "$ECHO" -p "$LINE_BACK" --line >"$TMP/echo-line.log" 2>&1 &
ECHO_LINE_PID=$!; PIDS+=("$ECHO_LINE_PID")
wait_listen "$WS_BACK" "$ECHO_WS_PID" 10 || die "WebSocket echo backend did not start: $(cat "$TMP/echo-ws.log")"
wait_listen "$LINE_BACK" "$ECHO_LINE_PID" 10 || die "line echo backend did not start: $(cat "$TMP/echo-line.log")"
log "backends (CPU 0): WebSocket echo pid $ECHO_WS_PID on 127.0.0.1:$WS_BACK, line echo pid $ECHO_LINE_PID on 127.0.0.1:$LINE_BACK"

# ---------------------------------------------------------------- proxy configs
# every frame checked both ways (masking, opcodes, lengths, UTF-8 of text...),
# the ws_* limits and the http keys at their defaults
gh_conf gatehouse-ws "$P1" "$WS_BACK" "mode = http
websocket = on"
gh_conf gatehouse-tcp-ws "$P3" "$WS_BACK" "mode = tcp
framing = raw"
# line_ending lf, max_line 8k, line_charset any: the defaults
gh_conf gatehouse-line "$P4" "$LINE_BACK" "mode = tcp
framing = line
line_ending = lf"
gh_conf gatehouse-raw "$P5" "$LINE_BACK" "mode = tcp
framing = raw"

# HAProxy in http mode as bench/run.sh's haproxy-http (keep-alive, one backend
# connection per client, no logging, the same request headers gatehouse adds),
# plus "timeout tunnel", which governs the connection once the 101 has
# switched it: HAProxy then forwards bytes both ways without parsing frames.
# The TLS 1.3 suites in gatehouse's order: with OpenSSL's default list (and
# HAProxy's server preference) it would pick AES-256-GCM where gatehouse picks
# AES-128-GCM; the summary lists what each negotiated.
hap_http_conf haproxy-ws "$P2" "$WS_BACK" yes \
  "  ssl-default-bind-ciphersuites TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256" \
  "  timeout tunnel 300s"

for t in "${TARGETS[@]}"; do
  if [ "$t" = haproxy-ws ]; then
    "$HAPROXY" -c -f "$TMP/haproxy-ws.cfg" >"$TMP/haproxy-check.log" 2>&1 \
      || { cat "$TMP/haproxy-check.log" >&2; die "haproxy -c rejects the config"; }
  else
    "$GH" -t -c "$TMP/$t.ini" >"$TMP/$t-check.log" 2>&1 \
      || { cat "$TMP/$t-check.log" >&2; die "gatehouse -t rejects $t.ini"; }
  fi
done

start_target() {  # start_target NAME -> PROXY_PID; returns 1 on failure
  local name=$1 pid p logf="$TMP/$1.log"
  : >"$logf"
  if [ "$name" = haproxy-ws ]; then
    taskset -c 1 "$HAPROXY" -db -f "$TMP/haproxy-ws.cfg" >>"$logf" 2>&1 &
  else
    taskset -c 1 "$GH" -c "$TMP/$name.ini" >>"$logf" 2>&1 &
  fi
  pid=$!
  PIDS+=("$pid")
  PROXY_PID=$pid
  wait_listen "${PORT[$name]}" "$pid" 10 || return 1
  sleep 0.3
  for p in $(tree_pids "$pid"); do taskset -a -p -c 1 "$p" >/dev/null 2>&1 || true; done
  return 0
}

load_opts() {  # client options for a target
  case "$1" in
    gatehouse-line) echo --line ;;
    gatehouse-raw) echo --raw ;;
    *) echo "" ;;
  esac
}

smoke() {  # smoke NAME: 20 echoes on one connection, all right
  local out
  # shellcheck disable=SC2046
  out=$(taskset -c 0 timeout 20 "$WSL" -p "${PORT[$1]}" -c 1 -n 20 -d 10 -s "$SIZE" $(load_opts "$1") 2>&1) || true
  if [ "$(kv messages "$out")" = 20 ] && [ "$(kv wrong "$out")" = 0 ] && [ "$(kv errors "$out")" = 0 ]; then
    return 0
  fi
  log "  $1 smoke test failed: $out"
  return 1
}

# probe NAME (round 1): is the check really on? gatehouse-ws must refuse an
# unmasked client frame with its own close frame (1002, reason ws_unmasked);
# through haproxy-ws and gatehouse-tcp-ws the frame reaches the echo backend,
# which refuses it itself (1002, no reason). gatehouse-line must close on a
# line longer than max_line (8k); gatehouse-raw passes it (no close).
probe() {
  local name=$1 kind=ws res
  case "$name" in gatehouse-line|gatehouse-raw) kind=line ;; esac
  res=$(taskset -c 0 timeout 15 python3 - "${PORT[$name]}" "$kind" <<'EOF' 2>&1
import socket, ssl, struct, sys, base64, os
port, kind = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=5), server_hostname="localhost")
def recv_all(limit=4096):
    buf = b""
    try:
        while len(buf) < limit:
            d = s.recv(limit - len(buf))
            if not d: return buf, "eof"
            buf += d
    except (socket.timeout, TimeoutError):
        return buf, "open"
    except (ssl.SSLError, OSError) as e:
        return buf, "closed(%s)" % e.__class__.__name__
    return buf, "open"
if kind == "ws":
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(("GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % key).encode())
    head = b""
    while b"\r\n\r\n" not in head:
        d = s.recv(4096)
        if not d: break
        head += d
    rest = head.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in head else b""
    s.sendall(bytes([0x81, 5]) + b"hello")   # text frame WITHOUT mask: forbidden from a client
    s.settimeout(2)
    data, state = recv_all()
    data = rest + data
    if len(data) >= 2 and data[0] == 0x88:
        n = data[1] & 0x7F
        code = struct.unpack(">H", data[2:4])[0] if n >= 2 else 0
        print("close_code=%d reason=%s conn=%s" % (code, data[4:2 + n].decode(errors="replace") or "-", state))
    else:
        print("no_close bytes=%d conn=%s" % (len(data), state))
else:
    s.sendall(b"x" * 9000 + b"\n")   # one line of 9001 bytes: over max_line = 8k
    s.settimeout(2)
    data, state = recv_all(16384)
    print("echoed=%d conn=%s" % (len(data), state))
EOF
  ) || true
  res=$(tail -1 <<<"$res" | tr -d '\n')
  record "$name" probe "\"$res\""
  printf '%s\t%s\n' "$name" "$res" >>"$OUT/probe.tsv"
  log "  $name validation probe: $res"
}

run_load() {  # run_load NAME PPID CONNS
  local name=$1 ppid=$2 n=$3 rate p50 p99 wrong err ready cc
  # shellcheck disable=SC2046
  measure "$ppid" taskset -c 0 timeout $((DURATION + 30)) "$WSL" -p "${PORT[$name]}" -c "$n" \
    -d "$DURATION" -s "$SIZE" $(load_opts "$name")
  rate=$(kv msgs_per_s "$OUTPUT"); p50=$(kv p50_ms "$OUTPUT"); p99=$(kv p99_ms "$OUTPUT")
  wrong=$(kv wrong "$OUTPUT"); err=$(kv errors "$OUTPUT"); ready=$(kv ready "$OUTPUT"); cc=$(kv closed_clean "$OUTPUT")
  record "$name" "c${n}_rate" "${rate:-0}"; record "$name" "c${n}_p50_ms" "${p50:-NA}"
  record "$name" "c${n}_p99_ms" "${p99:-NA}"; record "$name" "c${n}_wrong" "${wrong:-NA}"
  record "$name" "c${n}_errors" "${err:-NA}"; record "$name" "c${n}_cpu" "$SHARE"
  record "$name" "c${n}_cpu1_other" "$OTHER1"; record "$name" "c${n}_closed_clean" "${cc:-NA}"
  record "$name" "c${n}_cpu0_other" "$OTHER0"; record "$name" "c${n}_client_cpu" "$CLIENT"
  record "$name" "c${n}_backend_cpu" "$BACKEND"
  if [ "$ROUND" = 1 ] && [ "$n" = "${CONNS[0]}" ]; then
    record "$name" negotiated "\"$(kv tls "$OUTPUT") $(kv cipher "$OUTPUT") $(kv group "$OUTPUT")\""
  fi
  log "  $name c=$n: ${rate:-?} msgs/s p50 ${p50:-?} ms p99 ${p99:-?} ms wrong ${wrong:-?} errors ${err:-?} ready ${ready:-?}/$n closed ${cc:-?} proxy-cpu $SHARE (CPU 1 others $OTHER1; CPU 0: client $CLIENT backend $BACKEND others $OTHER0)"
  if [ -z "$rate" ] || [ "${wrong:-1}" != 0 ] || [ "${err:-1}" != 0 ]; then
    log "  WARNING: $name c=$n not clean: $(tr '\n' ' ' <<<"$OUTPUT")"
  fi
}

# stream_load NAME PPID KIND: one small-frame streaming row (see the top).
# The client is one non-blocking thread over memory BIOs, so sending and
# reading overlap without two threads sharing one TLS object (two threads
# on one Python SSLSocket race: a recv() returns b"" with records still
# waiting in the socket, through any proxy). Metrics of kind both keep the
# names they had before the other kinds (stream_s, ...).
stream_load() {
  local name=$1 ppid=$2 kind=$3 secs back expect m
  m=stream_; [ "$kind" = both ] || m=stream_${kind}_
  measure "$ppid" taskset -c 0 timeout 60 python3 -c "$STREAM_CLIENT" "${PORT[$name]}" \
    "$STREAM_FRAMES" "$SIZE" "$kind"
  secs=$(kv stream_s "$OUTPUT"); back=$(kv back "$OUTPUT"); expect=$(kv expect "$OUTPUT")
  record "$name" "${m}s" "${secs:-NA}"; record "$name" "${m}back" "${back:-0}"
  record "$name" "${m}expect" "${expect:-NA}"
  record "$name" "${m}frames" "$STREAM_FRAMES"; record "$name" "${m}cpu" "$SHARE"
  log "  $name stream $kind: ${back:-?}/${expect:-?} frames back in ${secs:-?} s proxy-cpu $SHARE"
}
STREAM_CLIENT=$(cat <<'EOF'
import base64, os, resource, select, socket, ssl, sys, time
port, n, size, kind = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
# kind: both (each fragment echoed as it comes, read while sending), first
# (the same, nothing read until every fragment is written), s2c (the message
# in 64 KiB frames, echoed as n fragments: /split/SIZE), c2s (n fragments,
# echoed as one frame: /split/0)
path = {"s2c": "/split/%d" % size, "c2s": "/split/0"}.get(kind, "/")
expect = 1 if kind == "c2s" else n
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
sock = socket.create_connection(("127.0.0.1", port), timeout=10)
inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
tls = ctx.wrap_bio(inc, out, server_hostname="localhost")
def pump_in():
    d = sock.recv(1 << 18)
    if not d:
        raise EOFError
    inc.write(d)
while True:
    try:
        tls.do_handshake(); break
    except ssl.SSLWantReadError:
        sock.sendall(out.read()); pump_in()
sock.sendall(out.read())
key = base64.b64encode(os.urandom(16)).decode()
tls.write(("GET %s HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % (path, key)).encode())
sock.sendall(out.read())
plain = bytearray()
while b"\r\n\r\n" not in plain:
    try:
        plain += tls.read(1 << 16)
    except ssl.SSLWantReadError:
        pump_in()
plain = plain.split(b"\r\n\r\n", 1)[1]
def masked_length(m):
    if m < 126:
        return bytes([0x80 | m])
    if m <= 0xffff:
        return bytes([0x80 | 126]) + m.to_bytes(2, "big")
    return bytes([0x80 | 127]) + m.to_bytes(8, "big")
body = b"x" * size
length = masked_length(size)
def frame(i):   # masked with the zero key: the payload stays as it is
    b0 = (0x80 if i == n - 1 else 0) | (1 if i == 0 else 0)
    return bytes([b0]) + length + b"\0\0\0\0" + body
if kind == "s2c":   # the message in large frames (64 KiB: under any ws_max_frame)
    big = 1 << 16
    n_out = (n * size + big - 1) // big
    def frame(i):
        m = min(big, n * size - i * big)
        b0 = (0x80 if i == n_out - 1 else 0) | (1 if i == 0 else 0)
        return bytes([b0]) + masked_length(m) + b"\0\0\0\0" + b"x" * m
else:
    n_out = n
sock.setblocking(False)
pending, sent, back = bytearray(), 0, 0
t0 = time.monotonic()
while back < expect and time.monotonic() - t0 < 50:
    while sent < n_out and len(pending) < (1 << 16):
        tls.write(frame(sent)); sent += 1
        pending += out.read()
    reading = kind != "first" or (sent == n_out and not pending)
    r, w, _ = select.select([sock] if reading else [], [sock] if pending else [], [], 0.05)
    if w:
        try:
            del pending[:sock.send(pending)]
        except BlockingIOError:
            pass
    if r:
        try:
            pump_in()
        except EOFError:
            break
        except BlockingIOError:
            continue
        while True:
            try:
                c = tls.read(1 << 18)
            except ssl.SSLWantReadError:
                break
            if not c:
                break
            plain += c
        while len(plain) >= 2:
            l7 = plain[1] & 0x7f
            hl = 2 + (2 if l7 == 126 else 8 if l7 == 127 else 0)
            if len(plain) < hl:
                break
            ln = l7 if l7 < 126 else int.from_bytes(plain[2:hl], "big")
            if len(plain) < hl + ln:
                break
            back += 1
            del plain[:hl + ln]
el = time.monotonic() - t0
ru = resource.getrusage(resource.RUSAGE_SELF)
print("stream_s=%.3f back=%d expect=%d sent=%d cpu_s=%.3f" % (el, back, expect, sent,
                                                               ru.ru_utime + ru.ru_stime))
EOF
)

# ---------------------------------------------------------------- rounds
per_target=$(( 3 + ${#CONNS[@]} * (DURATION + 3) ))
log "targets: ${TARGETS[*]}; conns: ${CONNS[*]}; size $SIZE B; rounds=$ROUNDS duration=${DURATION}s"
log "expected duration about $(( (ROUNDS * (1 + ${#TARGETS[@]} * per_target) + 59) / 60 )) min (without --wait-quiet waits)"
: >"$OUT/probe.tsv"
BENCH_T0=$SECONDS
for ROUND in $(seq "$ROUNDS"); do
  rotate_order "$ROUND" "${TARGETS[@]}"
  warn_if_busy
  log "round $ROUND/$ROUNDS: ${ORDER[*]}"
  for name in "${ORDER[@]}"; do
    wait_quiet
    if ! start_target "$name"; then
      start_failed "$name" "$TMP/$name.log"
      continue
    fi
    ppid=$PROXY_PID
    if smoke "$name"; then
      [ "$ROUND" != 1 ] || probe "$name"
      for c in "${CONNS[@]}"; do run_load "$name" "$ppid" "$c"; done
      case "$name" in
        *-ws) if [ "$STREAM_FRAMES" != 0 ]; then
                for k in "${STREAM_KIND_LIST[@]}"; do stream_load "$name" "$ppid" "$k"; done
              fi ;;
      esac
    else
      record "$name" smoke_failed 1
    fi
    note_if_died "$name" "$ppid" "$TMP/$name.log"
    stop_pid "$ppid"
  done
done
log "rounds done in $((SECONDS - BENCH_T0)) s"
stop_pid "$ECHO_WS_PID"; stop_pid "$ECHO_LINE_PID"
log "backends: $(tr '\n' ' ' <"$TMP/echo-ws.log") / $(tr '\n' ' ' <"$TMP/echo-line.log")"

# ---------------------------------------------------------------- report
summarize "$RAW" >"$OUT/summary.txt"
echo
cat "$OUT/summary.txt"
log "raw figures: $RAW; summary: $OUT/summary.txt"
