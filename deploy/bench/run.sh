#!/usr/bin/env bash
# deploy/bench/run.sh — the project's standard benchmark, in one sitting.
#
# 1. Builds colonnade and starts a fresh 3-node cluster on this machine
#    ($BENCH_NET.1-3, like deploy/local-cluster.sh but in a temp directory, so
#    every run starts from empty disks).
# 2. Runs the standard workloads with `colonnade bench`: 100-byte values,
#    50 connections in total, uniform keys over $BENCH_RECORDS populated
#    partitions; QUORUM writes and reads with ONE and ALL beside them, writes
#    with 16 requests in flight per connection, a single client at idle, and
#    open-loop runs at 50 % of the measured QUORUM peaks for p99 (the way the
#    ScyllaDB/Cassandra comparisons report latency).
# 3. Runs the anchors on the same machine (docs/BENCHMARKS.md, Goals): RocksDB
#    db_bench (rocksdb-tools), redis-benchmark against redis-server, and a
#    3-member etcd cluster driven by wrk through its JSON gateway — same value
#    size and client count.
# 4. Writes a table of figures and ratios into docs/BENCHMARKS.md between the
#    markers "<!-- bench:begin -->" and "<!-- bench:end -->" (a rerun replaces
#    it; the rest of the file is left alone).
#
# Figures are printed and recorded, never judged: nothing here fails on speed.
#
# Env:
#   BENCH_SECONDS  seconds per run [20]         BENCH_RECORDS  partitions [500000]
#   BENCH_NET      node addresses [127.0.0]     BENCH_BUILD    build dir [./build]
#   BENCH_ONLY     all | colonnade | anchors [all]
#   BENCH_NODES    cluster size [3] (RF = min(3, nodes))
#   BENCH_OUT      file to update [docs/BENCHMARKS.md]; BENCH_KEEP=1 keeps the work dir
# Needs: deploy/install-deps.sh --bench (rocksdb-tools redis-server redis-tools
# etcd-server etcd-client wrk gnuplot-nox); anchors whose tool is missing are skipped.
set -euo pipefail

cd "$(dirname "$0")/../.."
ROOT=$(pwd)
SECS=${BENCH_SECONDS:-20}
RECORDS=${BENCH_RECORDS:-500000}
NET=${BENCH_NET:-127.0.0}
NNODES=${BENCH_NODES:-3}
BUILD=${BENCH_BUILD:-$ROOT/build}
ONLY=${BENCH_ONLY:-all}
OUT=${BENCH_OUT:-$ROOT/docs/BENCHMARKS.md}
BIN=$BUILD/cli/colonnade
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
[[ "$RECORDS" =~ ^[0-9]+$ ]] && [ "$RECORDS" -ge 100 ] || die "BENCH_RECORDS must be >= 100"
[[ "$NNODES" =~ ^[0-9]+$ ]] && [ "$NNODES" -ge 1 ] && [ "$NNODES" -le 9 ] || die "BENCH_NODES is 1..9"
case "$ONLY" in all | colonnade | anchors) ;; *) die "BENCH_ONLY is all, colonnade or anchors" ;; esac

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
	cmake --build "$BUILD" -j"$(nproc)" --target colonnade >/dev/null ||
		die "build failed: run 'cmake --build $BUILD' to see why"
}

start_cluster() {
	local k dir
	for k in $(seq 1 "$NNODES"); do
		dir=$WORK/node$k
		mkdir -p "$dir/data"
		for port in 7000 9042 7199; do
			if ss -Hltn "src $NET.$k:$port" 2>/dev/null | grep -q .; then
				die "$NET.$k:$port is taken; stop what runs there or set BENCH_NET"
			fi
		done
		sed -e "s|@ADDRESS@|$NET.$k|g" -e "s|@SEEDS@|$SEEDS|g" \
			-e "s|@DATA@|$dir/data|g" "$ROOT/deploy/conf/local-node.yaml.in" \
			>"$dir/colonnade.yaml"
		sed -i 's/^log_level: .*/log_level: warn/' "$dir/colonnade.yaml"
		(cd "$dir" && exec env "${UNSET[@]}" "$BIN" server -c "$dir/colonnade.yaml" \
			>"$dir/node.log" 2>&1) &
		PIDS+=($!)
	done
	local deadline=$((SECONDS + 90)) up=0
	while [ $SECONDS -lt $deadline ]; do
		up=$("$BIN" status -h "$NET.1" 2>/dev/null | grep -c '^UN ' || true)
		[ "$up" -eq "$NNODES" ] && return 0
		sleep 0.5
	done
	tail -n 20 "$WORK"/node*/node.log >&2 || true
	die "only $up of $NNODES nodes came up"
}

