#!/usr/bin/env bash
# Overload acceptance (docs/PERFORMANCE.md, "Overload"), with real processes:
# 3 nodes, RF 3, QUORUM writes of 100-byte values.
#
# 1. The peak: a closed loop of 50 connections (the standard benchmark's shape)
#    for 10 s; its ops/s is the peak of this machine now.
# 2. Backpressure (the default): open loop at 2 x the peak for 15 s against
#    nodes that answer nobody Overloaded.  The nodes stay up, each node's
#    VmHWM stays under 512 MiB, and the nodes did stop reading connections
#    (colonnade_cql_overload_pauses_total > 0).
# 3. Overloaded: the same nodes, a client that asks for it (bench
#    --throw-on-overload: STARTUP THROW_ON_OVERLOAD), open loop at 2 x the
#    peak for 30 s.  The nodes stay up and keep answering,
#    each node's VmHWM stays under 512 MiB, and either the accepted requests
#    kept p99 <= 20 ms, or the excess got Overloaded: every request the client
#    saw fail was refused Overloaded by a node or timed out by the client
#    itself, and no write waited in a node until its deadline (the nodes'
#    colonnade_replicated_write_timeouts_total did not move), and no request
#    the nodes ran had waited more than native_transport_max_queue_wait (5 ms by default)
#    in its socket (colonnade_cql_queue_wait_seconds).  A run in which writes
#    timed out in the nodes while a node's loop stood still for over 500 ms (its
#    failure detector logs "this node was paused": the machine's scheduler gave
#    it no CPU) measured the machine: it is run again, up to 3 times; the last
#    run is judged in full whatever happened in it.
#
# Env: COLONNADE_BIN (required), COLONNADE_TEST_NET (default 127.0.0: nodes
# .1-.3), COLONNADE_KEEP=1 keeps the temp directory, OVERLOAD_SECONDS (30).
set -euo pipefail
# shellcheck source=script_lib.sh
. "$(dirname "$0")/script_lib.sh"

BIN=${COLONNADE_BIN:?set COLONNADE_BIN to the colonnade binary}
NET=${COLONNADE_TEST_NET:-127.0.0}
SECS=${OVERLOAD_SECONDS:-30}
N=3
ROOT=$(mktemp -d /tmp/colonnade-overload-test.XXXXXX)
FAILED=0
PASSED=0
RSS_LIMIT_KIB=$((512 * 1024))
declare -a PIDS=()

say() { echo "overload_test: $*"; }
fail() {
	say "FAIL: $*"
	FAILED=$((FAILED + 1))
}
die() {
	FAILED=$((FAILED + 1))
	exit 1
}
pass() {
	say "ok: $*"
	PASSED=$((PASSED + 1))
}

