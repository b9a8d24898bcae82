#!/usr/bin/env bash
# A node displaced by gossip while it runs gets its address back without a restart
# (tests/cluster/py/reclaim_test.py): node 3, its wall clock an hour ahead (an LD_PRELOAD
# shim, shim/clock_ahead.c), takes node 2's address while both are down; node 2 comes
# back there with a lower generation, so the cluster keeps it displaced; when node 3
# moves on, node 2 has its address back in the same generation, and clients REGISTERed
# on node 1 must hear NEW_NODE then UP for it there, and a python-driver session must
# send it requests.  Three nodes, $NET.96-.98.
#
# Env: COLONNADE_BIN (required), COLONNADE_TEST_NET (default 127.0.0),
# COLONNADE_KEEP=1 keeps the temp directory.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
TEST=reclaim_test
FIRST=96
N=3
# shellcheck source=py_cluster_lib.sh
. "$HERE/py_cluster_lib.sh"

cc -shared -fPIC -O2 -Wall -o "$ROOT/clock_ahead.so" "$HERE/shim/clock_ahead.c" -ldl || {
	echo "$TEST: cannot build the clock shim"
	exit 1
}
cluster_start
/usr/bin/python3 "$HERE/py/reclaim_test.py" "$HOSTS" "$ROOT" "$ROOT/clock_ahead.so" && RC=0
exit $RC
