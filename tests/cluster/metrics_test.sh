#!/usr/bin/env bash
# Request latency histograms per operation and table in /metrics, after traffic from the
# python driver (tests/cluster/py/metrics_test.py) against one node this script starts:
# once with one event loop, once with two request loops (io_threads=2: every loop's
# requests land in the node's one registry, each counted once).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
/usr/bin/python3 -c 'import cassandra' || { echo "python3-cassandra is not installed (deploy/install-deps.sh)"; exit 1; }
for threads in 0 2; do
	echo "---- io_threads=$threads"
	# a subshell per node: cql_node_lib stops the node when it exits
	(
		# shellcheck source=cql_node_lib.sh
		. "$HERE/cql_node_lib.sh"
		export CQL_NODE_ARGS="--io_threads=$threads"
		cql_node_start 62
		/usr/bin/python3 "$HERE/py/metrics_test.py"
	)
done
