#!/usr/bin/env bash
# deploy/local-cluster.sh start|stop|status|restart [N]
#
# A local Colonnade cluster on this machine: N nodes (default 3) on
# 127.0.0.1 .. 127.0.0.N, all on the same ports (7000 internode, 9042 CQL,
# 7199 admin), like N hosts.  Node k keeps its config, data and log under
# ./.cluster/nodeK/.  `start` builds first if needed (cmake in ./build), starts
# the nodes that are not running (installing the Debian packages it needs
# first, via deploy/install-deps.sh), waits until `colonnade status` shows every
# node UN, and prints how to connect and how to stop.  Running it again is
# harmless.  On Linux every 127.x.y.z address is loopback: no setup needed.
# Environment: COLONNADE_BUILD (build dir), COLONNADE_CLUSTER_DIR (./.cluster),
# COLONNADE_LOCAL_NET (127.0.0: nodes at NET.1..NET.N), COLONNADE_WAIT_S (60),
# COLONNADE_SKIP_DEPS=1 (do not run deploy/install-deps.sh).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD=${COLONNADE_BUILD:-$ROOT/build}
CL=${COLONNADE_CLUSTER_DIR:-$ROOT/.cluster}
NET=${COLONNADE_LOCAL_NET:-127.0.0}
BIN=$BUILD/cli/colonnade
CQLISH=$BUILD/cli/cqlish
TEMPLATE=$ROOT/deploy/conf/local-node.yaml.in
WAIT_S=${COLONNADE_WAIT_S:-60}

die() { echo "local-cluster: $*" >&2; exit 1; }

usage() {
	echo "usage: $0 start|stop|status|restart [N]   (N nodes, default 3, at most 254)" >&2
	exit 2
}

node_pid() { # prints the pid of node k if it runs
	local f=$CL/node$1/node.pid
	[ -f "$f" ] || return 1
	local p
	p=$(cat "$f")
	[ -n "$p" ] && kill -0 "$p" 2>/dev/null && grep -q colonnade "/proc/$p/cmdline" 2>/dev/null || return 1
	echo "$p"
}

known_nodes() { # the node numbers that have a directory
	local d
	for d in "$CL"/node*; do
		[ -d "$d" ] && echo "${d##*/node}"
	done | sort -n
}

build() {
	# On a new machine this is the first command a user runs: bring the
	# dependencies first (idempotent and quick once installed).
	if [ "${COLONNADE_SKIP_DEPS:-0}" != 1 ]; then
		"$ROOT/deploy/install-deps.sh" || die "installing dependencies failed"
	fi
	command -v cmake >/dev/null || die "cmake is missing: run ./deploy/install-deps.sh first"
	if [ ! -f "$BUILD/CMakeCache.txt" ]; then
		echo "local-cluster: configuring $BUILD"
		cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null ||
			die "cmake configure failed"
	fi
	echo "local-cluster: building colonnade (and cqlish) in $BUILD"
	local targets=(--target colonnade)
	if grep -q '^cqlish:' "$BUILD/cli/Makefile" 2>/dev/null; then
		targets+=(--target cqlish)
	fi
	mkdir -p "$CL"
	if ! cmake --build "$BUILD" -j"$(nproc)" "${targets[@]}" >"$CL/build.log" 2>&1; then
		tail -n 30 "$CL/build.log" >&2
		die "build failed (full output in $CL/build.log)"
	fi
	[ -x "$BIN" ] || die "build did not produce $BIN"
}

port_taken_by_other() { # addr port -> true if something else listens there
	ss -Hltn "src $1:$2" 2>/dev/null | grep -q .
}

start_node() {
	local k=$1 n=$2 addr="$NET.$1" dir="$CL/node$1"
	if p=$(node_pid "$k"); then
		echo "node $k ($addr) already running (pid $p)"
		return 0
	fi
	for port in 7000 9042 7199; do
		if port_taken_by_other "$addr" "$port"; then
			die "$addr:$port is taken by another program ($(ss -Hltnp "src $addr:$port" | sed 's/.*users://' | head -1)); stop it first"
		fi
	done
	mkdir -p "$dir/data"
	local seeds="$NET.1"
	[ "$n" -ge 2 ] && seeds="$NET.1,$NET.2"
	sed -e "s|@ADDRESS@|$addr|g" -e "s|@SEEDS@|$seeds|g" -e "s|@DATA@|$dir/data|g" \
		"$TEMPLATE" >"$dir/colonnade.yaml"
	# exec: the background subshell becomes the node, so $! is the node's pid and
	# nothing of ours keeps the caller's stdout open.
	(cd "$dir" && exec nohup "$BIN" server -c "$dir/colonnade.yaml" </dev/null >>"$dir/node.log" 2>&1) &
	echo $! >"$dir/node.pid"
	echo "node $k ($addr) starting (pid $(cat "$dir/node.pid")), log $dir/node.log"
}

