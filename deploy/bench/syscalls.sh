#!/usr/bin/env bash
# deploy/bench/syscalls.sh — system calls and CPU per request on a fresh 3-node cluster.
#
# Starts 3 nodes (RF 3) on $NET.1-3 in a temp directory, writes a fixed number
# of QUORUM operations with `colonnade bench` (closed loop, 50 connections,
# 100-byte values) while `perf stat` counts every node's system calls by kind
# (tracepoints raw_syscalls:sys_enter and syscalls:sys_enter_*), and prints
# per operation, all three nodes together: system calls by kind, the total,
# and CPU µs (from the nodes' /proc/<pid>/stat over the run).  Counts, not
# throughput, so the figures hold on a loaded machine.
#
# Env: NET [127.0.0] node addresses; OPS [200000]; WORKLOAD [write] (or read);
#      CL [QUORUM]; INFLIGHT [1] requests per connection; BUILD [./build];
#      KEEP=1 keeps the temp directory.  Needs perf and root (or
#      kernel.perf_event_paranoid <= -1) for the tracepoints.
set -euo pipefail

cd "$(dirname "$0")/../.."
ROOT=$(pwd)
NET=${NET:-127.0.0}
OPS=${OPS:-200000}
WORKLOAD=${WORKLOAD:-write}
CL=${CL:-QUORUM}
INFLIGHT=${INFLIGHT:-1}
BUILD=${BUILD:-$ROOT/build}
BIN=$BUILD/cli/colonnade
WORK=$(mktemp -d /tmp/colonnade-syscalls.XXXXXX)
declare -a PIDS=()

say() { echo "syscalls: $*" >&2; }
die() {
	say "$*"
	exit 1
}
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	sleep 0.5
	for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	if [ "${KEEP:-0}" = 1 ]; then say "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ -x "$BIN" ] || die "no $BIN: build first"
command -v perf >/dev/null || die "perf is not installed"
UNSET=()
for v in $(env | grep -o '^COLONNADE_[A-Za-z0-9_]*' || true); do UNSET+=(-u "$v"); done

for k in 1 2 3; do
	dir=$WORK/node$k
	mkdir -p "$dir/data"
	sed -e "s|@ADDRESS@|$NET.$k|g" -e "s|@SEEDS@|$NET.1,$NET.2|g" -e "s|@DATA@|$dir/data|g" \
		"$ROOT/deploy/conf/local-node.yaml.in" >"$dir/colonnade.yaml"
	sed -i 's/^log_level: .*/log_level: warn/' "$dir/colonnade.yaml"
	(cd "$dir" && exec env "${UNSET[@]}" "$BIN" server -c "$dir/colonnade.yaml" \
		>"$dir/node.log" 2>&1) &
	PIDS+=($!)
done
deadline=$((SECONDS + 90))
until [ "$(env "${UNSET[@]}" "$BIN" status -h "$NET.1" 2>/dev/null | grep -c '^UN ')" = 3 ]; do
	[ $SECONDS -lt $deadline ] || die "the cluster did not come up"
	sleep 0.5
done
NODES="$NET.1,$NET.2,$NET.3"
KS=syscalls
COMMON=(--nodes "$NODES" --keyspace "$KS" --records 100000 --value-size 100
	--total-connections 50 --inflight "$INFLIGHT" --cl "$CL" --json --quiet)
until env "${UNSET[@]}" "$BIN" bench write "${COMMON[@]}" --drop \
	--replication "{'class':'SimpleStrategy','replication_factor':3}" \
	--populate 100000 --ops 1 >"$WORK/populate.json" 2>"$WORK/populate.err"; do
	[ $SECONDS -lt $((deadline + 60)) ] || die "populate failed: $(tail -1 "$WORK/populate.err")"
	sleep 1
done
sleep 2

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
EVENTS=raw_syscalls:sys_enter
for s in read write readv writev sendto recvfrom sendmsg recvmsg epoll_wait epoll_ctl \
	futex pwrite64 pread64 fdatasync fsync clock_gettime; do
	EVENTS+=",syscalls:sys_enter_$s"
done
pids=$(
	IFS=,
	echo "${PIDS[*]}"
)
declare -a T0=()
for p in "${PIDS[@]}"; do T0+=("$(cpu_ticks "$p")"); done
perf stat -x, -e "$EVENTS" -p "$pids" -o "$WORK/perf.csv" &
perf_pid=$!
sleep 0.5
env "${UNSET[@]}" "$BIN" bench "$WORKLOAD" "${COMMON[@]}" --no-schema --ops "$OPS" \
	>"$WORK/run.json" 2>"$WORK/run.err" || die "bench failed: $(tail -1 "$WORK/run.err")"
kill -INT "$perf_pid"
wait "$perf_pid" || true
ticks=0
i=0
for p in "${PIDS[@]}"; do
	ticks=$((ticks + $(cpu_ticks "$p") - T0[i]))
	i=$((i + 1))
done
hz=$(getconf CLK_TCK)
python3 - "$WORK/perf.csv" "$WORK/run.json" "$ticks" "$hz" "$OPS" <<'EOF'
import json, sys
perf, run, ticks, hz, ops = sys.argv[1], json.load(open(sys.argv[2])), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
counts = {}
for line in open(perf):
    f = line.strip().split(',')
    if len(f) < 3 or not f[0].replace('.', '').isdigit():
        continue
    counts[f[2].split(':')[-1].replace('sys_enter_', '')] = float(f[0])
total = counts.pop('sys_enter', 0)
print(f"workload {run['workload']} cl {run.get('cl_write') if run['workload']=='write' else run.get('cl_read')}"
      f" ops {run['ops']} ok {run['ok']} ops/s {run['ops_per_s']:.0f}"
      f" p99 {run['latency_ms']['p99']:.2f} ms  connections {run['connections']} x {run['inflight_per_connection']}")
print(f"all 3 nodes: syscalls/op {total/ops:.2f}  CPU us/op {ticks/hz*1e6/ops:.1f}")
print('  ' + '  '.join(f"{k} {v/ops:.2f}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]) if v))
EOF