NODES=$(seq -s, -f "$NET.%g" 1 "$NNODES")
SEEDS=$(seq -s, -f "$NET.%g" 1 $((NNODES < 2 ? NNODES : 2)))
RF=$((NNODES < 3 ? NNODES : 3))
KS=bench_std
COMMON=(--nodes "$NODES" --keyspace "$KS" --no-schema --records "$RECORDS" --value-size 100
	--total-connections 50 --json --quiet)

# run NAME ARGS...: one `colonnade bench` run into $RES/NAME.json (errors in NAME.err).
run() {
	local name=$1
	shift
	say "colonnade: $name ($*)"
	if ! "$BIN" bench "$@" >"$RES/$name.json" 2>"$RES/$name.err"; then
		say "  failed: $(tail -1 "$RES/$name.err")"
		rm -f "$RES/$name.json"
	fi
}

json_get() { python3 -c 'import json,sys; print(eval(sys.argv[2], {"j": json.load(open(sys.argv[1]))}))' "$1" "$2" 2>/dev/null || echo 0; }

colonnade_runs() {
	build
	start_cluster
	say "cluster up on $NODES; populating $RECORDS partitions"
	local repl="{'class':'SimpleStrategy','replication_factor':$RF}"
	# Populate with deep pipelines: it is setup, not a measurement.
	run populate write --nodes "$NODES" --keyspace "$KS" --drop --replication "$repl" \
		--populate "$RECORDS" --records "$RECORDS" --ops 1 --total-connections 50 \
		--inflight 8 --cl-write QUORUM --json --quiet
	[ -f "$RES/populate.json" ] || {
		say "populate failed; skipping the colonnade rows"
		return 0
	}
	# Let the populate's flushes and compactions settle before measuring.
	sleep 5
	local d="${SECS}s"
	run write_quorum write --dist uniform "${COMMON[@]}" --duration "$d" --cl-write QUORUM
	run read_quorum read "${COMMON[@]}" --duration "$d" --cl-read QUORUM
	run write_one write --dist uniform "${COMMON[@]}" --duration "$d" --cl-write ONE
	run read_one read "${COMMON[@]}" --duration "$d" --cl-read ONE
	run write_all write --dist uniform "${COMMON[@]}" --duration "$d" --cl-write ALL
	run read_all read "${COMMON[@]}" --duration "$d" --cl-read ALL
	run write_pipelined write --dist uniform "${COMMON[@]}" --duration "$d" --cl-write QUORUM \
		--inflight 16
	run ycsb_a A "${COMMON[@]}" --duration "$d" --cl QUORUM
	# Open loop at half of the measured peaks: the p99 the goals are about.
	# 4 in flight per connection so the 50 connections never limit the
	# schedule (a closed loop's peak is reached with 1): queueing then comes
	# from the servers, not from a shortage of client slots.
	local wpeak rpeak
	wpeak=$(json_get "$RES/write_quorum.json" 'int(j["ops_per_s"])')
	rpeak=$(json_get "$RES/read_quorum.json" 'int(j["ops_per_s"])')
	[ "$wpeak" -ge 2 ] && run write_quorum_50 write --dist uniform "${COMMON[@]}" \
		--duration "$d" --cl-write QUORUM --rate $((wpeak / 2)) --inflight 4
	[ "$rpeak" -ge 2 ] && run read_quorum_50 read "${COMMON[@]}" --duration "$d" \
		--cl-read QUORUM --rate $((rpeak / 2)) --inflight 4
	# One client, one request at a time, on an idle cluster.
	run idle_write write --dist uniform --nodes "$NODES" --keyspace "$KS" --no-schema \
		--records "$RECORDS" --total-connections 1 --duration "$d" --cl-write QUORUM --json \
		--quiet
	run idle_read read --nodes "$NODES" --keyspace "$KS" --no-schema --records "$RECORDS" \
		--total-connections 1 --duration "$d" --cl-read QUORUM --json --quiet
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	PIDS=()
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
	redis-benchmark -h "$NET.1" -p $port -t set,get -c 50 -n $n -d 100 -r 1000000 -P 1 --csv \
		>"$RES/redis.csv" 2>/dev/null || true
	# Pipelined, for the pipelined-writes row (the anchor's ~490k/s).
	redis-benchmark -h "$NET.1" -p $port -t set -c 50 -n $((n * 4)) -d 100 -r 1000000 -P 16 \
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
	wrk -t2 -c50 -d"${SECS}s" --latency -s "$WORK/etcd_put.lua" "$leader" >"$RES/etcd_put.txt" \
		2>&1 || true
	wrk -t2 -c50 -d"${SECS}s" --latency -s "$WORK/etcd_range.lua" "$leader" \
		>"$RES/etcd_range.txt" 2>&1 || true
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	PIDS=()
}

