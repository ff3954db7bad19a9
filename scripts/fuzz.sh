#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/fuzz_*.c) with clang in build-fuzz
# and runs each on a scratch copy of its seed corpus for a while.
#
#   scripts/fuzz.sh [--seconds N] [TARGET...]     (default: 30 s, every target)
#
# Exits non-zero when a target fails to build or finds a crash, leak or
# timeout; the input that did it is kept in build-fuzz/fuzz-artifacts/TARGET/.
# The committed corpus (tests/fuzz/corpus/TARGET) is only read: new inputs go
# to a temporary directory that is removed afterwards. To keep an interesting
# input, copy it into the corpus by hand.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=30
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) [ $# -ge 2 ] || { echo "fuzz.sh: --seconds needs a value" >&2; exit 2; }
               seconds=$2; shift 2 ;;
    --seconds=*) seconds=${1#--seconds=}; shift ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
case "$seconds" in
  ''|*[!0-9]*|0) echo "fuzz.sh: --seconds must be a positive whole number" >&2; exit 2 ;;
esac

if [ ${#targets[@]} -eq 0 ]; then
  for src in tests/fuzz/fuzz_*.c; do
    [ -e "$src" ] || continue
    name=${src#tests/fuzz/fuzz_}
    targets+=("${name%.c}")
  done
fi
[ ${#targets[@]} -gt 0 ] || { echo "fuzz.sh: no targets in tests/fuzz" >&2; exit 1; }

# Largest input worth trying, per input format.
max_len_for() {
  case "$1" in
    config) echo 8192 ;;   # a config file: 64 short listeners, lines up to 1000
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

failed=()
for t in "${targets[@]}"; do
  exe="$build/tests/fuzz/fuzz_$t"
  seeds="tests/fuzz/corpus/$t"
  artifacts="$build/fuzz-artifacts/$t"
  mkdir -p "$work/$t" "$artifacts"
  if [ -d "$seeds" ]; then
    cp -R "$seeds/." "$work/$t/"
  fi
  args=(-max_total_time="$seconds" -max_len="$(max_len_for "$t")" -timeout=10
        -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$artifacts/")
  if [ -f "tests/fuzz/$t.dict" ]; then
    args+=(-dict="tests/fuzz/$t.dict")
  fi
  echo "fuzz.sh: $t for ${seconds}s (corpus: $(ls "$work/$t" | wc -l) seeds)"
  if "$exe" "${args[@]}" "$work/$t" >"$work/$t.log" 2>&1; then
    echo "fuzz.sh: $t ok: $(grep -E '^(stat::number_of_executed_units|#[0-9]+[[:space:]]+DONE)' "$work/$t.log" | tail -n 2 | tr '\n' ' ')"
  else
    rc=$?
    tail -n 60 "$work/$t.log" >&2
    echo "fuzz.sh: $t FAILED (exit $rc); reproducer in $artifacts/" >&2
    failed+=("$t")
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: failures: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz.sh: all targets ok: ${targets[*]}"
