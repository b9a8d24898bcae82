# Shared by the CQL driver tests: start one node on $CQL_HOST with data in a
# temp dir, wait until its CQL port answers, and stop it on exit.
#
#   COLONNADE_BIN          the colonnade binary (`colonnade server ...`)
#   COLONNADE_CQL_HELPER   path of coordinator_helper_cqlnode: when set, that
#                          program serves CQL instead of a full node (the CQL
#                          server's own tests, independent of gossip)
#   COLONNADE_TEST_NET     address base, default 127.0.0
#   CQL_NODE_ARGS          more `colonnade server` flags (word-split), e.g. --io_threads=2
# shellcheck shell=bash
# shellcheck source=script_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/script_lib.sh"

cql_node_start() { # $1 = last octet
	CQL_HOST="${COLONNADE_TEST_NET:-127.0.0}.$1"
	CQL_DATA=$(mktemp -d /tmp/colonnade-cqltest.XXXXXX)
	CQL_LOG="$CQL_DATA/node.log"
	export CQL_HOST
	if [ -n "${COLONNADE_CQL_HELPER:-}" ]; then
		"$COLONNADE_CQL_HELPER" --address "$CQL_HOST" --port 9042 --data "$CQL_DATA/data" \
			>"$CQL_LOG" 2>&1 &
	else
		: "${COLONNADE_BIN:?COLONNADE_BIN must name the colonnade binary}"
		"$COLONNADE_BIN" server --cluster_name=cqltest --listen_address="$CQL_HOST" \
			--rpc_address="$CQL_HOST" --seeds="$CQL_HOST" \
			--data_file_directories="$CQL_DATA/data" --native_transport_port=9042 \
			--dc=datacenter1 --rack=rack1 ${CQL_NODE_ARGS:-} \
			>"$CQL_LOG" 2>&1 &
	fi
	CQL_PID=$!
	trap cql_node_stop EXIT
	for _ in $(seq 1 150); do
		if (exec 3<>"/dev/tcp/$CQL_HOST/9042") 2>/dev/null; then
			echo "node up on $CQL_HOST:9042 (pid $CQL_PID)"
			return 0
		fi
		if ! kill -0 "$CQL_PID" 2>/dev/null; then
			echo "node exited during start-up:"; cat "$CQL_LOG"; return 1
		fi
		sleep 0.2
	done
	echo "node did not open $CQL_HOST:9042 within 30 s:"; cat "$CQL_LOG"; return 1
}

cql_node_stop() {
	local rc=$?
	if [ -n "${CQL_PID:-}" ] && kill -0 "$CQL_PID" 2>/dev/null; then
		stop_pids 5 "$CQL_PID"
	fi
	if [ "$rc" -ne 0 ] && [ -f "${CQL_LOG:-/nonexistent}" ]; then
		echo "---- node log (last 40 lines)"; tail -40 "$CQL_LOG"
	fi
	[ -n "${CQL_DATA:-}" ] && rm -rf "$CQL_DATA"
	exit "$rc"
}