# ---- run ------------------------------------------------------------------------------------

STARTED=$(date -u +%Y-%m-%dT%H:%MZ)
LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
if [ "$ONLY" != anchors ]; then colonnade_runs; fi
if [ "$ONLY" != colonnade ]; then
	anchor_dbbench
	anchor_redis
	anchor_etcd
fi

# ---- the table ------------------------------------------------------------------------------

python3 - "$RES" "$OUT" "$STARTED" "$SECS" "$RECORDS" "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')" "$LOAD" "$NNODES" "$RF" <<'EOF'
import csv, json, os, re, sys
res, out, started, secs, records, commit, loadavg, nnodes, rf = sys.argv[1:10]

def load(name):
    p = os.path.join(res, name + ".json")
    try:
        return json.load(open(p))
    except Exception:
        return None

def err_of(name):
    p = os.path.join(res, name + ".err")
    try:
        lines = [l for l in open(p).read().splitlines() if "colonnade bench:" in l]
        return "failed: " + (lines[-1].replace("colonnade bench: ", "") if lines else "?")
    except Exception:
        return "not run"

def f(x, d=0):
    return "-" if x is None else (f"{x:,.{d}f}")

rows = [
    ("write_quorum", "QUORUM writes, closed loop (peak)", "10,000 / **25,000**"),
    ("read_quorum", "QUORUM reads, closed loop (peak)", "12,000 / **30,000**"),
    ("write_one", "ONE writes, closed loop", ""),
    ("read_one", "ONE reads, closed loop", ""),
    ("write_all", "ALL writes, closed loop", ""),
    ("read_all", "ALL reads, closed loop", ""),
    ("write_pipelined", "QUORUM writes, 16 in flight per connection", "30,000 / **60,000**"),
    ("ycsb_a", "YCSB A (50/50 read/update, zipfian), QUORUM", ""),
    ("write_quorum_50", "QUORUM writes, open loop at 50 % of peak", "p99 ≤ 5 / **2** ms"),
    ("read_quorum_50", "QUORUM reads, open loop at 50 % of peak", "p99 ≤ 5 / **2** ms"),
    ("idle_write", "one client, QUORUM writes", "p50/p99 0.5/2, **0.15/0.5** ms"),
    ("idle_read", "one client, QUORUM reads", ""),
]
lines = []
lines.append(f"Run {started}, commit {commit}, {secs} s per run, 100-byte values, "
             f"{int(records):,} partitions (RF {rf}, {nnodes} nodes, all on this machine with the "
             f"load generator). Produced by `deploy/bench/run.sh`; rerun it to replace this "
             f"section. Load average when it started: {loadavg} (2 vCPUs; other work on the "
             f"machine lowers every figure, anchors included). Goal column: floor / "
             f"**target** from [Goals](#goals).")
