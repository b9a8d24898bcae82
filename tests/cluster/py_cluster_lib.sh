# shellcheck shell=bash
# py_cluster_lib.sh — a cluster of real nodes for a test driven by a python (or node, or
# cqlish) client: N nodes on $NET.$FIRST onwards, one datacenter, gossip at 50 ms.
#
# Source it after setting TEST (the test's name: its cluster name, temp directory and
# messages) and FIRST (node 1's last address byte); optionally N (3), SEEDS (node 1's
# address; comma-separated), a function node_dc that prints node $1's datacenter (dc1
# for all) and a function extra_yaml that prints more lines for every node's
# colonnade.yaml. Then call
# cluster_start: it starts the nodes and returns when every node sees all of them UN,
# leaving HOSTS (comma-separated addresses) and ROOT (the temp directory: nodeK/ holds
# the node's config, data, node.log, its start command in cmd, NUL-separated, and its pid,
# so a client may kill and restart a node). Set RC=0 when the test passed: the exit trap
# stops every node (also ones the client restarted), prints the logs' tails on failure
# and removes ROOT unless COLONNADE_KEEP=1. It sources script_lib.sh: node_env runs a
# command without this shell's COLONNADE_* settings (as the nodes run).
#
# Env: COLONNADE_BIN (required), COLONNADE_TEST_NET (default 127.0.0).

BIN=${COLONNADE_BIN:?set COLONNADE_BIN to the colonnade binary}
NET=${COLONNADE_TEST_NET:-127.0.0}
N=${N:-3}
SEEDS=${SEEDS:-$NET.$FIRST}
ROOT=$(mktemp -d "/tmp/colonnade-$TEST.XXXXXX")
HOSTS=""
declare -a PIDS=()
RC=1
# shellcheck source=script_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/script_lib.sh"

/usr/bin/python3 -c 'import cassandra' || {
	echo "python3-cassandra is not installed (deploy/install-deps.sh)"
	exit 1
}

cluster_cleanup() {
	local k
	for k in $(seq 1 "$N"); do # a node the client restarted
		[ -f "$ROOT/node$k/pid" ] && PIDS+=("$(cat "$ROOT/node$k/pid")")
	done
	stop_pids 5 "${PIDS[@]}"
	wait 2>/dev/null || true
	if [ "$RC" -ne 0 ]; then
		for k in $(seq 1 "$N"); do
			echo "--- node $k log (tail)"
			grep -v DEBUG "$ROOT/node$k/node.log" 2>/dev/null | tail -n 25 || true
		done
	fi
	if [ "${COLONNADE_KEEP:-0}" = 1 ]; then echo "kept $ROOT"; else rm -rf "$ROOT"; fi
}
trap cluster_cleanup EXIT
trap 'exit 130' INT TERM

cluster_start_node() { # k
	local k=$1 dir="$ROOT/node$1" addr="$NET.$((FIRST + $1 - 1))" dc=dc1
	if declare -F node_dc >/dev/null; then dc=$(node_dc "$k"); fi
	mkdir -p "$dir/data"
	cat >"$dir/colonnade.yaml" <<YAML
cluster_name: '$TEST'
listen_address: $addr
rpc_address: $addr
seed_provider:
  - class_name: org.apache.cassandra.locator.SimpleSeedProvider
    parameters:
      - seeds: "$SEEDS"
data_file_directories:
  - $dir/data
num_tokens: 16
gossip_interval: 50ms
endpoint_snitch: GossipingPropertyFileSnitch
dc: $dc
rack: rack1
YAML
	if declare -F extra_yaml >/dev/null; then extra_yaml >>"$dir/colonnade.yaml"; fi
	printf '%s\0' env "${NODE_UNSET[@]}" "$BIN" server -c "$dir/colonnade.yaml" >"$dir/cmd"
	(cd "$dir" && exec env "${NODE_UNSET[@]}" "$BIN" server -c "$dir/colonnade.yaml" \
		>>"$dir/node.log" 2>&1) &
	PIDS[k]=$!
	echo "${PIDS[k]}" >"$dir/pid"
}

# Every node's view, not node 1's alone: a request another node coordinates right after
# (at ALL, or at QUORUM once a node is down) needs that node to count the others up too;
# and every CQL port open (a node is UN a moment before it opens it).
cluster_start() {
	local k up=0 h cql=0
	for k in $(seq 1 "$N"); do cluster_start_node "$k"; done
	for k in $(seq 1 "$N"); do HOSTS="$HOSTS${HOSTS:+,}$NET.$((FIRST + k - 1))"; done
	for _ in $(seq 300); do
		up=$N
		cql=0
		for h in ${HOSTS//,/ }; do
			k=$(node_env "$BIN" status -h "$h" 2>/dev/null | grep -c '^UN ' || true)
			[ "$k" -lt "$up" ] && up=$k
			(exec 3<>"/dev/tcp/$h/9042") 2>/dev/null && cql=$((cql + 1))
		done
		[ "$up" -ge "$N" ] && [ "$cql" -ge "$N" ] && break
		sleep 0.2
	done
	if [ "$up" -lt "$N" ] || [ "$cql" -lt "$N" ]; then
		echo "$TEST: after 60 s a node sees only $up of $N nodes up; $cql CQL ports open"
		exit 1
	fi
	echo "$TEST: $N nodes up ($HOSTS) in every node's view, CQL open on each"
}
