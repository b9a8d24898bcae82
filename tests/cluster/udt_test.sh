#!/usr/bin/env bash
# User-defined types through Debian's python3-cassandra driver on a real 3-node
# cluster (tests/cluster/py/udt_test.py): types made through node 1 are seen and
# used through node 3 (cluster.metadata, prepared writes, namedtuple reads),
# ALTER TYPE reaches every node, misuse is refused with Cassandra's messages.
#
# Env: COLONNADE_BIN (required), COLONNADE_TEST_NET (default 127.0.0: nodes .81-.83),
# COLONNADE_KEEP=1 keeps the temp directory.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
BIN=${COLONNADE_BIN:?set COLONNADE_BIN to the colonnade binary}
NET=${COLONNADE_TEST_NET:-127.0.0}
N=3
FIRST=81
ROOT=$(mktemp -d /tmp/colonnade-udt-test.XXXXXX)
declare -a PIDS=()
RC=1

/usr/bin/python3 -c 'import cassandra' || {
	echo "python3-cassandra is not installed (deploy/install-deps.sh)"
	exit 1
}

cleanup() {
	local p k
	for k in $(seq 1 $N); do # a node the python side restarted
		[ -f "$ROOT/node$k/pid" ] && PIDS+=("$(cat "$ROOT/node$k/pid")")
	done
	for p in "${PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
	done
	for p in "${PIDS[@]}"; do
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	if [ "$RC" -ne 0 ]; then
		for k in $(seq 1 $N); do
			echo "--- node $k log (tail)"
			tail -n 20 "$ROOT/node$k/node.log" 2>/dev/null || true
		done
	fi
	if [ "${COLONNADE_KEEP:-0}" = 1 ]; then echo "kept $ROOT"; else rm -rf "$ROOT"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The node reads COLONNADE_* from its environment as config: give it none.
UNSET=()
for v in $(env | grep -o '^COLONNADE_[A-Za-z0-9_]*' || true); do
	UNSET+=(-u "$v")
done

start_node() {
	local k=$1 dir="$ROOT/node$1" addr="$NET.$((FIRST + $1 - 1))"
	mkdir -p "$dir/data"
	cat >"$dir/colonnade.yaml" <<EOF
cluster_name: 'udt-test'
listen_address: $addr
rpc_address: $addr
seed_provider:
  - class_name: org.apache.cassandra.locator.SimpleSeedProvider
    parameters:
      - seeds: "$NET.$FIRST"
data_file_directories:
  - $dir/data
num_tokens: 16
gossip_interval: 50ms
endpoint_snitch: GossipingPropertyFileSnitch
dc: dc1
rack: rack1
EOF
	# the command that starts it, for the python side's restart
	printf '%s\0' env "${UNSET[@]}" "$BIN" server -c "$dir/colonnade.yaml" >"$dir/cmd"
	(cd "$dir" && exec env "${UNSET[@]}" "$BIN" server -c "$dir/colonnade.yaml" \
		>>"$dir/node.log" 2>&1) &
	PIDS[$k]=$!
	echo "${PIDS[$k]}" >"$dir/pid"
}

for k in $(seq 1 $N); do start_node "$k"; done
HOSTS=""
for k in $(seq 1 $N); do HOSTS="$HOSTS${HOSTS:+,}$NET.$((FIRST + k - 1))"; done
up=0
for _ in $(seq 300); do
	up=$(env "${UNSET[@]}" "$BIN" status -h "$NET.$FIRST" 2>/dev/null | grep -c '^UN ' || true)
	[ "$up" -ge $N ] && break
	sleep 0.2
done
if [ "$up" -lt $N ]; then
	echo "udt_test: only $up of $N nodes up after 60 s"
	exit 1
fi
echo "udt_test: $N nodes up ($HOSTS)"
/usr/bin/python3 "$HERE/py/udt_test.py" "$HOSTS" "$ROOT" && RC=0
exit $RC
