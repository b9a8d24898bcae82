"""Acceptance: Debian's python3-cassandra driver, unmodified, against one node.

Run by tests/cluster/py_driver_test.sh with CQL_HOST set to the node's address.
Each check prints one line; any failure raises (non-zero exit).
"""
import os

from cassandra import ConsistencyLevel, InvalidRequest, Unavailable
from cassandra.cluster import Cluster
from cassandra.protocol import SyntaxException
from cassandra.policies import FallthroughRetryPolicy
from cassandra.query import BatchStatement, BatchType, SimpleStatement

from clusterlib import check_or_exit as check, passed

HOST = os.environ.get("CQL_HOST", "127.0.0.1")


cluster = Cluster([HOST], port=9042, connect_timeout=10)
session = cluster.connect()
check(cluster.protocol_version == 4, "negotiated protocol v4 (got %s)" % cluster.protocol_version)
check(cluster.metadata.cluster_name is not None, "cluster_name from system.local")
local = session.execute("SELECT * FROM system.local WHERE key='local'").one()
check(local.release_version.startswith("4.0."), "release_version %s" % local.release_version)
check(local.schema_version is not None, "schema_version is a uuid")
check(len(local.tokens) > 0, "tokens listed")

session.execute("DROP KEYSPACE IF EXISTS drv")
session.execute("DROP KEYSPACE IF EXISTS rf3")
r = session.execute(
    "CREATE KEYSPACE drv WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}")
check("drv" in cluster.metadata.keyspaces, "keyspace in driver metadata after CREATE")
session.execute("CREATE TABLE drv.events (k int, c int, v text, PRIMARY KEY (k, c))")
tm = cluster.metadata.keyspaces["drv"].tables["events"]
check([c.name for c in tm.partition_key] == ["k"], "partition key in metadata")
check([c.name for c in tm.clustering_key] == ["c"], "clustering column in metadata (flags compound)")
check("local" in cluster.metadata.keyspaces["system"].tables, "system tables in metadata")

session.set_keyspace("drv")
session.execute("INSERT INTO events (k, c, v) VALUES (1, 1, 'literal')")
session.execute("INSERT INTO events (k, c, v) VALUES (%s, %s, %s)", (1, 2, "inlined"))
ins = session.prepare("INSERT INTO events (k, c, v) VALUES (?, ?, ?)")
check(ins.routing_key_indexes == [0], "pk_indexes of prepared INSERT = [0]")
session.execute(ins, (1, 3, "prepared"))
sel = session.prepare("SELECT c, v FROM events WHERE k = ? AND c = ?")
row = session.execute(sel, (1, 3)).one()
check(row is not None and row.v == "prepared", "prepared SELECT by key")

for cl in (ConsistencyLevel.ONE, ConsistencyLevel.QUORUM, ConsistencyLevel.LOCAL_ONE,
           ConsistencyLevel.ALL):
    st = SimpleStatement("SELECT c, v FROM events WHERE k = 1", consistency_level=cl)
    rows = list(session.execute(st))
    check([(x.c, x.v) for x in rows] == [(1, "literal"), (2, "inlined"), (3, "prepared")],
          "read back at %s" % ConsistencyLevel.value_to_name[cl])

batch = BatchStatement(batch_type=BatchType.LOGGED)
batch.add(ins, (2, 1, "b1"))
batch.add(ins, (2, 2, "b2"))
batch.add(SimpleStatement("INSERT INTO events (k, c, v) VALUES (3, 1, 'b3')"))
batch.add(SimpleStatement("DELETE FROM events WHERE k = 1 AND c = 1"))
session.execute(batch)
rows = list(session.execute("SELECT k, c, v FROM events WHERE k IN (1, 2, 3)"))
check(sorted((x.k, x.c, x.v) for x in rows) ==
      [(1, 2, "inlined"), (1, 3, "prepared"), (2, 1, "b1"), (2, 2, "b2"), (3, 1, "b3")],
      "BATCH applied (inserts and a delete)")

# 1000 rows in one partition, and 1000 partitions, paged by 100.
session.execute("CREATE TABLE pages (k int, c int, v text, PRIMARY KEY (k, c))")
ins2 = session.prepare("INSERT INTO pages (k, c, v) VALUES (?, ?, ?)")
futures = [session.execute_async(ins2, (0, i, "v%d" % i)) for i in range(1000)]
futures += [session.execute_async(ins2, (i + 1, 0, "p%d" % i)) for i in range(1000)]
for f in futures:
    f.result()


def pages_of(query):
    st = SimpleStatement(query, fetch_size=100)
    rs = session.execute(st)
    pages, seen = 1, list(rs.current_rows)
    while rs.has_more_pages:
        rs.fetch_next_page()
        pages += 1
        seen.extend(rs.current_rows)
    return pages, seen


pages, rows = pages_of("SELECT c FROM pages WHERE k = 0")
check(pages >= 10 and [r.c for r in rows] == list(range(1000)),
      "1000 rows of one partition in %d pages of <= 100, in order" % pages)
