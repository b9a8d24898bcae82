"""Replica sets as Debian's python3-cassandra driver computes them (token-aware).

Run by tests/cluster/test_getendpoints.c:
  replicas.py HOST N
prints, for N keys of each of two tables, one line
  <keyspace> <key text> <driver token> <replica addresses, sorted, comma separated>
keys: ge_simple.t (k text) 'key<i>'; ge_nts.t ((a int, b text)) '<i>:p<i>'.
It also checks that TokenAwarePolicy's query plan for each key starts with one
of the key's replicas (what "token-aware routing" means for the driver) and
exits non-zero if not.
"""
import struct
import sys

from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile
from cassandra.policies import DCAwareRoundRobinPolicy, TokenAwarePolicy
from cassandra.query import SimpleStatement

host, n = sys.argv[1], int(sys.argv[2])
policy = TokenAwarePolicy(DCAwareRoundRobinPolicy(local_dc="dc1"), shuffle_replicas=False)
cluster = Cluster([host], port=9042, protocol_version=4, connect_timeout=10,
                  execution_profiles={EXEC_PROFILE_DEFAULT: ExecutionProfile(
                      load_balancing_policy=policy)})
session = cluster.connect()
md = cluster.metadata
for ks in ("ge_simple", "ge_nts"):
    if ks not in md.keyspaces:
        print("FAIL: keyspace %s not in the driver's metadata" % ks)
        sys.exit(1)
if len(md.all_hosts()) < 3:
    print("FAIL: the driver sees %d hosts" % len(md.all_hosts()))
    sys.exit(1)


def composite(parts):
    return b"".join(struct.pack(">H", len(p)) + p + b"\x00" for p in parts)


bad = 0
for i in range(n):
    for ks, text, rk in (("ge_simple", "key%d" % i, ("key%d" % i).encode()),
                         ("ge_nts", "%d:p%d" % (i, i),
                          composite([struct.pack(">i", i), ("p%d" % i).encode()]))):
        reps = md.get_replicas(ks, rk)
        tok = md.token_map.token_class.from_key(rk).value
        addrs = sorted(h.address for h in reps)
        print(ks, text, tok, ",".join(addrs))
        stmt = SimpleStatement("SELECT * FROM t", keyspace=ks, routing_key=rk)
        plan = list(policy.make_query_plan(ks, stmt))
        if not plan or plan[0].address not in addrs:
            bad += 1
            print("FAIL: %s %s: query plan starts at %s, not a replica %s"
                  % (ks, text, plan[0].address if plan else None, addrs))
cluster.shutdown()
sys.exit(1 if bad else 0)
