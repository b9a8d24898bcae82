#!/usr/bin/env bash
# Acceptance test of `colonnade bench` against a real local 3-node cluster.
#
# What a new user would check: every workload runs for its duration and
# prints progress and a summary; the figures agree with independent counts
# (the rows present afterwards, read back with cqlish at ALL, and the
# servers' own request counters from the admin /metrics endpoint); with a
# node paused by SIGSTOP in the middle of a rate-limited run, the reported
# p99.9 and max show the pause (no coordinated omission); bad input (an
# unreachable contact point, a bad option, a consistency level the keyspace
# cannot meet) gives a clear message and a non-zero exit.
#
# Nothing here asserts a speed: figures are printed, never judged.
#
# Env: COLONNADE_BIN (required), CQLISH_BIN (optional: the row count check is
# skipped without it), COLONNADE_TEST_NET (default 127.0.0: nodes .1-.3),
# COLONNADE_KEEP=1 keeps the temp directory.
set -euo pipefail

BIN=${COLONNADE_BIN:?set COLONNADE_BIN to the colonnade binary}
CQLISH=${CQLISH_BIN:-}
NET=${COLONNADE_TEST_NET:-127.0.0}
N=3
ROOT=$(mktemp -d /tmp/colonnade-bench-test.XXXXXX)
FAILED=0
PASSED=0
declare -a PIDS=()

say() { echo "bench_test: $*"; }

cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		kill -CONT "$p" 2>/dev/null || true
		kill -KILL "$p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	if [ "$FAILED" -ne 0 ]; then
		for k in $(seq 1 $N); do
			echo "--- node $k log (tail)"
			tail -n 25 "$ROOT/node$k/node.log" 2>/dev/null || true
		done
	fi
	if [ "${COLONNADE_KEEP:-0}" = 1 ] || [ "$FAILED" -ne 0 ]; then
		say "kept $ROOT"
	else
		rm -rf "$ROOT"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
	say "FAIL: $*"
	FAILED=$((FAILED + 1))
}
pass() {
	say "ok: $*"
	PASSED=$((PASSED + 1))
}

