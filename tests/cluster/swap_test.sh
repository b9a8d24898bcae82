#!/usr/bin/env bash
# Two nodes of different datacenters restarted at each other's addresses (what docker does
# to containers killed and started together), with the same data, so the same host ids and
# tokens: every node's ring, status and system.peers, and the view of python3-cassandra
# sessions that stay connected throughout, must follow the host ids to their new addresses,
# and DC-aware LOCAL_QUORUM requests must go to their own datacenter only
# (tests/cluster/py/swap_test.py).  Four nodes: dc1 $NET.91-.92, dc2 $NET.93-.94.
#
# Env: COLONNADE_BIN (required), COLONNADE_TEST_NET (default 127.0.0),
# COLONNADE_KEEP=1 keeps the temp directory, SWAP_DEBUG=1 prints the python driver's log.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
TEST=swap_test
FIRST=91
N=4
NET=${COLONNADE_TEST_NET:-127.0.0}
SEEDS="$NET.91,$NET.93"
node_dc() { if [ "$1" -le 2 ]; then echo dc1; else echo dc2; fi; }
# shellcheck source=py_cluster_lib.sh
. "$HERE/py_cluster_lib.sh"

cluster_start
/usr/bin/python3 "$HERE/py/swap_test.py" "$HOSTS" "$ROOT" "$BIN" && RC=0
exit $RC