count_un() {
	"$BIN" status -h $NET.1 2>/dev/null | grep -c '^UN ' || true
}

wait_all_up() {
	local n=$1 deadline=$((SECONDS + WAIT_S)) up=0
	echo -n "local-cluster: waiting for $n nodes to be UN "
	while [ $SECONDS -lt $deadline ]; do
		up=$(count_un)
		if [ "$up" -eq "$n" ]; then
			echo " ok"
			return 0
		fi
		for k in $(seq 1 "$n"); do
			if ! node_pid "$k" >/dev/null; then
				echo
				echo "local-cluster: node $k exited; the end of its log:" >&2
				tail -n 20 "$CL/node$k/node.log" >&2 || true
				exit 1
			fi
		done
		echo -n "."
		sleep 0.5
	done
	echo
	echo "local-cluster: only $up of $n nodes are UN after ${WAIT_S}s; ends of the logs:" >&2
	for k in $(seq 1 "$n"); do
		echo "--- node $k" >&2
		tail -n 10 "$CL/node$k/node.log" >&2 || true
	done
	exit 1
}

cmd_start() {
	local n=$1
	build
	mkdir -p "$CL"
	for k in $(seq 1 "$n"); do start_node "$k" "$n"; done
	wait_all_up "$n"
	"$BIN" status -h $NET.1
	cat <<EOF

Colonnade is running: $n nodes on $NET.1..$NET.$n (CQL port 9042).
  connect:  $CQLISH $NET.1
  status:   $BIN status -h $NET.1   (also: info, gossipinfo, describecluster, ring; -h $NET.2 ...)
  metrics:  curl http://$NET.1:7199/metrics
  logs:     $CL/node1/node.log ...
  stop:     $0 stop
EOF
}

stop_node() {
	local k=$1 p
	if ! p=$(node_pid "$k"); then
		rm -f "$CL/node$k/node.pid"
		return 0
	fi
	kill -TERM "$p"
	for _ in $(seq 1 200); do
		kill -0 "$p" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$p" 2>/dev/null; then
		echo "node $k (pid $p) ignored SIGTERM for 20s; killing it" >&2
		kill -KILL "$p" || true
	fi
	rm -f "$CL/node$k/node.pid"
	echo "node $k stopped"
}

cmd_stop() {
	local any=0
	for k in $(known_nodes); do
		if node_pid "$k" >/dev/null; then
			any=1
			stop_node "$k"
		fi
	done
	[ $any -eq 1 ] || echo "local-cluster: no node is running"
	echo "data kept under $CL (remove it for a fresh cluster)"
}

cmd_status() {
	local running=0
	for k in $(known_nodes); do
		if p=$(node_pid "$k"); then
			echo "node $k ($NET.$k): running, pid $p"
			running=$((running + 1))
		else
			echo "node $k ($NET.$k): stopped"
		fi
	done
	if [ $running -eq 0 ]; then
		echo "local-cluster: no node is running (start: $0 start)"
		return 1
	fi
	[ -x "$BIN" ] || die "$BIN is missing"
	local h
	for k in $(known_nodes); do
		if node_pid "$k" >/dev/null; then h=$NET.$k; break; fi
	done
	echo
	"$BIN" status -h "$h"
}

[ $# -ge 1 ] || usage
N=${2:-3}
[[ "$N" =~ ^[0-9]+$ ]] && [ "$N" -ge 1 ] && [ "$N" -le 254 ] || usage
case "$1" in
start) cmd_start "$N" ;;
stop) cmd_stop ;;
status) cmd_status ;;
restart) cmd_stop; cmd_start "$N" ;;
*) usage ;;
esac
