#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/fuzz_*.c) with clang in build-fuzz
# and runs each on a scratch copy of its seed corpus for a while.
#
#   scripts/fuzz.sh [--seconds N] [--jobs N] [--merge] [TARGET...]
#
#   --seconds N  run time per target (default 30)
#   --jobs N     run N targets at once (default 1)
#   --merge      after a clean run, minimize the committed corpus plus the
#                new inputs with -merge=1 into a fresh directory and replace
#                tests/fuzz/corpus/TARGET with it (for long campaigns whose
#                findings are to be committed)
#
# Exits non-zero when a target fails to build or finds a crash, leak or
# timeout; the input that did it is kept in build-fuzz/fuzz-artifacts/TARGET/.
# Without --merge the committed corpus (tests/fuzz/corpus/TARGET) is only
# read: new inputs go to a temporary directory that is removed afterwards.
# Each target's full log, final stats included, is kept in
# build-fuzz/fuzz-logs/TARGET.log.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=30
jobs=1
merge=no
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) [ $# -ge 2 ] || { echo "fuzz.sh: --seconds needs a value" >&2; exit 2; }
               seconds=$2; shift 2 ;;
    --seconds=*) seconds=${1#--seconds=}; shift ;;
    --jobs) [ $# -ge 2 ] || { echo "fuzz.sh: --jobs needs a value" >&2; exit 2; }
            jobs=$2; shift 2 ;;
    --jobs=*) jobs=${1#--jobs=}; shift ;;
    --merge) merge=yes; shift ;;
    -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
case "$seconds" in
  ''|*[!0-9]*|0) echo "fuzz.sh: --seconds must be a positive whole number" >&2; exit 2 ;;
esac
case "$jobs" in
  ''|*[!0-9]*|0) echo "fuzz.sh: --jobs must be a positive whole number" >&2; exit 2 ;;
esac

if [ ${#targets[@]} -eq 0 ]; then
  for src in tests/fuzz/fuzz_*.c; do
    [ -e "$src" ] || continue
    name=${src#tests/fuzz/fuzz_}
    targets+=("${name%.c}")
  done
fi
[ ${#targets[@]} -gt 0 ] || { echo "fuzz.sh: no targets in tests/fuzz" >&2; exit 1; }

# Largest input worth trying, per input format. It also bounds what --merge
# can bring into the committed corpus.
max_len_for() {
  case "$1" in
    config) echo 8192 ;;   # a config file: 64 short listeners, lines up to 1000
    websocket_2way) echo 12288 ;; # room for a client's text frame over the 4k buffer (streamed, not held)
    *) echo 4096 ;;
  esac
}

build=build-fuzz
if [ ! -f "$build/build.ninja" ]; then
  CC=clang meson setup "$build" -Dfuzz=true --buildtype=debugoptimized
elif ! meson configure "$build" | grep -Eq '^ *fuzz +true'; then
  meson configure "$build" -Dfuzz=true
fi
exes=()
for t in "${targets[@]}"; do exes+=("tests/fuzz/fuzz_$t"); done
ninja -C "$build" "${exes[@]}"

export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
logs="$build/fuzz-logs"
mkdir -p "$logs"

corpus_summary() {  # DIR -> "N files, N bytes"
  echo "$(find "$1" -type f | wc -l) files, $(find "$1" -type f -exec cat {} + | wc -c) bytes"
}

# Runs one target; its verdict is the exit status, its output one or two
# summary lines (whole log in $logs/TARGET.log).
run_target() {
  local t=$1
  local exe="$build/tests/fuzz/fuzz_$t"
  local seeds="tests/fuzz/corpus/$t"
  local artifacts="$build/fuzz-artifacts/$t"
  local log="$logs/$t.log"
  local max_len
  max_len=$(max_len_for "$t")
  mkdir -p "$work/$t" "$artifacts"
  if [ -d "$seeds" ]; then
    cp -R "$seeds/." "$work/$t/"
  fi
  local args=(-max_total_time="$seconds" -max_len="$max_len" -timeout=10
              -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$artifacts/")
  if [ -f "tests/fuzz/$t.dict" ]; then
    args+=(-dict="tests/fuzz/$t.dict")
  fi
  echo "fuzz.sh: $t for ${seconds}s (corpus: $(ls "$work/$t" | wc -l) seeds)"
  local rc=0
  "$exe" "${args[@]}" "$work/$t" >"$log" 2>&1 || rc=$?
  if [ $rc -ne 0 ]; then
    tail -n 60 "$log" >&2
    echo "fuzz.sh: $t FAILED (exit $rc); reproducer in $artifacts/, log in $log" >&2
    return 1
  fi
  echo "fuzz.sh: $t ok: $(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1)" \
       "$(grep -E '^stat::(number_of_executed_units|average_exec_per_sec)' "$log" | tr '\n' ' ')"
  if [ "$merge" = yes ]; then
    # Merge into a directory that holds only the hand-written seeds (any
    # name but a 40-hex content hash, which is how libFuzzer names what it
    # finds): they stay as documentation and regressions; of the rest, old
    # or new, only inputs that add coverage to them are kept, smallest
    # first, so inputs the campaign superseded are dropped.
    local fresh="$work/$t.merged"
    local before="(none)"
    mkdir -p "$fresh"
    if [ -d "$seeds" ]; then
      before=$(corpus_summary "$seeds")
      local f
      for f in "$seeds"/*; do
        [ -f "$f" ] || continue
        case "$(basename "$f")" in
          [0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]????????????????????????????????) ;;
          *) cp "$f" "$fresh/" ;;
        esac
      done
    fi
    if ! "$exe" -merge=1 -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 \
         "$fresh" "$work/$t" >>"$log" 2>&1; then
      tail -n 30 "$log" >&2
      echo "fuzz.sh: $t merge FAILED; corpus left as it was" >&2
      return 1
    fi
    rm -rf "$seeds"
    mkdir -p "$seeds"
    cp -R "$fresh/." "$seeds/"
    echo "fuzz.sh: $t corpus merged: $before -> $(corpus_summary "$seeds")"
  fi
}

failed=()
if [ "$jobs" -eq 1 ]; then
  for t in "${targets[@]}"; do
    run_target "$t" || failed+=("$t")
  done
else
  # At most $jobs targets at once; each records its verdict in a file.
  running=0
  for t in "${targets[@]}"; do
    if [ "$running" -ge "$jobs" ]; then
      wait -n || true
      running=$((running - 1))
    fi
    ( verdict=failed
      if run_target "$t"; then verdict=ok; fi
      echo "$verdict" > "$work/$t.verdict" ) &
    running=$((running + 1))
  done
  wait
  for t in "${targets[@]}"; do
    [ "$(cat "$work/$t.verdict" 2>/dev/null)" = ok ] || failed+=("$t")
  done
fi

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: failures: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz.sh: all targets ok: ${targets[*]}"