stop_nodes() {
	stop_pids 10 "${PIDS[@]}"
	wait 2>/dev/null || true
	PIDS=()
}
cleanup() {
	stop_nodes
	if [ "$FAILED" -ne 0 ]; then
		for k in $(seq 1 $N); do
			echo "--- node $k log (tail)"
			tail -n 20 "$ROOT/node$k/node.log" 2>/dev/null || true
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

start_node() {
	local k=$1 dir="$ROOT/node$1"
	mkdir -p "$dir/data"
	cat >"$dir/colonnade.yaml" <<EOF
cluster_name: 'overload-test'
listen_address: $NET.$k
rpc_address: $NET.$k
seed_provider:
  - class_name: org.apache.cassandra.locator.SimpleSeedProvider
    parameters:
      - seeds: "$NET.1,$NET.2"
data_file_directories:
  - $dir/data
num_tokens: 16
gossip_interval: 100ms
endpoint_snitch: GossipingPropertyFileSnitch
dc: dc1
rack: rack1
commitlog_sync: periodic
commitlog_sync_period: 10000ms
log_level: warn
EOF
	(cd "$dir" && exec env "${NODE_UNSET[@]}" "$BIN" server -c "$dir/colonnade.yaml" \
		>>"$dir/node.log" 2>&1) &
	PIDS[$k]=$!
}

count_up() { node_env "$BIN" status -h "$NET.1" 2>/dev/null | grep -c '^UN ' || true; }

start_cluster() {
	local k
	for k in $(seq 1 $N); do start_node "$k"; done
	local deadline=$((SECONDS + 90))
	while [ "$(count_up)" -ne $N ]; do
		if [ $SECONDS -ge $deadline ]; then
			fail "the cluster did not come up (UN: $(count_up) of $N)"
			exit 1
		fi
		for k in $(seq 1 $N); do
			kill -0 "${PIDS[$k]}" 2>/dev/null || { fail "node $k exited at start"; exit 1; }
		done
		sleep 0.5
	done
}

# metric_sum NAME: NAME from every node's /metrics, added up.  A node that does not answer
# is asked again for up to 30 s; after that the sum fails (a missing value is not a 0):
# callers write  x=$(metric_sum NAME) || die.
metric_sum() {
	local total=0 k v deadline
	for k in $(seq 1 $N); do
		deadline=$((SECONDS + 30))
		until v=$(curl -sf --max-time 5 "http://$NET.$k:7199/metrics" |
			awk -v m="$1" '$1 == m { printf "%.0f", $2; found = 1 } END { exit !found }'); do
			if [ $SECONDS -ge $deadline ]; then
				echo "overload_test: FAIL: node $k: no $1 in its /metrics for 30 s" >&2
				return 1
			fi
			sleep 0.5
		done
		total=$((total + v))
	done
	echo "$total"
}

# wait_settled PHASE: every coordinated request and CQL request of the last run finished
# (answered or timed out in its node), so the next run's counters start from a still cluster.
wait_settled() {
	local start=$SECONDS deadline=$((SECONDS + 60)) coordinated cql busy
	while :; do
		coordinated=$(metric_sum colonnade_replicated_in_flight) || die
		cql=$(metric_sum colonnade_cql_inflight_requests) || die
		busy=$((coordinated + cql))
		if [ "$busy" -eq 0 ]; then
			say "$1: nothing in flight in the nodes $((SECONDS - start)) s after the pause"
			return 0
		fi
		if [ $SECONDS -ge $deadline ]; then
			fail "$1: $busy requests still in flight in the nodes 60 s after the run"
			exit 1
		fi
		sleep 0.2
	done
}

# check_nodes PHASE: alive, answering, VmHWM under the limit.
check_nodes() {
	local k hwm
	for k in $(seq 1 $N); do
		if ! kill -0 "${PIDS[$k]}" 2>/dev/null; then
			fail "$1: node $k exited"
			continue
		fi
		hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/${PIDS[$k]}/status")
		if [ "${hwm:-0}" -gt 0 ] && [ "$hwm" -lt $RSS_LIMIT_KIB ]; then
			pass "$1: node $k up, VmHWM $((hwm / 1024)) MiB < 512 MiB"
		else
			fail "$1: node $k VmHWM ${hwm:-?} KiB, limit $RSS_LIMIT_KIB KiB"
		fi
	done
	local up
	up=$(count_up)
	[ "$up" -eq $N ] && pass "$1: every node UN afterwards" || fail "$1: $up of $N nodes UN afterwards"
}

KS=overload_test
NODES="$NET.1,$NET.2,$NET.3"
COMMON=(--nodes "$NODES" --keyspace $KS --records 1000000 --value-size 100
	--total-connections 50 --cl-write QUORUM --json --quiet)

# ---- 1. the peak ----------------------------------------------------------------------------
start_cluster
say "cluster up on $NODES"
deadline=$((SECONDS + 40))
until node_env "$BIN" bench write "${COMMON[@]}" --drop \
	--replication "{'class':'SimpleStrategy','replication_factor':3}" --ops 1 \
	>"$ROOT/setup.json" 2>"$ROOT/setup.err"; do
	[ $SECONDS -lt $deadline ] || { fail "bench setup: $(tail -1 "$ROOT/setup.err")"; exit 1; }
	sleep 1
done
node_env "$BIN" bench write "${COMMON[@]}" --no-schema --duration 10s >"$ROOT/peak.json" \
	2>"$ROOT/peak.err" || { fail "peak run: $(tail -1 "$ROOT/peak.err")"; exit 1; }
peak=$(jget "$ROOT/peak.json" 'int(j["ops_per_s"])')
say "peak: $peak QUORUM writes/s closed loop (50 connections), p99 $(jget "$ROOT/peak.json" 'j["latency_ms"]["p99"]') ms; load average $(cut -d' ' -f1-3 /proc/loadavg)"
[ "$peak" -gt 100 ] || { fail "peak of $peak writes/s: the cluster does not work"; exit 1; }
rate=$((2 * peak))

# ---- 2. backpressure ------------------------------------------------------------------------
p0=$(metric_sum colonnade_cql_overload_pauses_total) || die
node_env "$BIN" bench write "${COMMON[@]}" --no-schema --rate "$rate" --duration 15s \
	>"$ROOT/bp.json" 2>"$ROOT/bp.err" || fail "backpressure run exited $?: $(tail -1 "$ROOT/bp.err")"
p1=$(metric_sum colonnade_cql_overload_pauses_total) || die
say "backpressure: offered $rate/s for 15 s: $(jget "$ROOT/bp.json" 'j["ok"]') ok, errors $(jget "$ROOT/bp.json" 'j["errors"]'), service p99 $(jget "$ROOT/bp.json" 'j["service_time_ms"]["p99"]') ms, connections stopped $((p1 - p0)) times"
check_nodes backpressure
[ $((p1 - p0)) -gt 0 ] && pass "backpressure: the nodes stopped reading connections $((p1 - p0)) times" ||
	fail "backpressure: offered 2 x the peak, yet no connection was ever stopped"

# ---- 3. Overloaded --------------------------------------------------------------------------
# log_lines: each node's log length now ("n1 n2 n3").
log_lines() {
	local k out=""
	for k in $(seq 1 $N); do out="$out $(wc -l <"$ROOT/node$k/node.log")"; done
	echo "$out"
}
# longest_pause "LINES": the longest stall any node's failure detector logged ("this node was
# paused for N ms": its loop did not run for N ms, over 500 ms) after those log lines; 0 if none.
longest_pause() {
	local k=0 from
	for from in $1; do
		k=$((k + 1))
		tail -n +$((from + 1)) "$ROOT/node$k/node.log"
	done | awk 'match($0, /this node was paused for [0-9]+ ms/) {
		split(substr($0, RSTART, RLENGTH), w, " "); if (w[6] > m) m = w[6] } END { print m + 0 }'
}
# The Overloaded run, up to 3 times: a run in which nodes' writes timed out while a node's
# loop stood still for over 500 ms (the machine's scheduler stopped it: a loaded machine)
# measured the machine, not the admission, and is run again; any other run is the one judged.
for attempt in 1 2 3; do
	sleep 2 # a pause between the runs, as a client would leave
	wait_settled "before the Overloaded run"
	o0=$(metric_sum colonnade_cql_overloaded_total) || die
	t0=$(metric_sum colonnade_replicated_write_timeouts_total) || die
	w0=$(metric_sum 'colonnade_cql_queue_wait_seconds_count{takes_overloaded="true"}') || die
	wq0=$(metric_sum 'colonnade_cql_queue_wait_seconds_bucket{takes_overloaded="true",le="0.005"}') || die
	lines0=$(log_lines)
	node_env "$BIN" bench write "${COMMON[@]}" --no-schema --rate "$rate" --duration "${SECS}s" \
		--throw-on-overload >"$ROOT/ovl.json" 2>"$ROOT/ovl.err" || fail "overload run exited $?: $(tail -1 "$ROOT/ovl.err")"
	o1=$(metric_sum colonnade_cql_overloaded_total) || die
	t1=$(metric_sum colonnade_replicated_write_timeouts_total) || die
	w1=$(metric_sum 'colonnade_cql_queue_wait_seconds_count{takes_overloaded="true"}') || die
	wq1=$(metric_sum 'colonnade_cql_queue_wait_seconds_bucket{takes_overloaded="true",le="0.005"}') || die
	stalled=$(longest_pause "$lines0")
	if [ $((t1 - t0)) -eq 0 ] || [ "$stalled" -eq 0 ]; then
		break
	fi
	say "overload: attempt $attempt: $((t1 - t0)) writes timed out in the nodes while a node's loop stood still for up to $stalled ms (load average $(cut -d' ' -f1-3 /proc/loadavg))"
	[ $attempt -lt 3 ] && say "overload: the machine stopped the nodes: the run again"
