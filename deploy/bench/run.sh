#!/usr/bin/env bash
# deploy/bench/run.sh — the project's standard benchmark, in one sitting.
#
# Everything the performance acceptance (issue 13) asks for, each figure beside its
# anchor, measured in one sitting on this machine and written into docs/BENCHMARKS.md
# (between "<!-- bench:begin -->" and "<!-- bench:end -->"; a rerun replaces it):
#
# 1. A fresh 3-node cluster (RF 3, $BENCH_NET.1-3, empty disks in a temp directory),
#    driven by `colonnade bench` with 100-byte values, 50 connections, uniform keys over
#    $BENCH_RECORDS populated partitions: QUORUM writes and reads (closed loop: the
#    peaks; reads once as the write run left the store, then, like every read run of
#    record, after a full compaction on every node), ONE and ALL beside them, 16 in flight per connection, YCSB A, open loop at
#    half of each QUORUM peak (latency from the scheduled start, the client's send delay
#    apart), one client at idle, and open-loop writes at twice the write peak for
#    $BENCH_OVERLOAD_SECONDS (what the nodes accept, what they refuse as Overloaded,
#    their memory, whether they stay up).  Every run reports the nodes' CPU µs per
#    operation.
# 2. A fresh 3-node cluster with `commitlog_sync: batch` (acknowledged after fsync):
#    QUORUM writes.
# 3. One node (RF 1) with `io_threads: 1`, then a fresh one with `io_threads: 2`:
#    ONE writes and ONE reads with 50 connections (the single-node figures).
# 4. The anchors on the same machine: redis-server + redis-benchmark (SET/GET, 50
#    clients, 100 B), RocksDB db_bench, a 3-member etcd driven by wrk, and the storage
#    engine (tests/helpers/storage_helper_bench) beside db_bench with CPU per operation.
# 5. An acceptance table (target vs measured, at a glance) and the detailed tables.
#
# Figures are printed and recorded, never judged: nothing here fails on speed.
#
# Env:
#   BENCH_SECONDS   seconds per run [20; quick: 5]
#   BENCH_RECORDS   partitions [500000; quick: 50000]
#   BENCH_OVERLOAD_SECONDS  the 2x-peak run [30; quick: 10]
#   BENCH_STORAGE_NUM  keys of the storage-engine rows [1000000; quick: not run]
#   BENCH_QUICK=1   a smoke run (~3 minutes): shorter runs, only the acceptance rows,
#                   redis as the only anchor
#   BENCH_NET       node addresses NET.1-3 [$COLONNADE_TEST_NET, else 127.0.0]
#   BENCH_CLIENT_SCHED  how the load generators (colonnade bench, redis-benchmark, wrk)
#                   are scheduled: fifo (SCHED_FIFO priority 1, `chrt -f 1`) or nice
#                   [fifo when allowed, else nice]: a real client runs on other machines;
#                   here it shares the cores with the servers, and a generator that waits
#                   for a core delays its own requests (its send delay shows how much).  A
#                   real-time generator runs as soon as it is due; it takes a core from the
#                   servers only while it works (the kernel keeps 5 % of each core for
#                   the others whatever happens: sched_rt_runtime_us)
#   BENCH_CLIENT_NICE  with BENCH_CLIENT_SCHED=nice, the generators' niceness [-10 when
#                   allowed, else 0]
#   BENCH_BUILD     build dir [./build]
#   BENCH_ONLY      all | colonnade | anchors [all]
#   BENCH_OUT       file to update [docs/BENCHMARKS.md]; BENCH_KEEP=1 keeps the work dir
# At the defaults it takes about 14 minutes.
# Needs: deploy/install-deps.sh --bench (rocksdb-tools redis-server redis-tools
# etcd-server etcd-client wrk); anchors whose tool is missing are skipped.
set -euo pipefail

cd "$(dirname "$0")/../.."
ROOT=$(pwd)
QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then
	SECS=${BENCH_SECONDS:-5}
	RECORDS=${BENCH_RECORDS:-50000}
	OVER_SECS=${BENCH_OVERLOAD_SECONDS:-10}