lines.append("")
lines.append("| run | conns × in flight | loop | ops/s | p50 ms | p99 ms | p99.9 ms | max ms | errors | node CPU s (sum) | node RSS peak MiB (max) | goal |")
lines.append("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
figs = {}
for name, label, goal in rows:
    j = load(name)
    if not j:
        lines.append(f"| {label} | | | {err_of(name).replace('|', '/')} | | | | | | | | {goal} |")
        continue
    lat = j["latency_ms"]
    procs = [p for p in j.get("node_processes", []) if p.get("pid")]
    cpu = sum(p["cpu_s"] for p in procs) if procs else None
    rss = max(p["rss_peak_mib"] for p in procs) if procs else None
    loop = "open @ %s/s" % f(j["target_rate"]) if j["loop"] == "open" else "closed"
    figs[name] = (j["ops_per_s"], lat["p50"], lat["p99"])
    lines.append(f"| {label} | {j['connections']} × {j['inflight_per_connection']} | {loop} | "
                 f"{f(j['ops_per_s'])} | {lat['p50']:.3f} | {lat['p99']:.3f} | {lat['p999']:.3f} | "
                 f"{lat['max']:.3f} | {j['errors']['total']} | {f(cpu, 1)} | {f(rss, 1)} | {goal} |")

def read_fig(name):
    try:
        v = open(os.path.join(res, name + ".fig")).read().split()
        ops, p50, p99, p999 = float(v[0]), float(v[1]), float(v[2]), float(v[3])
        return (ops, p50, p99) if ops > 0 else None
    except Exception:
        return None

anchors = {}
anchors["dbb_fill"] = read_fig("dbb_fill")
anchors["dbb_read"] = read_fig("dbb_read")
try:
    for r in csv.DictReader(open(os.path.join(res, "redis.csv"))):
        anchors["redis_" + r["test"].lower()] = (float(r["rps"]), float(r["p50_latency_ms"]),
                                                 float(r["p99_latency_ms"]))
except Exception:
    pass
try:
    for r in csv.DictReader(open(os.path.join(res, "redis_p16.csv"))):
        anchors["redis_p16_" + r["test"].lower()] = (float(r["rps"]), float(r["p50_latency_ms"]),
                                                     float(r["p99_latency_ms"]))
except Exception:
    pass

def wrk_fig(name):
    try:
        t = open(os.path.join(res, name + ".txt")).read()
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
        def pct(p):
            m = re.search(r"^\s+%s%%\s+([\d.]+)(us|ms|s)\s*$" % p, t, re.M)
            v, u = float(m.group(1)), m.group(2)
            return v / 1000 if u == "us" else v * 1000 if u == "s" else v
        non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
        if non2xx and int(non2xx.group(1)) > 0:
            return None
        return (rps, pct(50), pct(99))
    except Exception:
        return None
anchors["etcd_put"] = wrk_fig("etcd_put")
anchors["etcd_range"] = wrk_fig("etcd_range")

lines.append("")
lines.append("Anchors measured in the same sitting (same value size, 50 clients where the tool has clients):")
lines.append("")
lines.append("| anchor | ops/s | p50 ms | p99 ms |")
lines.append("|---|---:|---:|---:|")
alabels = [("dbb_fill", "RocksDB db_bench fillrandom, 1 thread (no network)"),
           ("dbb_read", "RocksDB db_bench readrandom, 1 thread, cold block cache"),
           ("redis_set", "redis SET, 50 clients, -P 1, no persistence"),
           ("redis_get", "redis GET, 50 clients, -P 1"),
           ("redis_p16_set", "redis SET, 50 clients, -P 16"),
           ("etcd_put", "etcd put, 3 members, 50 clients (wrk)"),
           ("etcd_range", "etcd linearizable range, 3 members, 50 clients (wrk)")]
for k, label in alabels:
    a = anchors.get(k)
    if a:
        lines.append(f"| {label} | {f(a[0])} | {a[1]:.3f} | {a[2]:.3f} |")
    else:
        lines.append(f"| {label} | not run (tool missing or failed) | | |")

lines.append("")
lines.append("Ratios (colonnade ÷ anchor, ops/s):")
lines.append("")
lines.append("| colonnade | ÷ db_bench | ÷ redis | ÷ etcd (50 clients) |")
lines.append("|---|---:|---:|---:|")
def ratio(a, b):
    return "-" if not a or not b or not b[0] else f"{a[0] / b[0]:.2f}×"
for name, label, dbb, red, etc in [
        ("write_quorum", "QUORUM writes", "dbb_fill", "redis_set", "etcd_put"),
        ("read_quorum", "QUORUM reads", "dbb_read", "redis_get", "etcd_range"),
        ("write_pipelined", "QUORUM writes, 16 in flight (redis: -P 16)", "dbb_fill",
         "redis_p16_set", "etcd_put")]:
    c = figs.get(name)
    lines.append(f"| {label} | {ratio(c, anchors.get(dbb))} | {ratio(c, anchors.get(red))} | "
                 f"{ratio(c, anchors.get(etc))} |")

block = "<!-- bench:begin -->\n" + "\n".join(lines) + "\n<!-- bench:end -->"
text = open(out).read() if os.path.exists(out) else ""
if "<!-- bench:begin -->" in text and "<!-- bench:end -->" in text:
    text = re.sub(r"<!-- bench:begin -->.*?<!-- bench:end -->", lambda m: block, text, flags=re.S)
elif "## Cluster benchmarks" in text:
    text = text.replace("## Cluster benchmarks", "## Cluster benchmarks\n\n" + block, 1)
else:
    if not text:
        text = "# Benchmarks\n"
    text = text.rstrip("\n") + "\n\n## Cluster benchmarks\n\n" + block + "\n"
open(out, "w").write(text)
print("\n".join(lines))
EOF
say "table written to $OUT"