# jget FILE EXPR: evaluate a Python expression over the JSON object `j`.
jget() {
	python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# The node reads COLONNADE_* from its environment as config: give it none.
UNSET=()
for v in $(env | grep -o '^COLONNADE_[A-Za-z0-9_]*' || true); do
	UNSET+=(-u "$v")
done
node_env() { env "${UNSET[@]}" "$@"; }

start_node() {
	local k=$1 dir="$ROOT/node$1"
	mkdir -p "$dir/data"
	cat >"$dir/colonnade.yaml" <<EOF
cluster_name: 'bench-test'
listen_address: $NET.$k
rpc_address: $NET.$k
seed_provider:
  - class_name: org.apache.cassandra.locator.SimpleSeedProvider
    parameters:
      - seeds: "$NET.1,$NET.2"
data_file_directories:
  - $dir/data
num_tokens: 16
gossip_interval: 50ms
phi_convict_threshold: 8
endpoint_snitch: GossipingPropertyFileSnitch
dc: dc1
rack: rack1
log_level: info
EOF
	(cd "$dir" && exec env "${UNSET[@]}" "$BIN" server -c "$dir/colonnade.yaml" \
		>"$dir/node.log" 2>&1) &
	PIDS[$k]=$!
}

count_up() {
	node_env "$BIN" status -h "$NET.1" 2>/dev/null | grep -c '^UN ' || true
}

metric_sum() { # metric name -> sum over every node's /metrics
	local total=0 k v
	for k in $(seq 1 $N); do
		v=$(curl -s --max-time 5 "http://$NET.$k:7199/metrics" |
			awk -v m="$1" '$1 == m { printf "%.0f", $2 }' || true)
		total=$((total + ${v:-0}))
	done
	echo "$total"
}

bench() { node_env "$BIN" bench "$@"; }

KS=bench_test
REPL3="{'class':'SimpleStrategy','replication_factor':3}"

# ---- bad input (no cluster needed for the first two) --------------------------------------
out=$(bench write --nodes "$NET.99" --ops 10 2>&1) && rc=0 || rc=$?
if [ "$rc" -ne 0 ] && grep -q "cannot connect to any contact point" <<<"$out" &&
	grep -q "$NET.99:9042" <<<"$out"; then
	pass "unreachable contact point: exit $rc, '$(head -1 <<<"$out")'"
else
	fail "unreachable contact point: exit $rc, output: $out"
fi
out=$(bench write --connections 0 2>&1) && rc=0 || rc=$?
if [ "$rc" -eq 2 ] && grep -q -- "--connections: '0'" <<<"$out"; then
	pass "bad option: exit 2, '$out'"
else
	fail "bad option: exit $rc, output: $out"
fi
out=$(bench frobnicate 2>&1) && rc=0 || rc=$?
[ "$rc" -eq 2 ] && grep -q "unknown workload 'frobnicate'" <<<"$out" &&
	pass "bad workload: '$out'" || fail "bad workload: exit $rc, $out"

# ---- the cluster ----------------------------------------------------------------------------
for k in $(seq 1 $N); do start_node "$k"; done
deadline=$((SECONDS + 90))
while [ "$(count_up)" -ne $N ]; do
	if [ $SECONDS -ge $deadline ]; then
		fail "the cluster did not come up (UN: $(count_up) of $N)"
		exit 1
	fi
	for k in $(seq 1 $N); do
		kill -0 "${PIDS[$k]}" 2>/dev/null || { fail "node $k exited"; exit 1; }
	done
	sleep 0.5
done
say "cluster up: $NET.1..$NET.$N"
# The CQL port answers a little after gossip settles, and the schema must
# reach every node (bench retries PREPARE for 10 s on each).
deadline=$((SECONDS + 40))
until bench write --nodes "$NET.1" --ops 1 --keyspace warmup --replication "$REPL3" --quiet \
	>"$ROOT/warmup.out" 2>&1; do
	if [ $SECONDS -ge $deadline ]; then
		fail "bench cannot run against the cluster: $(cat "$ROOT/warmup.out")"
		exit 1
	fi
	sleep 1
done

# ---- write run: figures vs independent counts -----------------------------------------------
req0=$(metric_sum colonnade_cql_requests_total)
err0=$(metric_sum colonnade_cql_errors_total)
bench write --nodes "$NET.1,$NET.2" --drop --keyspace $KS --replication "$REPL3" \
	--ops 6000 --records 6000 --connections 2 --inflight 8 --cl-write QUORUM --json \
	>"$ROOT/write.json" 2>"$ROOT/write.err" || fail "write run exited $?: $(cat "$ROOT/write.err")"
req1=$(metric_sum colonnade_cql_requests_total)
err1=$(metric_sum colonnade_cql_errors_total)
ops=$(jget "$ROOT/write.json" 'j["ops"]')
ok=$(jget "$ROOT/write.json" 'j["ok"]')
errs=$(jget "$ROOT/write.json" 'j["errors"]["total"]')
server_errs=$(jget "$ROOT/write.json" 'j["errors"]["unavailable"]+j["errors"]["write_timeout"]+j["errors"]["read_timeout"]+j["errors"]["overloaded"]+j["errors"]["other_server"]')
conns=$(jget "$ROOT/write.json" 'j["connections"]')
say "write run: ops $ops ok $ok errors $errs; server frames +$((req1 - req0)), server errors +$((err1 - err0))"
[ "$ops" -eq 6000 ] && pass "write run did --ops 6000" || fail "write run did $ops ops"
# Every op is one EXECUTE frame; setup adds OPTIONS+STARTUP per connection
# (data and control), a few control queries, PREPAREs and one probe.
extra=$((req1 - req0 - ops))
if [ "$extra" -ge 0 ] && [ "$extra" -le $((2 * conns + 40)) ]; then
	pass "servers handled $((req1 - req0)) frames = $ops ops + $extra setup frames"
else
	fail "servers handled $((req1 - req0)) frames for $ops ops (setup frames $extra, conns $conns)"
fi
[ $((err1 - err0)) -eq "$server_errs" ] &&
	pass "server error counter +$((err1 - err0)) = bench's server errors" ||
	fail "server error counter +$((err1 - err0)) but bench counted $server_errs"
if [ -n "$CQLISH" ] && [ -x "$CQLISH" ]; then
	cnt=$(node_env "$CQLISH" "$NET.3" -e "CONSISTENCY ALL; SELECT COUNT(*) FROM $KS.standard1;" \
		2>"$ROOT/count.err" | grep -E '^[[:space:]]*[0-9]+[[:space:]]*$' | tr -d ' ' | head -1)
	# A write that failed (timeout) may still have been applied.
	if [ -n "$cnt" ] && [ "$cnt" -ge "$ok" ] && [ "$cnt" -le "$ops" ]; then
		pass "SELECT COUNT(*) at ALL = $cnt rows for $ok acknowledged writes"
	else
		fail "SELECT COUNT(*) gave '${cnt}' ($(cat "$ROOT/count.err")) for $ok acknowledged writes"
	fi
else
	say "skip: row count (no CQLISH_BIN)"
fi

# ---- read run over the written keys: every read finds its row -----------------------------
bench read --nodes "$NET.3" --keyspace $KS --no-schema --records 6000 --ops 4000 \
	--cl-read QUORUM --inflight 4 --json >"$ROOT/read.json" 2>"$ROOT/read.err" ||
	fail "read run exited $?: $(cat "$ROOT/read.err")"
misses=$(jget "$ROOT/read.json" 'j["read_misses"]')
rok=$(jget "$ROOT/read.json" 'j["ok"]')
[ "$misses" -eq 0 ] && [ "$rok" -eq 4000 ] &&
	pass "4000 reads of written keys: $rok ok, $misses misses" ||
	fail "reads of written keys: ok $rok, misses $misses"
# Keys beyond the written range are really missing (the check above can fail).
bench read --nodes "$NET.3" --keyspace $KS --no-schema --records 12000 --ops 2000 \
	--cl-read ONE --json >"$ROOT/read2.json" 2>/dev/null || true
misses=$(jget "$ROOT/read2.json" 'j["read_misses"]')
[ "$misses" -gt 500 ] && [ "$misses" -lt 1500 ] &&
	pass "reads over twice the written range miss about half: $misses of 2000" ||
	fail "reads over twice the written range: $misses misses of 2000"

# ---- every workload: progress lines and a summary -------------------------------------------
for w in write read "mixed --ratio read=3,write=1" A B C D F; do
	# shellcheck disable=SC2086
	if bench $w --nodes "$NET.1" --keyspace $KS --no-schema --records 6000 --duration 2s \
		--connections 2 --inflight 4 >"$ROOT/w.out" 2>&1; then
		prog=$(grep -c '^\[ *[0-9.]*s\] .* ops/s  p50' "$ROOT/w.out" || true)
		if [ "$prog" -ge 1 ] && grep -q '^Results over' "$ROOT/w.out" &&
			grep -q 'CLOSED LOOP' "$ROOT/w.out"; then
			pass "workload $w: $prog progress lines, $(grep '^Results' "$ROOT/w.out")"
		else
			fail "workload $w: output lacks progress/summary: $(cat "$ROOT/w.out")"
		fi
	else
		fail "workload $w exited non-zero: $(tail -5 "$ROOT/w.out")"
	fi
done

# ---- node processes from /proc --------------------------------------------------------------
bench A --nodes "$NET.1" --keyspace $KS --no-schema --records 6000 --duration 2s --json \
	--hdr-out "$ROOT/a.hgrm" --plot "$ROOT/a.png" >"$ROOT/a.json" 2>"$ROOT/a.err" ||
	fail "A with --hdr-out/--plot exited non-zero: $(cat "$ROOT/a.err")"
for k in $(seq 1 $N); do
	got=$(jget "$ROOT/a.json" "[p['pid'] for p in j['node_processes'] if p['node']=='$NET.$k:9042'][0]")
	cpu=$(jget "$ROOT/a.json" "[p['cpu_s'] for p in j['node_processes'] if p['node']=='$NET.$k:9042'][0]")
	[ "$got" = "${PIDS[$k]}" ] && pass "node $k found by its listening address: pid $got, CPU ${cpu}s" ||
		fail "node $k: bench reports pid '$got', it is ${PIDS[$k]}"
done
grep -q '^#\[Max     =' "$ROOT/a.hgrm" && pass "--hdr-out wrote a .hgrm" || fail "--hdr-out"
if command -v gnuplot >/dev/null; then
	[ "$(head -c 4 "$ROOT/a.png" | od -An -c | tr -d ' ')" = '211PNG' ] &&
		pass "--plot drew a PNG" || fail "--plot did not draw a PNG"
fi

# ---- coordinated omission: SIGSTOP a node during a rate-limited run ------------------------
PAUSE_MS=2000
bench write --nodes "$NET.1" --keyspace $KS --no-schema --records 6000 --rate 1000 \
	--duration 8s --connections 2 --inflight 32 --cl-write QUORUM --json \
	>"$ROOT/stall.json" 2>"$ROOT/stall.err" &
bpid=$!
sleep 3
kill -STOP "${PIDS[2]}"
sleep $((PAUSE_MS / 1000))
kill -CONT "${PIDS[2]}"
wait $bpid || fail "stall run exited $?: $(cat "$ROOT/stall.err")"
max=$(jget "$ROOT/stall.json" 'j["latency_ms"]["max"]')
p999=$(jget "$ROOT/stall.json" 'j["latency_ms"]["p999"]')
p50=$(jget "$ROOT/stall.json" 'j["latency_ms"]["p50"]')
say "stall run: p50 ${p50} ms, p99.9 ${p999} ms, max ${max} ms (node 2 paused ${PAUSE_MS} ms)"
# Slack: the pause starts a little after requests are queued on node 2 and
# the signals are not instantaneous.
python3 -c "import sys; sys.exit(0 if $max >= $PAUSE_MS - 300 else 1)" &&
	pass "max ${max} ms shows the ${PAUSE_MS} ms stall" ||
	fail "max ${max} ms hides the ${PAUSE_MS} ms stall"
python3 -c "import sys; sys.exit(0 if $p999 >= $PAUSE_MS / 2 else 1)" &&
	pass "p99.9 ${p999} ms shows the stall" || fail "p99.9 ${p999} ms hides the stall"

# ---- a level the cluster cannot meet --------------------------------------------------------
out=$(bench write --nodes "$NET.1" --keyspace bench_rf2 --drop \
	--replication "{'class':'SimpleStrategy','replication_factor':2}" --cl-write THREE \
	--ops 10 2>&1) && rc=0 || rc=$?
[ "$rc" -eq 2 ] && grep -q "THREE cannot be met" <<<"$out" &&
	pass "THREE on RF 2: exit 2, '$out'" || fail "THREE on RF 2: exit $rc, $out"
# With node 3 down, ALL cannot be met at RF 3 (the servers answer Unavailable).
kill -KILL "${PIDS[3]}"
wait "${PIDS[3]}" 2>/dev/null || true
sleep 3
out=$(bench write --nodes "$NET.1" --keyspace $KS --no-schema --cl-write ALL --ops 10 \
	--no-discover 2>&1) && rc=0 || rc=$?
if [ "$rc" -eq 2 ] && grep -q "ALL cannot be met" <<<"$out"; then
	pass "ALL with a node down: exit 2, '$(grep 'cannot be met' <<<"$out")'"
else
	fail "ALL with a node down: exit $rc, $out"
fi

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
