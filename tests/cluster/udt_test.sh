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
TEST=udt_test
FIRST=81
# shellcheck source=py_cluster_lib.sh
. "$HERE/py_cluster_lib.sh"

cluster_start
/usr/bin/python3 "$HERE/py/udt_test.py" "$HOSTS" "$ROOT" && RC=0
exit $RC
