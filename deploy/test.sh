#!/usr/bin/env bash
# Installs the dependencies, builds, and runs every test (unit, cluster, driver,
# fuzz smoke).  COLONNADE_SANITIZE=1 builds with ASan+UBSan into build-asan/.
set -euo pipefail
cd "$(dirname "$0")/.."
./deploy/install-deps.sh
if [ "${COLONNADE_SANITIZE:-0}" = 1 ]; then
  B=build-asan; FLAGS=(-DCOLONNADE_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug)
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
else
  B=build; FLAGS=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
fi
cmake -S . -B "$B" "${FLAGS[@]}" >/dev/null
cmake --build "$B" -j"$(nproc)"
cd "$B"
ctest --output-on-failure -j1 "$@"