else
	SECS=${BENCH_SECONDS:-20}
	RECORDS=${BENCH_RECORDS:-500000}
	OVER_SECS=${BENCH_OVERLOAD_SECONDS:-30}
fi
STORAGE_NUM=${BENCH_STORAGE_NUM:-1000000}
NET=${BENCH_NET:-${COLONNADE_TEST_NET:-127.0.0}}
NNODES=3
BUILD=${BENCH_BUILD:-$ROOT/build}
ONLY=${BENCH_ONLY:-all}
OUT=${BENCH_OUT:-$ROOT/docs/BENCHMARKS.md}
BIN=$BUILD/cli/colonnade
SBENCH=$BUILD/tests/storage_helper_bench
WORK=$(mktemp -d /tmp/colonnade-bench.XXXXXX)
RES=$WORK/results
mkdir -p "$RES"
declare -a PIDS=()

say() { echo "bench: $*" >&2; }
die() {
	say "$*"
	exit 1
}

[[ "$SECS" =~ ^[0-9]+$ ]] && [ "$SECS" -ge 1 ] || die "BENCH_SECONDS must be a positive integer"
[[ "$OVER_SECS" =~ ^[0-9]+$ ]] && [ "$OVER_SECS" -ge 1 ] ||
	die "BENCH_OVERLOAD_SECONDS must be a positive integer"
[[ "$RECORDS" =~ ^[0-9]+$ ]] && [ "$RECORDS" -ge 100 ] || die "BENCH_RECORDS must be >= 100"
[[ "$STORAGE_NUM" =~ ^[0-9]+$ ]] && [ "$STORAGE_NUM" -ge 1000 ] ||
	die "BENCH_STORAGE_NUM must be >= 1000"
[[ "$NET" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "BENCH_NET must be three octets, like 127.0.14"
case "$ONLY" in all | colonnade | anchors) ;; *) die "BENCH_ONLY is all, colonnade or anchors" ;; esac
CLIENT_SCHED=${BENCH_CLIENT_SCHED:-}
if [ -z "$CLIENT_SCHED" ]; then
	CLIENT_SCHED=nice
	chrt -f 1 true 2>/dev/null && CLIENT_SCHED=fifo
fi
case "$CLIENT_SCHED" in
fifo) chrt -f 1 true 2>/dev/null || die "BENCH_CLIENT_SCHED=fifo: chrt -f 1 is not allowed here" ;;
nice) ;;
*) die "BENCH_CLIENT_SCHED is fifo or nice" ;;
esac
if [ -z "${BENCH_CLIENT_NICE:-}" ]; then
	CLIENT_NICE=0
	nice -n -10 true 2>/dev/null && [ "$(nice -n -10 nice)" -lt "$(nice)" ] && CLIENT_NICE=-10
else
	CLIENT_NICE=$BENCH_CLIENT_NICE
fi
[[ "$CLIENT_NICE" =~ ^-?[0-9]+$ ]] || die "BENCH_CLIENT_NICE must be an integer"
# The load generators at real-time priority, or at a niceness relative to this shell's
# (the servers keep that).
if [ "$CLIENT_SCHED" = fifo ]; then
	CLIENT=(chrt -f 1)
	CLIENT_HOW="at real-time priority (SCHED_FIFO 1)"
else
	CLIENT=(nice -n "$CLIENT_NICE")
	CLIENT_HOW="at niceness $CLIENT_NICE relative to the servers"
fi

cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		kill -CONT "$p" 2>/dev/null || true
		kill -TERM "$p" 2>/dev/null || true
	done
	sleep 0.5
	for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	if [ "${BENCH_KEEP:-0}" = 1 ]; then say "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The node reads COLONNADE_* from its environment as config: give it none.
UNSET=()
for v in $(env | grep -o '^COLONNADE_[A-Za-z0-9_]*' || true); do UNSET+=(-u "$v"); done

# ---- colonnade ------------------------------------------------------------------------------

