#!/usr/bin/env bash
# Request tracing through Debian's python3-cassandra driver against a real 3-node RF 3
# cluster (tests/cluster/py/tracing_test.py): traced QUORUM writes and reads read back
# with the driver's get_query_trace(), each replica's own events, the trace readable
# through every node, a write timing out on a stopped node, a read with a node killed,
# and the trace writer's /metrics.
#
# Node 1, which coordinates most of the requests, runs two event loops (io_threads: 2), so
# its traces follow requests from a request loop to the main loop and back; node 2 one.
#
# Env: COLONNADE_BIN (required), COLONNADE_TEST_NET (default 127.0.0: nodes .91-.93),
# COLONNADE_KEEP=1 keeps the temp directory.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
TEST=tracing_test
FIRST=91
# shellcheck source=py_cluster_lib.sh
. "$HERE/py_cluster_lib.sh"
# node 1 only (cluster_start_node's k)
extra_yaml() { if [ "$k" = 1 ]; then echo "io_threads: 2"; fi; }

cluster_start
COLONNADE_BIN="$BIN" /usr/bin/python3 "$HERE/py/tracing_test.py" "$HOSTS" "$ROOT" && RC=0
exit $RC
