#!/usr/bin/env bash
# Real drivers connected to ONE node of a 3-node cluster
# discover all three (system.peers from gossip).  Starts 3 full nodes on
# $COLONNADE_TEST_NET.51-53 (default 127.0.0), waits until `colonnade status`
# shows 3 UN, then asks Debian's python3-cassandra and npm's cassandra-driver
# (tests/cluster/node, installed at test time like node_driver_test.sh does).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=script_lib.sh
. "$HERE/script_lib.sh"
: "${COLONNADE_BIN:?COLONNADE_BIN must name the colonnade binary}"
NET=${COLONNADE_TEST_NET:-127.0.0}
ROOT=$(mktemp -d /tmp/colonnade-discovery.XXXXXX)
PIDS=()

cleanup() {
	local rc=$?
	stop_pids 5 "${PIDS[@]}"
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

# Every node's view and every CQL port: the driver then connects to each node and sends DDL
# through it, which waits for the schema agreement of the peers that node counts up.
up=0
cql=0
for _ in $(seq 1 300); do
	up=3
	cql=0
	for k in 1 2 3; do
		n=$("$COLONNADE_BIN" status -h "$NET.5$k" 2>/dev/null | grep -c '^UN ' || true)
		[ "$n" -lt "$up" ] && up=$n
		(exec 3<>"/dev/tcp/$NET.5$k/9042") 2>/dev/null && cql=$((cql + 1))
	done
	[ "$up" -eq 3 ] && [ "$cql" -eq 3 ] && break
	sleep 0.1
done
[ "$up" -eq 3 ] && [ "$cql" -eq 3 ] || { echo "FAIL: a node sees only $up of 3 nodes UN; $cql CQL ports open"; exit 1; }
echo "ok: 3 nodes UN in every node's view, CQL open on each"

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
print("ok: python3-cassandra discovers 3 hosts from one contact point")
# One presented Cassandra version on every host (docs/CQL.md): the driver picks its schema
# parser per host from it (4.0: SchemaParserV4, which also reads system_virtual_schema), and a
# peer presenting anything below 3.0 would get the pre-3.0 parser, which never sees our tables.
versions = sorted((h.address, str(h.release_version)) for h in hosts)
assert all(v.startswith("4.0.") for _, v in versions), versions
print("ok: every host presents release_version 4.0", versions)
vks = cluster.metadata.keyspaces.get("system_virtual_schema")
assert vks is not None and vks.virtual, "system_virtual_schema missing or not virtual"
assert sorted(vks.tables) == ["columns", "keyspaces", "tables"], sorted(vks.tables)
print("ok: the driver's 4.0 metadata path reads system_virtual_schema", sorted(vks.tables))
assert cluster.control_connection._uses_peers_v2, "the driver fell back from system.peers_v2"
rs = session.execute("SELECT peer, peer_port, native_address, native_port FROM system.peers_v2")
coord = str(rs.response_future.coordinator_host).split(":")[0]
got = sorted((str(r.native_address), r.native_port, r.peer_port) for r in rs)
assert got == sorted((h, 9042, 7000) for h in addrs if h != coord), (coord, got)
print("ok: the driver reads system.peers_v2 (native_address, native_port)")
session.execute("CREATE KEYSPACE disc WITH replication = "
                "{'class': 'SimpleStrategy', 'replication_factor': 3}")
# 20 tables, each created through a different coordinator in turn: each must reach schema
# agreement and appear in the driver's metadata.
from cassandra.policies import WhiteListRoundRobinPolicy
from cassandra.cluster import ExecutionProfile, EXEC_PROFILE_DEFAULT
sessions = []
for h in sorted(hosts, key=lambda h: h.address):
    prof = ExecutionProfile(load_balancing_policy=WhiteListRoundRobinPolicy([h.address]))
    c = Cluster([h.address], port=9042, connect_timeout=10,
                execution_profiles={EXEC_PROFILE_DEFAULT: prof})
    sessions.append((c, c.connect()))
for i in range(20):
    c, s = sessions[i % len(sessions)]
    rs = s.execute("CREATE TABLE disc.t%d (k int PRIMARY KEY, v text)" % i)
    assert rs.response_future.is_schema_agreed, "CREATE TABLE disc.t%d: schema not agreed" % i
    assert "t%d" % i in c.metadata.keyspaces["disc"].tables, \
        "disc.t%d missing from the driver's metadata" % i
print("ok: 20 CREATE TABLEs through 3 coordinators, each agreed and in the driver's metadata")
# Table options kept in the schema travel with it: set through one node, read on another
rs = sessions[0][1].execute("ALTER TABLE disc.t0 WITH compaction = {'class': "
                            "'SizeTieredCompactionStrategy'} AND bloom_filter_fp_chance = 0.1")
assert rs.response_future.is_schema_agreed, "ALTER TABLE disc.t0: schema not agreed"
assert any("not acted on" in w for w in (rs.response_future.warnings or [])), \
    rs.response_future.warnings
row = sessions[2][1].execute("SELECT compaction, bloom_filter_fp_chance FROM system_schema.tables "
                             "WHERE keyspace_name = 'disc' AND table_name = 't0'").one()
assert row.compaction == {"class": "org.apache.cassandra.db.compaction.SizeTieredCompactionStrategy"}, row
assert row.bloom_filter_fp_chance == 0.1, row
desc = sessions[1][1].execute("DESCRIBE TABLE disc.t0").one().create_statement
assert "AND bloom_filter_fp_chance = 0.1\n" in desc, desc
print("ok: table options set through one node are kept and shown on the others (with a warning)")
for c, _ in sessions:
    c.shutdown()
cluster.shutdown()
EOF

if command -v node >/dev/null && command -v npm >/dev/null; then
	node_driver_ready
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
