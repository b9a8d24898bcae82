#!/bin/bash
# run-smoke.sh BUILD_DIR [CORPUS_ROOT] [SECONDS]
#
# Runs every fuzz_* executable in BUILD_DIR for SECONDS (default: $FUZZ_SECONDS or 10),
# starting from the seeds in CORPUS_ROOT/<target>/ (default: corpus/ next to this script) and
# with the libFuzzer dictionary CORPUS_ROOT/<target>.dict if there is one.
# The seed directories are only read; inputs the run discovers go to a temporary directory.
# Exits non-zero if any target crashes, leaks, times out or trips a sanitizer, and prints
# where the reproducer was saved (run the target on that file to replay it).
# Env: FUZZ_SECONDS, FUZZ_JOBS (targets at once; default one per core).
set -u
here=$(cd "$(dirname "$0")" && pwd)
build=${1:?usage: run-smoke.sh BUILD_DIR [CORPUS_ROOT] [SECONDS]}
corpus_root=${2:-$here/corpus}
secs=${3:-${FUZZ_SECONDS:-10}}

work=$(mktemp -d "${TMPDIR:-/tmp}/colonnade-fuzz.XXXXXX")
keep=0
cleanup() { [ "$keep" = 1 ] || rm -rf "$work"; }
trap cleanup EXIT INT TERM

# One target: its output goes to $work/<name>/out and its verdict to $work/<name>/ok.
fuzz_one() {
	bin=$1
	name=$(basename "$bin")
	mkdir -p "$work/$name/new" "$work/$name/artifacts"
	seeds="$corpus_root/$name"
	set -- "$work/$name/new"
	[ -d "$seeds" ] && set -- "$@" "$seeds"
	[ -f "$corpus_root/$name.dict" ] && set -- -dict="$corpus_root/$name.dict" "$@"
	{
		echo "== $name: ${secs}s"
		if "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
			-print_final_stats=1 -artifact_prefix="$work/$name/artifacts/" "$@" \
			>"$work/$name/log" 2>&1; then
			grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb' "$work/$name/log"
			echo "== $name: ok"
			touch "$work/$name/ok"
		else
			tail -n 60 "$work/$name/log"
			echo "== $name: FAILED; reproducer(s):"
			ls -1 "$work/$name/artifacts/" | sed "s|^|   $work/$name/artifacts/|"
		fi
	} >"$work/$name/out"
}

# Targets run FUZZ_JOBS at a time (default: one per core); their reports follow in name order.
jobs=${FUZZ_JOBS:-$(nproc)}
names=""
running=0
for bin in "$build"/fuzz_*; do
	[ -f "$bin" ] && [ -x "$bin" ] || continue
	names="$names $(basename "$bin")"
	if [ "$running" -ge "$jobs" ]; then
		wait -n
		running=$((running - 1))
	fi
	fuzz_one "$bin" &
	running=$((running + 1))
done
wait
if [ -z "$names" ]; then
	echo "no fuzz_* executables in $build" >&2
	exit 1
fi
status=0
for name in $names; do
	cat "$work/$name/out"
	if [ ! -e "$work/$name/ok" ]; then
		status=1
		keep=1
	fi
done
exit $status
