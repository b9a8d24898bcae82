#!/usr/bin/env bash
# Acceptance with a real driver: Debian's python3-cassandra (/usr/bin/python3),
# unmodified, against a node this script starts (tests/cluster/py/driver_test.py),
# then the raw-socket protocol checks (garbage, oversized, truncated frames,
# version negotiation, pipelining, events: tests/cluster/py/protocol_test.py).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=cql_node_lib.sh
. "$HERE/cql_node_lib.sh"
/usr/bin/python3 -c 'import cassandra' || { echo "python3-cassandra is not installed (deploy/install-deps.sh)"; exit 1; }
cql_node_start 31
/usr/bin/python3 "$HERE/py/driver_test.py"
/usr/bin/python3 "$HERE/py/protocol_test.py"
