#!/usr/bin/env bash
# The README's test command: installs the dependencies, checks the include
# layering and the size limits, builds with warnings as errors, and runs every
# test in a RelWithDebInfo build (unit, cluster, drivers, cqlish, compose); every
# unit test again in a Release (-O3) build; the suite again under
# AddressSanitizer + UBSan; and a short libFuzzer run of every fuzz target.
# Fails when anything fails; prints how long each stage took.  What each later
# stage leaves out, and why (CI must stay well under an hour on 2 cores):
# - Release runs the unit tests only: the cluster tests exercise the same code
#   already built with the optimizer on (RelWithDebInfo is -O2), and each of
#   their runs costs minutes of waiting on real processes.
# - The docker-compose test (six containers, 2.5-6 min) runs in the first stage
#   only: it checks the image and the orchestration, which the build type does
#   not change.
# - Under the sanitizers the load tests (storage stall, overload, bench) are left
#   out: they measure throughput and timing under load, which a 2-3x slower
#   sanitized node changes; the code they drive is under the sanitizers through
#   the unit tests (test_storage_writer, test_coordinator_overload, test_cli_conn)
#   and the other cluster tests.
#
#   ./deploy/test.sh            everything (what CI runs)
#   ./deploy/test.sh --quick    the layering check and the RelWithDebInfo suite only
#   extra arguments go to ctest (e.g. -R storage)
#
# Environment: FUZZ_SECONDS (10 per target), COLONNADE_TEST_NET (127.0.0),
# COLONNADE_TEST_NETS (the address blocks cluster tests run on at once; default
# COLONNADE_TEST_NET and the next block, e.g. "127.0.0 127.0.1"; one block: serial).
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0
if [ "${1:-}" = "--quick" ]; then
  quick=1
  shift
fi
CTEST_ARGS=("$@")
./deploy/install-deps.sh

TIMES=()
STAGE=""
stage_start=$SECONDS
end_stage() {
  [ -n "$STAGE" ] && TIMES+=("$(printf '%6d s  %s' $((SECONDS - stage_start)) "$STAGE")")
  return 0
}
stage() { # the stage that begins now
  end_stage
  STAGE=$1
  stage_start=$SECONDS
  echo "== $STAGE"
}
report() {
  local rc=$?
  [ -n "${RESOURCES:-}" ] && rm -f "$RESOURCES"
  end_stage
  echo "== stage times"
  printf '%s\n' "${TIMES[@]}"
  if [ $rc = 0 ]; then echo "== passed"; else echo "== FAILED in: $STAGE"; fi
}
trap report EXIT

# Cluster tests run two at a time, each on its own block of loopback addresses
# (tests/cluster/on-net.sh): they spend most of their time waiting on real
# processes.  Unit tests and the load tests still run alone (RUN_SERIAL).
NET=${COLONNADE_TEST_NET:-127.0.0}
read -r -a NETS <<<"${COLONNADE_TEST_NETS:-$NET ${NET%.*}.$((${NET##*.} + 1))}"
RESOURCES=$(mktemp --suffix=.json "${TMPDIR:-/tmp}/colonnade-ctest-nets.XXXXXX")
{
  printf '{"version": {"major": 1, "minor": 0}, "local": [{"nets": ['
  sep=""
  for n in "${NETS[@]}"; do
    printf '%s{"id": "net_%s", "slots": 1}' "$sep" "${n//./_}"
    sep=", "
  done
  printf ']}]}\n'
} >"$RESOURCES"
echo "cluster tests: ${#NETS[@]} at a time, on ${NETS[*]} (COLONNADE_TEST_NETS)"

suite() { # build-dir cmake-flags...
  local dir=$1
  shift
  cmake -S . -B "$dir" -DCOLONNADE_WERROR=ON "$@" >/dev/null
  cmake --build "$dir" -j"$(nproc)"
  (cd "$dir" && ctest --output-on-failure -j"${#NETS[@]}" --resource-spec-file "$RESOURCES" \
    "${CTEST_ARGS[@]}")
}

stage "layering: includes point only down (deploy/check-layering.sh)"
./deploy/check-layering.sh

stage "sizes: files within 1,500 lines, functions within 120 (deploy/check-sizes.sh)"
./deploy/check-sizes.sh

stage "RelWithDebInfo build: every test"
suite build -DCMAKE_BUILD_TYPE=RelWithDebInfo
[ "$quick" = 1 ] && exit 0

stage "Release build (-O3): every unit test"
CTEST_ARGS=("$@" -L unit)
suite build-release -DCMAKE_BUILD_TYPE=Release

# tests left out under the sanitizers (see above)
LOAD=(-E '^(script_compose_test|script_overload_test|script_bench_test|cluster_test_storage_stall)$')
stage "AddressSanitizer + UndefinedBehaviorSanitizer build: every test but compose and the load tests"
CTEST_ARGS=("$@" "${LOAD[@]}")
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  suite build-asan -DCMAKE_BUILD_TYPE=Debug -DCOLONNADE_SANITIZE=ON

stage "fuzz smoke (clang + libFuzzer; every tests/fuzz target, ${FUZZ_SECONDS:-10} s each)"
CTEST_ARGS=(-L fuzz)
suite build-fuzz -DCMAKE_C_COMPILER=clang -DCOLONNADE_FUZZ=ON
