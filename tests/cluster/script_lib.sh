# shellcheck shell=bash
# script_lib.sh — helpers the scripted cluster tests (tests/cluster/*_test.sh) share.
# Source it; it defines functions and NODE_UNSET, and runs nothing else.

# stop_pids SECONDS PID...: SIGTERM every pid, give each up to SECONDS to exit (checked
# every 0.1 s), then SIGKILL it and reap it if it is a child of this shell.
stop_pids() {
	local tries=$(($1 * 10)) p
	shift
	for p in "$@"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "$@"; do
		for _ in $(seq 1 "$tries"); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
}

# A node reads COLONNADE_* from its environment as config: NODE_UNSET holds the env -u
# flags that start it with none of this shell's; node_env CMD... runs CMD so.
NODE_UNSET=()
for v in $(env | grep -o '^COLONNADE_[A-Za-z0-9_]*' || true); do
	NODE_UNSET+=(-u "$v")
done
node_env() { env "${NODE_UNSET[@]}" "$@"; }

# jget FILE EXPR: a Python expression over the JSON object `j` read from FILE; "?" when
# the file is not JSON (a failed run), so the check that reads it fails, not the script.
jget() {
	python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' \
		"$1" "$2" 2>/dev/null || echo "?"
}

# node_driver_ready: npm's cassandra-driver in tests/cluster/node/node_modules, installed
# there by `npm ci` (the version package-lock.json pins) when it is missing.  Four cluster
# tests use it and ctest runs two at a time: the check and the install hold a lock on that
# directory, so one test installs while the other waits, and no test starts the driver from
# a node_modules another test's `npm ci` is still writing (or has just emptied).
node_driver_ready() {
	(cd "$(dirname "${BASH_SOURCE[0]}")/node" &&
		flock . sh -c '[ -d node_modules/cassandra-driver ] ||
			npm ci --no-audit --no-fund --loglevel=error')
}
