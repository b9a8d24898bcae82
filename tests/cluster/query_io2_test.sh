#!/usr/bin/env bash
# query_test.sh's checks with two event loops per node (io_threads: 2): the request loop a
# client lands on coordinates its reads itself (docs/ARCHITECTURE.md, Threads), so page
# boundaries, paging states resumed on another coordinator (another node, or another loop
# of one node), short reads and range reads run through a request loop's storage proxy.
#
# Env: COLONNADE_BIN (required), COLONNADE_TEST_NET (default 127.0.0: nodes .54-.56),
# COLONNADE_KEEP=1 keeps the temp directory.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
TEST=query_io2_test
FIRST=54
extra_yaml() { echo "io_threads: 2"; }
# shellcheck source=py_cluster_lib.sh
. "$HERE/py_cluster_lib.sh"

cluster_start
/usr/bin/python3 "$HERE/py/query_test.py" "$HOSTS" && RC=0
exit $RC
