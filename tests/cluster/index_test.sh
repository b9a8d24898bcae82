#!/usr/bin/env bash
# Secondary indexes through Debian's python3-cassandra driver against a real
# 3-node RF 3 cluster (tests/cluster/py/index_test.py): an indexed query returns
# exactly the matching rows at ONE and QUORUM, paged, while a writer inserts,
# updates, deletes and writes TTL rows; then after one node is SIGKILLed and
# restarted (the python side kills and restarts it through the pid files here).
#
# Env: COLONNADE_BIN (required), COLONNADE_TEST_NET (default 127.0.0: nodes .61-.63),
# COLONNADE_KEEP=1 keeps the temp directory.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
TEST=index_test
FIRST=61
# A replica that misses writes stays stale until read repair (the test reads through it).
extra_yaml() { echo "hinted_handoff_enabled: false"; }
# shellcheck source=py_cluster_lib.sh
. "$HERE/py_cluster_lib.sh"

cluster_start
/usr/bin/python3 "$HERE/py/index_test.py" "$HOSTS" "$ROOT" && RC=0
exit $RC
