#!/usr/bin/env bash
# ALLOW FILTERING, aggregates, GROUP BY, PER PARTITION LIMIT, multi-column relations
# and functions through Debian's python3-cassandra driver against a real 3-node
# cluster (tests/cluster/py/query_test.py): page boundaries, data on every node,
# paging states resumed on another coordinator, deleted and expired rows left out,
# Cassandra's error messages.
#
# Env: COLONNADE_BIN (required), COLONNADE_TEST_NET (default 127.0.0: nodes .51-.53),
# COLONNADE_KEEP=1 keeps the temp directory.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
TEST=query_test
FIRST=51
# shellcheck source=py_cluster_lib.sh
. "$HERE/py_cluster_lib.sh"

cluster_start
/usr/bin/python3 "$HERE/py/query_test.py" "$HOSTS" && RC=0
exit $RC