build() {
	if [ ! -f "$BUILD/CMakeCache.txt" ]; then
		cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	fi
	cmake --build "$BUILD" -j"$(nproc)" --target colonnade storage_helper_bench >/dev/null ||
		die "build failed: run 'cmake --build $BUILD' to see why"
}

# set_key FILE KEY VALUE: replace a top-level key of a node's yaml, or add it.
set_key() {
	if grep -q "^$2:" "$1"; then
		sed -i "s|^$2:.*|$2: $3|" "$1"
	else
		echo "$2: $3" >>"$1"
	fi
}

# start_cluster NAME N [KEY=VALUE...]: N fresh nodes on $NET.1-N with the given
# config keys, in $WORK/NAME; returns when every one is UN.
start_cluster() {
	local name=$1 n=$2 k dir kv
	shift 2
	local seeds
	seeds=$(seq -s, -f "$NET.%g" 1 $((n < 2 ? n : 2)))
	for k in $(seq 1 "$n"); do
		dir=$WORK/$name/node$k
		mkdir -p "$dir/data"
		for port in 7000 9042 7199; do
			if ss -Hltn "src $NET.$k:$port" 2>/dev/null | grep -q .; then
				die "$NET.$k:$port is taken; stop what runs there or set BENCH_NET"
			fi
		done
		sed -e "s|@ADDRESS@|$NET.$k|g" -e "s|@SEEDS@|$seeds|g" \
			-e "s|@DATA@|$dir/data|g" "$ROOT/deploy/conf/local-node.yaml.in" \
			>"$dir/colonnade.yaml"
		set_key "$dir/colonnade.yaml" log_level warn
		for kv in "$@"; do set_key "$dir/colonnade.yaml" "${kv%%=*}" "${kv#*=}"; done
		(cd "$dir" && exec env "${UNSET[@]}" "$BIN" server -c "$dir/colonnade.yaml" \
			>"$dir/node.log" 2>&1) &
		PIDS+=($!)
	done
	local deadline=$((SECONDS + 90)) up=0
	while [ $SECONDS -lt $deadline ]; do
		up=$("$BIN" status -h "$NET.1" 2>/dev/null | grep -c '^UN ' || true)
		[ "$up" -eq "$n" ] && return 0
		sleep 0.5
	done
	tail -n 20 "$WORK/$name"/node*/node.log >&2 || true
	die "only $up of $n nodes came up ($name)"
}

stop_cluster() {
	local p
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	PIDS=()
}

NODES=$(seq -s, -f "$NET.%g" 1 "$NNODES")
KS=bench_std
COMMON=(--nodes "$NODES" --keyspace "$KS" --no-schema --records "$RECORDS" --value-size 100
	--total-connections 50 --json --quiet)

# run NAME ARGS...: one `colonnade bench` run into $RES/NAME.json (errors in NAME.err).
run() {
	local name=$1
	shift
	say "colonnade: $name ($*)"
	if ! "${CLIENT[@]}" "$BIN" bench "$@" >"$RES/$name.json" 2>"$RES/$name.err"; then
		say "  failed: $(tail -1 "$RES/$name.err")"
		rm -f "$RES/$name.json"
	fi
}

json_get() { python3 -c 'import json,sys; print(eval(sys.argv[2], {"j": json.load(open(sys.argv[1]))}))' "$1" "$2" 2>/dev/null || echo 0; }

# populate NODES RF COUNT CL: the keyspace with COUNT partitions, written with deep
# pipelines (setup, not a measurement), then a pause for flushes and compactions.
populate() {
	local repl="{'class':'SimpleStrategy','replication_factor':$2}"
	run populate_$2 write --nodes "$1" --keyspace "$KS" --drop --replication "$repl" \
		--populate "$3" --records "$3" --ops 1 --total-connections 50 --inflight 8 \
		--cl-write "$4" --json --quiet
	[ -f "$RES/populate_$2.json" ] || return 1
	sleep 5
}

