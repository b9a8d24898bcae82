#!/usr/bin/env bash
# Real drivers connected to ONE node of a 3-node cluster
# discover all three (system.peers from gossip).  Starts 3 full nodes on
# $COLONNADE_TEST_NET.51-53 (default 127.0.0), waits until `colonnade status`
# shows 3 UN, then asks Debian's python3-cassandra and npm's cassandra-driver
# (tests/cluster/node, installed at test time like node_driver_test.sh does).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
: "${COLONNADE_BIN:?COLONNADE_BIN must name the colonnade binary}"
NET=${COLONNADE_TEST_NET:-127.0.0}
ROOT=$(mktemp -d /tmp/colonnade-discovery.XXXXXX)
PIDS=()

cleanup() {
	local rc=$?
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do
		for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null || true
	done
	if [ "$rc" -ne 0 ]; then
		for k in 1 2 3; do
			echo "---- node $k log (last 30 lines)"
			tail -30 "$ROOT/n$k/node.log" 2>/dev/null || true
		done
		echo "kept $ROOT"
	else
		rm -rf "$ROOT"
	fi
	exit "$rc"
}
trap cleanup EXIT

for k in 1 2 3; do
	addr="$NET.5$k"
	mkdir -p "$ROOT/n$k"
	(cd "$ROOT/n$k" && exec "$COLONNADE_BIN" server --cluster_name=discovery \
		--listen_address="$addr" --seeds="$NET.51" --gossip_interval=100ms \
		--data_file_directories="$ROOT/n$k/data" --dc=dc1 --rack="r$k" \
		</dev/null >"$ROOT/n$k/node.log" 2>&1) &
	PIDS+=($!)
done

up=0
for _ in $(seq 1 300); do
	up=$("$COLONNADE_BIN" status -h "$NET.51" 2>/dev/null | grep -c '^UN ' || true)
	[ "$up" -eq 3 ] && break
	sleep 0.1
done
[ "$up" -eq 3 ] || { echo "FAIL: only $up of 3 nodes UN"; exit 1; }
echo "ok: 3 nodes UN"

/usr/bin/python3 - "$NET.51" <<'EOF'
import sys, time
from cassandra.cluster import Cluster
host = sys.argv[1]
cluster = Cluster([host], port=9042, connect_timeout=10)
session = cluster.connect()
hosts = cluster.metadata.all_hosts()
addrs = sorted(h.address for h in hosts)
print("python driver sees", addrs)
assert len(hosts) == 3, "python driver: expected 3 hosts, got %s" % addrs
racks = sorted(h.rack for h in hosts)
assert racks == ["r1", "r2", "r3"], racks
assert all(h.datacenter == "dc1" for h in hosts)
assert all(h.is_up is not False for h in hosts), [(h.address, h.is_up) for h in hosts]
cluster.shutdown()
print("ok: python3-cassandra discovers 3 hosts from one contact point")
EOF

if command -v node >/dev/null && command -v npm >/dev/null; then
	if [ ! -d "$HERE/node/node_modules/cassandra-driver" ]; then
		(cd "$HERE/node" && npm ci --no-audit --no-fund --loglevel=error)
	fi
	NODE_PATH="$HERE/node/node_modules" CQL_HOST="$NET.51" node - <<'EOF'
'use strict';
const cassandra = require('cassandra-driver');
const client = new cassandra.Client({
  contactPoints: [process.env.CQL_HOST],
  localDataCenter: 'dc1',
});
client.connect().then(() => {
  const hosts = client.hosts.values().map((h) => h.address);
  console.log('node driver sees', hosts.sort());
  if (hosts.length !== 3) {
    console.log('FAIL: node driver: expected 3 hosts');
    process.exit(1);
  }
  console.log('ok: cassandra-driver (node) discovers 3 hosts from one contact point');
  return client.shutdown();
}).catch((e) => { console.log('FAIL: ' + e); process.exit(1); });
EOF
else
	echo "FAIL: nodejs/npm missing (deploy/install-deps.sh)"
	exit 1
fi
echo "discovery: all checks passed"
