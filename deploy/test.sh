#!/usr/bin/env bash
# The README's test command: installs the dependencies, builds, and runs every
# test — the whole suite (unit, cluster, drivers, cqlish) in a normal build, the
# same suite again under AddressSanitizer + UBSan, and a short libFuzzer run of
# every fuzz target.  Fails when anything fails.
#
#   ./deploy/test.sh            everything (what CI runs)
#   ./deploy/test.sh --quick    the normal build's suite only
#   extra arguments go to ctest (e.g. -R storage)
#
# Environment: FUZZ_SECONDS (20 per target), COLONNADE_TEST_NET (127.0.0).
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0
if [ "${1:-}" = "--quick" ]; then
  quick=1
  shift
fi
./deploy/install-deps.sh

suite() { # build-dir cmake-flags...
  local dir=$1
  shift
  cmake -S . -B "$dir" "$@" >/dev/null
  cmake --build "$dir" -j"$(nproc)"
  (cd "$dir" && ctest --output-on-failure -j1 "${CTEST_ARGS[@]}")
}
CTEST_ARGS=("$@")

echo "== normal build (RelWithDebInfo): every test"
suite build -DCMAKE_BUILD_TYPE=RelWithDebInfo
[ "$quick" = 1 ] && exit 0

echo "== AddressSanitizer + UndefinedBehaviorSanitizer build: every test"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  suite build-asan -DCMAKE_BUILD_TYPE=Debug -DCOLONNADE_SANITIZE=ON

echo "== fuzz smoke (clang + libFuzzer; every tests/fuzz target, ${FUZZ_SECONDS:-20} s each)"
CTEST_ARGS=(-L fuzz)
suite build-fuzz -DCMAKE_C_COMPILER=clang -DCOLONNADE_FUZZ=ON
