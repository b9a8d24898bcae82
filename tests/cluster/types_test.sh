#!/usr/bin/env bash
# Lists (prepend, set/delete by index, remove by value, concurrent with reads),
# static-only rows, tuple, duration and user-defined types through Debian's
# python3-cassandra driver against a real 3-node cluster (tests/cluster/py/types_test.py):
# values round trip, the driver's schema metadata, Cassandra's error messages.
#
# Env: COLONNADE_BIN (required), COLONNADE_TEST_NET (default 127.0.0: nodes .61-.63),
# COLONNADE_KEEP=1 keeps the temp directory.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
TEST=types_test
FIRST=61
# shellcheck source=py_cluster_lib.sh
. "$HERE/py_cluster_lib.sh"

cluster_start
/usr/bin/python3 "$HERE/py/types_test.py" "$HOSTS" && RC=0
exit $RC
