#!/bin/sh
# run-smoke.sh BUILD_DIR [CORPUS_ROOT] [SECONDS]
#
# Runs every fuzz_* executable in BUILD_DIR for SECONDS (default: $FUZZ_SECONDS or 10),
# starting from the seeds in CORPUS_ROOT/<target>/ (default: corpus/ next to this script) and
# with the libFuzzer dictionary CORPUS_ROOT/<target>.dict if there is one.
# The seed directories are only read; inputs the run discovers go to a temporary directory.
# Exits non-zero if any target crashes, leaks, times out or trips a sanitizer, and prints
# where the reproducer was saved (run the target on that file to replay it).
set -u
here=$(cd "$(dirname "$0")" && pwd)
build=${1:?usage: run-smoke.sh BUILD_DIR [CORPUS_ROOT] [SECONDS]}
corpus_root=${2:-$here/corpus}
secs=${3:-${FUZZ_SECONDS:-10}}

work=$(mktemp -d "${TMPDIR:-/tmp}/colonnade-fuzz.XXXXXX")
keep=0
cleanup() { [ "$keep" = 1 ] || rm -rf "$work"; }
trap cleanup EXIT INT TERM

status=0
found=0
for bin in "$build"/fuzz_*; do
	[ -f "$bin" ] && [ -x "$bin" ] || continue
	name=$(basename "$bin")
	found=$((found + 1))
	mkdir -p "$work/$name/new" "$work/$name/artifacts"
	seeds="$corpus_root/$name"
	set -- "$work/$name/new"
	[ -d "$seeds" ] && set -- "$@" "$seeds"
	[ -f "$corpus_root/$name.dict" ] && set -- -dict="$corpus_root/$name.dict" "$@"
	echo "== $name: ${secs}s"
	if "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
		-print_final_stats=1 -artifact_prefix="$work/$name/artifacts/" "$@" \
		>"$work/$name/log" 2>&1; then
		grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb' "$work/$name/log"
		echo "== $name: ok"
	else
		status=1
		keep=1
		tail -n 60 "$work/$name/log"
		echo "== $name: FAILED; reproducer(s):"
		ls -1 "$work/$name/artifacts/" | sed "s|^|   $work/$name/artifacts/|"
	fi
done
if [ "$found" = 0 ]; then
	echo "no fuzz_* executables in $build" >&2
	exit 1
fi
exit $status