# settle NAME: wait (at most 120 s) until no node of the running cluster has a RocksDB
# flush or compaction running or due (/metrics, colonnade_storage_*), so a run does not
# pay for the compaction debt of the one before it (db_bench's waitforcompaction); the
# compactions a run causes itself still fall inside it.  The wait is recorded.
settle() {
	local name=$1 start=$SECONDS busy k
	while :; do
		busy=0
		for k in $(seq 1 "${#PIDS[@]}"); do
			busy=$((busy + $(curl -s --max-time 5 "http://$NET.$k:7199/metrics" | awk '
				/^colonnade_storage_(compactions|flushes)_(running|pending) / { s += $2 }
				END { print s + 0 }')))
		done
		[ "$busy" -eq 0 ] && break
		[ $((SECONDS - start)) -lt 120 ] || break
		sleep 1
	done
	echo "{\"settle_s\": $((SECONDS - start)), \"busy_after\": $busy}" >"$RES/settle_$name.json"
	say "  settled before $name in $((SECONDS - start)) s (busy after: $busy)"
}

# compact_all NAME: a full compaction of the keyspace on every node of the running
# cluster, waited for (`colonnade compact`), before the read run NAME: reads then meet a
# defined LSM shape — one sorted run, as the db_bench read anchor's `waitforcompaction` —
# instead of whatever memtable and L0 files the write run before happened to leave, which
# moved the read peak by half between otherwise equal runs (docs/PERFORMANCE.md, "Reads and
# the shape of the LSM").  The time and outcome are recorded.
compact_all() {
	local name=$1 start=$SECONDS k pids=() ok=true
	for k in $(seq 1 "${#PIDS[@]}"); do
		"$BIN" compact "$KS" -h "$NET.$k:7199" >"$RES/compact_${name}_$k.txt" 2>&1 &
		pids+=($!)
	done
	for k in "${pids[@]}"; do wait "$k" || ok=false; done
	echo "{\"compact_s\": $((SECONDS - start)), \"ok\": $ok}" >"$RES/compact_$name.json"
	say "  compacted $KS on every node before $name in $((SECONDS - start)) s (ok: $ok)"
}

# The 3-node cluster: the peaks, the open loops at half of them, the other levels,
# and last (it may leave the nodes struggling) twice the write peak.
cluster_runs() {
	start_cluster main "$NNODES"
	say "cluster up on $NODES; populating $RECORDS partitions"
	populate "$NODES" 3 "$RECORDS" QUORUM || {
		say "populate failed; skipping the 3-node rows"
		stop_cluster
		return 0
	}
	local d="${SECS}s"
	settle write_quorum
	run write_quorum write --dist uniform "${COMMON[@]}" --duration "$d" --cl-write QUORUM
	# Reads as the write peak left the store (memtable and L0 files: for information),
	# then on the compacted store (the peak of record).
	settle read_quorum_uncompacted
	run read_quorum_uncompacted read "${COMMON[@]}" --duration "$d" --cl-read QUORUM
	compact_all read_quorum
	settle read_quorum
	run read_quorum read "${COMMON[@]}" --duration "$d" --cl-read QUORUM
	# Open loop at half of the measured peaks: the latency the goals are about.  The
	# client adds streams on a connection rather than delay a due request, so the
	# 50 connections never limit the schedule.
	local wpeak rpeak
	wpeak=$(json_get "$RES/write_quorum.json" 'int(j["ops_per_s"])')
	rpeak=$(json_get "$RES/read_quorum.json" 'int(j["ops_per_s"])')
	settle write_quorum_50
	[ "$wpeak" -ge 2 ] && run write_quorum_50 write --dist uniform "${COMMON[@]}" \
		--duration "$d" --cl-write QUORUM --rate $((wpeak / 2))
	compact_all read_quorum_50
	settle read_quorum_50
	[ "$rpeak" -ge 2 ] && run read_quorum_50 read "${COMMON[@]}" --duration "$d" \
		--cl-read QUORUM --rate $((rpeak / 2))
	if [ "$QUICK" != 1 ]; then
		run write_one write --dist uniform "${COMMON[@]}" --duration "$d" --cl-write ONE
		run read_one read "${COMMON[@]}" --duration "$d" --cl-read ONE
		run write_all write --dist uniform "${COMMON[@]}" --duration "$d" --cl-write ALL
		run read_all read "${COMMON[@]}" --duration "$d" --cl-read ALL
		run write_pipelined write --dist uniform "${COMMON[@]}" --duration "$d" \
			--cl-write QUORUM --inflight 16
		run ycsb_a A "${COMMON[@]}" --duration "$d" --cl QUORUM
		# One client, one request at a time, on an idle cluster.
		run idle_write write --dist uniform --nodes "$NODES" --keyspace "$KS" --no-schema \
			--records "$RECORDS" --total-connections 1 --duration "$d" --cl-write QUORUM \
			--json --quiet
		run idle_read read --nodes "$NODES" --keyspace "$KS" --no-schema --records "$RECORDS" \
			--total-connections 1 --duration "$d" --cl-read QUORUM --json --quiet
	fi
	# Twice the peak: the nodes must stay up, answer what they accept in time and
	# refuse the rest (Overloaded: the client asks for it rather than backpressure,
	# as Cassandra 4.1's THROW_ON_OVERLOAD), with bounded memory.
	[ "$wpeak" -ge 1 ] && run overload write --dist uniform "${COMMON[@]}" \
		--duration "${OVER_SECS}s" --cl-write QUORUM --rate $((wpeak * 2)) --throw-on-overload
	local up alive=0 p
	up=$("$BIN" status -h "$NET.1" 2>/dev/null | grep -c '^UN ' || true)
	for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive=$((alive + 1)); done
	echo "{\"alive\": $alive, \"un\": $up, \"nodes\": $NNODES}" >"$RES/overload_after.json"
	say "after the overload: $alive of $NNODES processes alive, $up UN"
	stop_cluster
}

# QUORUM writes acknowledged only after the WAL's fsync (group commit).
batch_runs() {
	start_cluster batch "$NNODES" commitlog_sync=batch
	say "commitlog_sync: batch cluster up on $NODES"
	run write_quorum_batch write --dist uniform --nodes "$NODES" --keyspace bench_batch --drop \
		--replication "{'class':'SimpleStrategy','replication_factor':3}" \
		--records "$RECORDS" --value-size 100 --total-connections 50 --duration "${SECS}s" \
		--cl-write QUORUM --json --quiet
	stop_cluster
}

# One node, RF 1, ONE, 50 connections: with io_threads 1, then 2 (a fresh node each),
# each run after the node's flushes and compactions settled, as the cluster's runs: the
# two rows compare the loops, not which of them paid for populate's compactions.
single_runs() {
	local io recs=$((RECORDS < 200000 ? RECORDS : 200000))
	for io in 1 2; do
		start_cluster "single_io$io" 1 io_threads="$io"
		say "one node with io_threads: $io on $NET.1; populating $recs partitions"
		populate_single "$io" "$recs" || continue
		settle "single_write_io$io"
		run "single_write_io$io" write --dist uniform --nodes "$NET.1" --keyspace "$KS" \
			--no-schema --records "$recs" --value-size 100 --total-connections 50 \
			--duration "${SECS}s" --cl-write ONE --json --quiet
		compact_all "single_read_io$io"
		settle "single_read_io$io"
		run "single_read_io$io" read --nodes "$NET.1" --keyspace "$KS" --no-schema \
			--records "$recs" --value-size 100 --total-connections 50 \
			--duration "${SECS}s" --cl-read ONE --json --quiet
		stop_cluster
	done
}

populate_single() {
	local repl="{'class':'SimpleStrategy','replication_factor':1}"
	run "populate_single_io$1" write --nodes "$NET.1" --keyspace "$KS" --drop \
		--replication "$repl" --populate "$2" --records "$2" --ops 1 --total-connections 50 \
		--inflight 8 --cl-write ONE --json --quiet
	if [ ! -f "$RES/populate_single_io$1.json" ]; then
		stop_cluster
		return 1
	fi
	sleep 3
}

colonnade_runs() {
	build
	cluster_runs
	batch_runs
	single_runs
}

# ---- anchors --------------------------------------------------------------------------------

have() { command -v "$1" >/dev/null 2>&1; }

DBB_FLAGS=(--key_size=16 --compression_type=none --bloom_bits=10 --cache_size=1073741824
	--histogram=1 --seed=1)

# db_bench output -> "ops p50 p99 p999" (µs)
parse_dbbench() {
	python3 - "$1" "$2" <<'EOF'
import re, sys
text = open(sys.argv[1]).read()
# The last matching section for this benchmark name (readrandom runs twice).
name = sys.argv[2]
ops = re.findall(name + r"\s*:\s*[\d.]+ micros/op (\d+) ops/sec", text)
pct = re.findall(r"Percentiles: P50: ([\d.]+) P75: [\d.]+ P99: ([\d.]+) P99.9: ([\d.]+)", text)
if not ops or not pct:
    print("0 0 0 0")
else:
    p = pct[-1]
    print(ops[-1], float(p[0]) / 1000, float(p[1]) / 1000, float(p[2]) / 1000)
EOF
}

anchor_dbbench() {
	have db_bench || {
		say "skip db_bench (install rocksdb-tools)"
		return 0
	}
	say "anchor: db_bench fillrandom v=100, 1 thread, ${SECS}s"
	db_bench --benchmarks=fillrandom --db="$WORK/db_fill" --num=100000000 --duration="$SECS" \
		--value_size=100 --threads=1 "${DBB_FLAGS[@]}" >"$RES/dbb_fill.txt" 2>&1 || true
	parse_dbbench "$RES/dbb_fill.txt" fillrandom >"$RES/dbb_fill.fig"
	local n=$RECORDS
	[ "$n" -lt 1000000 ] && n=1000000
	say "anchor: db_bench fillseq $n + readrandom v=100, 1 thread, ${SECS}s (cold block cache)"
	db_bench --benchmarks=fillseq,waitforcompaction --db="$WORK/db_read" --num="$n" \
		--value_size=100 "${DBB_FLAGS[@]}" >/dev/null 2>&1 || true
	db_bench --benchmarks=readrandom --use_existing_db=1 --db="$WORK/db_read" --num="$n" \
		--duration="$SECS" --value_size=100 --threads=1 "${DBB_FLAGS[@]}" \
		>"$RES/dbb_read.txt" 2>&1 || true
	parse_dbbench "$RES/dbb_read.txt" readrandom >"$RES/dbb_read.fig"
	rm -rf "$WORK/db_fill" "$WORK/db_read"
}

anchor_redis() {
	have redis-server && have redis-benchmark || {
		say "skip redis (install redis-server redis-tools)"
		return 0
	}
	local port=16379
	say "anchor: redis-server (no persistence) + redis-benchmark -c 50 -d 100 -P 1"
	redis-server --bind "$NET.1" --port $port --save '' --appendonly no --dir "$WORK" \
		>"$WORK/redis.log" 2>&1 &
	local rpid=$!
	PIDS+=($rpid)
	for _ in $(seq 1 50); do
		redis-cli -h "$NET.1" -p $port ping >/dev/null 2>&1 && break
		sleep 0.1
	done
	# About SECS seconds each at the anchor's ~70k/s.
	local n=$((SECS * 70000))
	"${CLIENT[@]}" redis-benchmark -h "$NET.1" -p $port -t set,get -c 50 -n $n -d 100 -r 1000000 -P 1 --csv \
		>"$RES/redis.csv" 2>/dev/null || true
	# Pipelined, for the pipelined-writes row (the anchor's ~490k/s).
	"${CLIENT[@]}" redis-benchmark -h "$NET.1" -p $port -t set -c 50 -n $((n * 4)) -d 100 -r 1000000 -P 16 \
		--csv >"$RES/redis_p16.csv" 2>/dev/null || true
	kill -TERM $rpid 2>/dev/null || true
	wait $rpid 2>/dev/null || true
}

ETCD_LUA_B64='
local b = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local function b64(data)
  return ((data:gsub(".", function(x)
    local r, byte = "", x:byte()
    for i = 8, 1, -1 do r = r .. (byte % 2 ^ i - byte % 2 ^ (i - 1) > 0 and "1" or "0") end
    return r
  end) .. "0000"):gsub("%d%d%d?%d?%d?%d?", function(x)
    if #x < 6 then return "" end
    local c = 0
    for i = 1, 6 do c = c + (x:sub(i, i) == "1" and 2 ^ (6 - i) or 0) end
    return b:sub(c + 1, c + 1)
  end) .. ({ "", "==", "=" })[#data % 3 + 1])
end
local counter = 0
local value = b64(string.rep("v", 100))
local keys = {}
for i = 0, 999 do keys[i] = b64(string.format("key%04d", i)) end
'

anchor_etcd() {
	have etcd && have etcdctl && have wrk || {
		say "skip etcd (install etcd-server etcd-client wrk)"
		return 0
	}
	say "anchor: etcd, 3 members (fsync per commit), wrk -t2 -c50 through the JSON gateway"
	local i cluster="m1=http://$NET.1:23801,m2=http://$NET.1:23802,m3=http://$NET.1:23803"
	for i in 1 2 3; do
		etcd --name m$i --data-dir "$WORK/etcd/m$i" \
			--listen-client-urls "http://$NET.1:2379$i" \
			--advertise-client-urls "http://$NET.1:2379$i" \
			--listen-peer-urls "http://$NET.1:2380$i" \
			--initial-advertise-peer-urls "http://$NET.1:2380$i" \
			--initial-cluster "$cluster" --initial-cluster-token perf \
			--initial-cluster-state new >"$WORK/etcd$i.log" 2>&1 &
		PIDS+=($!)
	done
	local eps="http://$NET.1:23791,http://$NET.1:23792,http://$NET.1:23793" leader=""
	for _ in $(seq 1 100); do
		leader=$(ETCDCTL_API=3 etcdctl --endpoints="$eps" endpoint status -w json 2>/dev/null |
			python3 -c 'import json,sys
for e in json.load(sys.stdin):
    if e["Status"]["header"]["member_id"] == e["Status"]["leader"]: print(e["Endpoint"])' \
			2>/dev/null || true)
		[ -n "$leader" ] && break
		sleep 0.2
	done
	if [ -z "$leader" ]; then
		say "etcd did not elect a leader; skipping"
		return 0
	fi
	cat >"$WORK/etcd_put.lua" <<EOF
$ETCD_LUA_B64
request = function()
  counter = counter + 1
  local body = '{"key":"' .. keys[counter % 1000] .. '","value":"' .. value .. '"}'
  return wrk.format("POST", "/v3/kv/put", { ["Content-Type"] = "application/json" }, body)
end
EOF
	cat >"$WORK/etcd_range.lua" <<EOF
$ETCD_LUA_B64
request = function()
  counter = counter + 1
  local body = '{"key":"' .. keys[counter % 1000] .. '"}'
  return wrk.format("POST", "/v3/kv/range", { ["Content-Type"] = "application/json" }, body)
end
EOF
	"${CLIENT[@]}" wrk -t2 -c50 -d"${SECS}s" --latency -s "$WORK/etcd_put.lua" "$leader" >"$RES/etcd_put.txt" \
		2>&1 || true
	"${CLIENT[@]}" wrk -t2 -c50 -d"${SECS}s" --latency -s "$WORK/etcd_range.lua" "$leader" \
		>"$RES/etcd_range.txt" 2>&1 || true
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	PIDS=()
}

# cpu_run NAME CMD...: run CMD with its output in $RES/NAME.txt and its CPU seconds
# (user + system, every thread and child) in $RES/NAME.cpu.
cpu_run() {
	local name=$1
	shift
	python3 - "$RES/$name.txt" "$RES/$name.cpu" "$@" <<'EOF' || true
import resource, subprocess, sys
out, cpu, cmd = sys.argv[1], sys.argv[2], sys.argv[3:]
with open(out, "w") as f:
    rc = subprocess.call(cmd, stdout=f, stderr=subprocess.STDOUT)
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
open(cpu, "w").write("%.3f\n" % (ru.ru_utime + ru.ru_stime))
sys.exit(rc)
EOF
}

# The storage engine beside RocksDB's own db_bench, same keys (16 bytes), values
# (100 bytes), count and shape, each with CPU per operation (docs/BENCHMARKS.md,
# Storage engine).
anchor_storage() {
	have db_bench && [ -x "$SBENCH" ] || {
		say "skip the storage rows (install rocksdb-tools; build storage_helper_bench)"
		return 0
	}
	local n=$STORAGE_NUM
	say "storage: db_bench and storage_helper_bench fillrandom + readrandom, $n keys"
	cpu_run sdb_fill db_bench --benchmarks=fillrandom,waitforcompaction --db="$WORK/sdb_fill" \
		--num="$n" --value_size=100 --threads=1 "${DBB_FLAGS[@]}"
	rm -rf "$WORK/sdb_fill"
	db_bench --benchmarks=fillseq,waitforcompaction --db="$WORK/sdb_read" --num="$n" \
		--value_size=100 "${DBB_FLAGS[@]}" >/dev/null 2>&1 || true
	cpu_run sdb_read db_bench --benchmarks=readrandom --use_existing_db=1 --db="$WORK/sdb_read" \
		--num="$n" --reads="$n" --value_size=100 --threads=1 "${DBB_FLAGS[@]}"
	rm -rf "$WORK/sdb_read"
	"$SBENCH" --dir "$WORK/sb_fill" --num "$n" --value-size 100 --benchmarks fillrandom \
		>"$RES/sb_fill.txt" 2>&1 || true
	rm -rf "$WORK/sb_fill"
	"$SBENCH" --dir "$WORK/sb_read" --num "$n" --value-size 100 --benchmarks readrandom \
		--compact wait >"$RES/sb_read.txt" 2>&1 || true
	rm -rf "$WORK/sb_read"
}

# ---- run ------------------------------------------------------------------------------------

STARTED=$(date -u +%Y-%m-%dT%H:%MZ)
T0=$SECONDS
LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
COMMAND="BENCH_SECONDS=$SECS BENCH_RECORDS=$RECORDS BENCH_OVERLOAD_SECONDS=$OVER_SECS"
[ "$QUICK" = 1 ] && COMMAND="BENCH_QUICK=1 $COMMAND"
[ "$QUICK" = 1 ] || COMMAND="$COMMAND BENCH_STORAGE_NUM=$STORAGE_NUM"
COMMAND="$COMMAND BENCH_NET=$NET BENCH_CLIENT_SCHED=$CLIENT_SCHED"
[ "$CLIENT_SCHED" = nice ] && COMMAND="$COMMAND BENCH_CLIENT_NICE=$CLIENT_NICE"
COMMAND="$COMMAND ./deploy/bench/run.sh"
[ "$ONLY" = all ] || COMMAND="BENCH_ONLY=$ONLY $COMMAND"
if [ "$ONLY" != anchors ]; then colonnade_runs; fi
if [ "$ONLY" != colonnade ]; then
	anchor_redis
	if [ "$QUICK" != 1 ]; then
		anchor_dbbench
		anchor_etcd
		build
		anchor_storage
	fi
fi
say "done in $(((SECONDS - T0) / 60)) min $(((SECONDS - T0) % 60)) s"

python3 "$ROOT/deploy/bench/report.py" --results "$RES" --out "$OUT" --started "$STARTED" \
	--seconds "$SECS" --overload-seconds "$OVER_SECS" --records "$RECORDS" \
	--storage-num "$STORAGE_NUM" --load "$LOAD" --minutes $(((SECONDS - T0 + 30) / 60)) \
	--command "$COMMAND" --client-how "$CLIENT_HOW" --commit "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
say "tables written to $OUT"