done
J=$ROOT/ovl.json
ops=$(jget "$J" 'j["ops"]')
ok=$(jget "$J" 'j["ok"]')
ovl=$(jget "$J" 'j["errors"]["overloaded"]')
errs=$(jget "$J" 'j["errors"]["total"]')
okp99=$(jget "$J" '(j.get("ok_latency_ms") or {}).get("p99", "?")')
say "overload: offered $rate/s for $SECS s: $ops ops, $ok ok ($(jget "$J" 'int(j["ok"]/j["elapsed_s"])')/s), $ovl Overloaded, $errs errors in all"
say "  accepted p50/p99/p99.9 $(jget "$J" 'j["ok_latency_ms"]["p50"]')/$okp99/$(jget "$J" 'j["ok_latency_ms"]["p999"]') ms; all p99 $(jget "$J" 'j["latency_ms"]["p99"]') ms; send delay p99 $(jget "$J" 'j["send_delay_ms"]["p99"]') ms; backlog $(jget "$J" 'j["backlog"]')"
say "  nodes: $(jget "$J" '", ".join("%s %.0f%% cpu" % (p["node"], 100*p["cpu_s"]/j["elapsed_s"]) for p in j["node_processes"])'); load average $(cut -d' ' -f1-3 /proc/loadavg)"
check_nodes overload
# The excess got Overloaded, not a queue: every request the client saw fail was
# refused Overloaded or timed out by the client itself (its own lag on a loaded
# machine: the nodes then count more Overloaded answers than the client saw),
# and no write waited in a node until its deadline (no coordinator timeout).
ctmo=$(jget "$J" 'j["errors"]["client_timeout"]')
other=$(jget "$J" 'j["errors"]["total"] - j["errors"]["overloaded"] - j["errors"]["client_timeout"]')
node_ovl=$((o1 - o0))
if [ "$ovl" != "?" ] && [ "$node_ovl" -ge "$ovl" ] && [ "$node_ovl" -le $((ovl + ctmo)) ] &&
	[ "$other" -eq 0 ] && [ $((t1 - t0)) -eq 0 ]; then
	excess_refused=1
	pass "overload: the nodes refused $node_ovl requests Overloaded ($ovl seen by the client, $ctmo client timeouts), no other error, no write timed out in a node"