pages, rows = pages_of("SELECT k, c FROM pages")
keys = [(r.k, r.c) for r in rows]
check(pages >= 10 and len(keys) == 2000 and len(set(keys)) == 2000,
      "full-table scan: 2000 distinct rows in %d pages" % pages)
pages, rows = pages_of("SELECT c FROM pages WHERE k = 0 ORDER BY c DESC LIMIT 250")
check([r.c for r in rows] == list(range(999, 749, -1)) and pages >= 3,
      "LIMIT 250 in reverse order across %d pages" % pages)
pages, rows = pages_of("SELECT k, c FROM pages WHERE k IN (3, 0, 1, 2)")
keys = [(r.k, r.c) for r in rows]
check(pages >= 10 and len(keys) == 1003 and len(set(keys)) == 1003,
      "IN over 4 partitions: 1003 distinct rows in %d pages" % pages)
rows = list(session.execute("SELECT c FROM pages WHERE k = 0 AND c IN (500, 3, 999, 3)"))
check([r.c for r in rows] == [3, 500, 999], "clustering IN in clustering order, deduplicated")
cnt = session.execute("SELECT count(*) FROM pages").one()[0]
check(cnt == 2000, "COUNT(*) over the table = %d" % cnt)

try:
    session.execute("SELEKT * FROM events")
    check(False, "syntax error raised")
except SyntaxException as e:
    check(e.code == 0x2000 and "code=2000" in str(e), "syntax error -> code 0x2000: %s" % e)
try:
    session.execute("SELECT nope FROM events")
    check(False, "invalid query raised")
except InvalidRequest as e:
    check("code=2200" in str(e) and "Undefined column name nope" in str(e),
          "invalid query -> code 0x2200: %s" % e)
try:
    session.execute("SELECT * FROM nokeyspace.t")
    check(False, "unknown keyspace raised")
except InvalidRequest as e:
    check("Keyspace 'nokeyspace' does not exist" in str(e), "unknown keyspace: %s" % e)

session.execute(
    "CREATE KEYSPACE rf3 WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 3}")
session.execute("CREATE TABLE rf3.t (k int PRIMARY KEY, v int)")
session.execute(SimpleStatement("INSERT INTO rf3.t (k, v) VALUES (1, 1)",
                                consistency_level=ConsistencyLevel.ONE))
try:
    session.execute(SimpleStatement("INSERT INTO rf3.t (k, v) VALUES (1, 2)",
                                    consistency_level=ConsistencyLevel.QUORUM,
                                    retry_policy=FallthroughRetryPolicy()))
    check(False, "QUORUM with RF=3 on one node raised Unavailable")
except Unavailable as e:
    check(e.required_replicas == 2 and e.alive_replicas == 1,
          "Unavailable(required=2, alive=1): %s" % e)

ts_row = session.execute("SELECT writetime(v), ttl(v) FROM events WHERE k = 2 AND c = 1").one()
check(ts_row[0] > 1600000000000000 and ts_row[1] is None, "WRITETIME is the client timestamp (µs)")
session.execute("INSERT INTO events (k, c, v) VALUES (9, 9, 'x') USING TTL 1000")
ttl = session.execute("SELECT ttl(v) FROM events WHERE k = 9 AND c = 9").one()[0]
check(900 < ttl <= 1000, "TTL readable (%s)" % ttl)

# ORDER BY with IN on the partition key: sorted when not paged, Cassandra's refusal when paged
session.execute("CREATE TABLE ordin (p int, c int, PRIMARY KEY (p, c))")
for p_, c_ in [(1, 1), (1, 4), (2, 2), (2, 5), (3, 3)]:
    session.execute("INSERT INTO ordin (p, c) VALUES (%s, %s)", (p_, c_))
rows = session.execute(SimpleStatement(
    "SELECT p, c FROM ordin WHERE p IN (3, 2, 1) ORDER BY c DESC", fetch_size=None))
check([(r.p, r.c) for r in rows] == [(2, 5), (1, 4), (3, 3), (2, 2), (1, 1)],
      "ORDER BY over IN partitions, unpaged: sorted")
rows = session.execute("SELECT c FROM ordin WHERE p IN (1, 2) ORDER BY c LIMIT 3")
check([r.c for r in rows] == [1, 2, 4], "ORDER BY over IN with LIMIT <= page size: sorted, then cut")
try:
    session.execute("SELECT c FROM ordin WHERE p IN (1, 2) ORDER BY c")
    check(False, "ORDER BY over IN refused when paged")
except InvalidRequest as e:
    check("Cannot page queries with both ORDER BY and a IN restriction on the partition key; "
          "you must either remove the ORDER BY or the IN and sort client-side, or disable "
          "paging for this query" in str(e), "ORDER BY over IN, paged: Cassandra's message (%s)" % e)

cluster.shutdown()
print("%d passed, 0 failed" % passed())
