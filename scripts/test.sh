#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what is needed (Debian 12,
# as root), builds with -Werror, runs the unit tests and the integration
# tests, a 2-minute soak (tests/soak; GATEHOUSE_SOAK_SECONDS), then the
# unit and integration tests again in an AddressSanitizer + UBSan build,
# then each fuzz target for a bounded time. Ends with "N passed, N failed".
#   --quick   skip the sanitizer build and the fuzzers
set -uo pipefail
cd "$(dirname "$0")/.."

quick=0
fuzz_seconds=${GATEHOUSE_FUZZ_SECONDS:-20}
for arg in "$@"; do
  case "$arg" in
    --quick) quick=1 ;;
    *) echo "usage: $0 [--quick]" >&2; exit 2 ;;
  esac
done

scripts/setup-debian.sh --tests || { echo "setup failed"; exit 1; }

# Debian's python3 has pytest (python3-pytest); a python3 earlier on PATH
# (pyenv, a venv) may not.
python=/usr/bin/python3
[ -x "$python" ] || python=python3

passed=0
failed=0
failures=()
results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT

count_cmocka() { # LOG NAME
  local p f
  p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$1" | tail -n1)
  f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$1" | tail -n1)
  passed=$((passed + ${p:-0}))
  failed=$((failed + ${f:-0}))
  if [ -z "$p$f" ]; then failed=$((failed + 1)); failures+=("$2: no result"); fi
  [ "${f:-0}" = 0 ] || failures+=("$2")
}

count_junit() { # XML NAME
  local counts
  counts=$("$python" - "$1" <<'PY'
import sys, xml.etree.ElementTree as ET
try:
    root = ET.parse(sys.argv[1]).getroot()
except Exception:
    print("0 1"); sys.exit()
suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
t = f = s = 0
for su in suites:
    t += int(su.get("tests", 0)); f += int(su.get("failures", 0)) + int(su.get("errors", 0))
    s += int(su.get("skipped", 0))
print(t - f - s, f + s)  # a skipped test is not a pass
PY
)
  passed=$((passed + ${counts% *}))
  failed=$((failed + ${counts#* }))
  [ "${counts#* }" = 0 ] || failures+=("$2")
}

run_suite() { # BUILD_DIR LABEL [pytest options...]
  local dir=$1 label=$2
  local t name
  shift 2
  for t in "$dir"/tests/unit/test_*; do
    [ -f "$t" ] && [ -x "$t" ] || continue
    name=$(basename "$t")
    echo "=== $label: unit tests: $name"
    "$t" > "$results/$label-$name.log" 2>&1
    tail -n 3 "$results/$label-$name.log"
    count_cmocka "$results/$label-$name.log" "$label $name"
  done
  echo "=== $label: integration tests"
  GATEHOUSE_BIN="$PWD/$dir/gatehouse" "$python" -m pytest -q -p no:cacheprovider \
    --junitxml="$results/$label-integration.xml" "$@" tests/integration
  count_junit "$results/$label-integration.xml" "$label integration"
}

build() { # DIR [meson options...]
  local dir=$1; shift
  if [ ! -f "$dir/build.ninja" ]; then
    meson setup "$dir" --werror "$@" > "$results/setup-$dir.log" 2>&1 || { cat "$results/setup-$dir.log"; return 1; }
  fi
  ninja -C "$dir" > "$results/ninja-$dir.log" 2>&1 || { tail -n 60 "$results/ninja-$dir.log"; return 1; }
}

run_soak() { # BUILD_DIR SECONDS: tests/soak against that build, one counted result
  echo "=== soak (${2}s against $1/gatehouse)"
  if GATEHOUSE_BIN="$PWD/$1/gatehouse" "$python" tests/soak/soak.py --duration "$2" \
       > "$results/soak.log" 2>&1; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1)); failures+=("soak")
  fi
  if grep -q '^kind ' "$results/soak.log"; then
    sed -n '/^kind /,$p' "$results/soak.log"   # the reconciliation table and verdict
  else
    tail -n 40 "$results/soak.log"
  fi
}

echo "=== build (-Werror)"
if build build-ci; then
  run_suite build-ci plain
  run_soak build-ci "${GATEHOUSE_SOAK_SECONDS:-120}"
else
  failed=$((failed + 1)); failures+=("build")
fi

echo "=== static checks (cppcheck, clang-tidy)"
if scripts/lint.sh build-ci; then
  passed=$((passed + 1))
else
  failed=$((failed + 1)); failures+=("lint")
fi

echo "=== TLS scan (testssl.sh against the default TLS settings)"
if GATEHOUSE_BIN="$PWD/build-ci/gatehouse" tests/tls-scan > "$results/tls-scan.log" 2>&1; then
  passed=$((passed + 1))
  grep -E "^(protocols offered|cipher suites offered|forward secrecy|RESULT)" "$results/tls-scan.log"
else
  tail -n 40 "$results/tls-scan.log"
  failed=$((failed + 1)); failures+=("tls-scan")
fi

if [ "$quick" = 0 ]; then
  echo "=== build (AddressSanitizer + UndefinedBehaviorSanitizer)"
  if build build-asan -Db_sanitize=address,undefined -Db_lundef=false; then
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1
    export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
    export GATEHOUSE_TEST_STREAM_MB=${GATEHOUSE_TEST_STREAM_MB_ASAN:-16}
    export GATEHOUSE_SANITIZED=1
    # test_package.py builds, lints and installs the release package from
    # its own build directory: it exercises no sanitized binary, and it ran
    # in the plain pass above, so it is not run a second time here.
    run_suite build-asan asan --ignore=tests/integration/test_package.py
    unset ASAN_OPTIONS UBSAN_OPTIONS GATEHOUSE_TEST_STREAM_MB GATEHOUSE_SANITIZED
  else
    failed=$((failed + 1)); failures+=("asan build")
  fi

  echo "=== fuzz targets, ${fuzz_seconds}s each"
  if scripts/fuzz.sh --seconds "$fuzz_seconds" > "$results/fuzz.log" 2>&1; then
    passed=$((passed + 1))
    grep -E "^(fuzz|===|target)" "$results/fuzz.log" | tail -n 20
  else
    tail -n 40 "$results/fuzz.log"
    failed=$((failed + 1)); failures+=("fuzz")
  fi
fi

echo
for f in "${failures[@]}"; do echo "FAILED: $f"; done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