else
	excess_refused=0
	fail "overload: nodes answered $node_ovl Overloaded and timed out $((t1 - t0)) writes; the client saw $ovl Overloaded, $ctmo client timeouts, $other other errors"
fi
# What the nodes ran for the bench's connections (they take Overloaded) had waited at
# most native_transport_max_queue_wait (5 ms by default) in its socket: older requests are
# refused, on a busy loop or not (colonnade_cql_queue_wait_seconds counts every request
# run; the client's control connection does not take Overloaded and is not counted).
ran=$((w1 - w0))
if [ "$ran" -gt 0 ] && [ $((wq1 - wq0)) -eq "$ran" ]; then
	pass "overload: all $ran requests the nodes ran from clients that take Overloaded had waited <= 5 ms in the socket"
else
	fail "overload: of $ran requests the nodes ran from clients that take Overloaded, $((ran - (wq1 - wq0))) had waited > 5 ms in the socket"
fi
if python3 -c "import sys; sys.exit(0 if float('$okp99') <= 20 else 1)" 2>/dev/null; then
	pass "overload: accepted requests kept p99 $okp99 ms <= 20 ms"
elif [ "$excess_refused" = 1 ] && [ "$ovl" -gt 0 ]; then
	pass "overload: accepted p99 $okp99 ms > 20 ms, and the excess got Overloaded ($ovl of $ops)"
else
	fail "overload: accepted p99 $okp99 ms > 20 ms and the excess did not get Overloaded"
fi

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
