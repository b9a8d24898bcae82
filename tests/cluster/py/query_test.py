"""Queries through Debian's python3-cassandra driver on a 3-node cluster.

Run by tests/cluster/query_test.sh:  query_test.py HOST1,HOST2,HOST3

ALLOW FILTERING, aggregates, GROUP BY, PER PARTITION LIMIT, multi-column
relations and functions, checked against a model of the data kept here: every
page at most the fetch size and the pages together exactly the expected rows
(none twice), paging states resumed on another coordinator, rows deleted
(row, range and partition tombstones) or expired (TTL) never returned, and
Cassandra's messages for misuse.  Prints one line per check; exits 1 on any
failure.
"""
import math
import sys
import time
from datetime import datetime, timezone
from functools import partial

from cassandra import ConsistencyLevel
from cassandra.cluster import Cluster
from cassandra.concurrent import execute_concurrent_with_args
from cassandra.query import SimpleStatement

import clusterlib
from clusterlib import FAILED, check

HOSTS = sys.argv[1].split(",")
KS = "query_test"

cluster = Cluster(HOSTS, port=9042, protocol_version=4, connect_timeout=20)
session = cluster.connect()
expect_error = partial(clusterlib.expect_error, session)
session.default_timeout = 60
session.execute("DROP KEYSPACE IF EXISTS %s" % KS)
session.execute("CREATE KEYSPACE %s WITH replication = "
                "{'class': 'SimpleStrategy', 'replication_factor': 2}" % KS)
session.set_keyspace(KS)
session.execute("CREATE TABLE t (k int, c int, v int, s int STATIC, tags set<int>, "
                "PRIMARY KEY (k, c))")
session.execute("CREATE TABLE t2 (k int, a int, b int, v int, PRIMARY KEY (k, a, b)) "
                "WITH CLUSTERING ORDER BY (a ASC, b DESC)")
session.execute("CREATE TABLE ev (k int, t timeuuid, n int, PRIMARY KEY (k, t))")
live_hosts = [h for h in cluster.metadata.all_hosts() if h.is_up]
check("the driver sees 3 hosts up", len(live_hosts) == 3, str(live_hosts))

# ---- data, and the model of what must come back -------------------------------------------
NK, NC = 60, 40
model = {}  # (k, c) -> (v, tags)
statics = {}
ins = session.prepare("INSERT INTO t (k, c, v, tags) VALUES (?, ?, ?, ?)")
ins.consistency_level = ConsistencyLevel.ALL
args = []
for k in range(NK):
    for c in range(NC):
        v = (k * NC + c) % 13
        tags = {c % 5, c % 7}
        args.append((k, c, v, tags))
        model[(k, c)] = (v, tags)
execute_concurrent_with_args(session, ins, args, concurrency=32, raise_on_first_error=True)
st_ins = session.prepare("UPDATE t SET s = ? WHERE k = ? AND c = 0")
st_ins.consistency_level = ConsistencyLevel.ALL
execute_concurrent_with_args(session, st_ins, [(k % 4, k) for k in range(NK)], concurrency=32)
for k in range(NK):
    statics[k] = k % 4


def all_cl(q, params=None):
    st = SimpleStatement(q, consistency_level=ConsistencyLevel.ALL)
    return session.execute(st, params)


# row tombstones on matching rows, a range tombstone, a partition deletion
for k in range(0, NK, 5):
    c = next(c for c in range(NC) if model[(k, c)][0] == 3)
    all_cl("DELETE FROM t WHERE k = %s AND c = %s", (k, c))
    del model[(k, c)]
all_cl("DELETE FROM t WHERE k = 58 AND c >= 10 AND c < 20")
for c in range(10, 20):
    model.pop((58, c), None)
all_cl("DELETE FROM t WHERE k = 59")
for c in range(NC):
    model.pop((59, c), None)
statics.pop(59)
# matching rows that expire before the queries run
for k in range(10):
    all_cl("INSERT INTO t (k, c, v) VALUES (%s, %s, 3) USING TTL 2", (k, 100 + k))
b_ins = session.prepare("INSERT INTO t2 (k, a, b, v) VALUES (?, ?, ?, ?)")
b_ins.consistency_level = ConsistencyLevel.ALL
execute_concurrent_with_args(session, b_ins, [(k, a, b, k * 100 + a * 10 + b)
                                              for k in range(3) for a in range(10)
                                              for b in range(10)], concurrency=32)
ev_ins = session.prepare("INSERT INTO ev (k, t, n) VALUES (1, now(), ?)")
ev_ins.consistency_level = ConsistencyLevel.ALL
t_before = datetime.now(timezone.utc)
time.sleep(0.01)
for n in range(5):
    session.execute(ev_ins, (n,))
time.sleep(3)  # the TTL rows are gone now


def pages(query, fetch, cl=ConsistencyLevel.QUORUM, params=None, hop=False):
    """Every page of query as a list of row lists; with hop, each page after the
    first is asked of another coordinator with the previous page's paging state."""
    st = SimpleStatement(query, fetch_size=fetch, consistency_level=cl)
    out = []
    ps = None
    i = 0
    while True:
        host = live_hosts[i % len(live_hosts)] if hop else None
        rs = session.execute(st, params, paging_state=ps, host=host)
        out.append(list(rs.current_rows))
        ps = rs.paging_state
        i += 1
        if not ps or i > 100000:
            return out


def check_pages(name, got_pages, want, fetch, key=lambda r: tuple(r)):
    rows = [key(r) for p in got_pages for r in p]
    sizes = [len(p) for p in got_pages]
    ok = all(s <= fetch for s in sizes)
    check(name + ": every page at most %d rows" % fetch, ok, str(sizes[:20]))
    check(name + ": no row twice", len(rows) == len(set(rows)), "%d rows" % len(rows))
    check(name + ": exactly the expected rows (%d)" % len(want), set(rows) == set(want),
          "missing %s, extra %s" % (sorted(set(want) - set(rows))[:5],
                                    sorted(set(rows) - set(want))[:5]))
    n_pages = max(1, math.ceil(len(want) / fetch))
    check(name + ": %d pages" % n_pages, len(got_pages) == n_pages, str(sizes[:20]))


# ---- ALLOW FILTERING -----------------------------------------------------------------------
want_v3 = [(k, c) for (k, c), (v, _) in model.items() if v == 3]
for cl in (ConsistencyLevel.ONE, ConsistencyLevel.QUORUM):
    for fetch in (1, 7, 100, 5000):
        check_pages("v = 3 at %s, fetch %d" % (ConsistencyLevel.value_to_name[cl], fetch),
                    pages("SELECT k, c FROM t WHERE v = 3 ALLOW FILTERING", fetch, cl),
                    want_v3, fetch)
check_pages("v = 3, each page from another coordinator",
            pages("SELECT k, c FROM t WHERE v = 3 ALLOW FILTERING", 9, hop=True), want_v3, 9)
want_rare = [(k, c) for (k, c), (v, _) in model.items() if v == 3 and c == 7]
check_pages("rare match (v = 3 AND c = 7), most rows filtered out",
            pages("SELECT k, c FROM t WHERE v = 3 AND c = 7 ALLOW FILTERING", 2, hop=True),
            want_rare, 2)
want_static = [(k, c) for (k, c) in model if statics.get(k) == 2]
check_pages("static column s = 2",
            pages("SELECT k, c FROM t WHERE s = 2 ALLOW FILTERING", 250), want_static, 250)
want_tags = [(k, c) for (k, c), (_, tags) in model.items() if 4 in tags]
check_pages("tags CONTAINS 4",
            pages("SELECT k, c FROM t WHERE tags CONTAINS 4 ALLOW FILTERING", 300),
            want_tags, 300)
want_pk = [(k, c) for (k, c) in model if k > 50]
check_pages("partition key slice k > 50",
            pages("SELECT k, c FROM t WHERE k > 50 ALLOW FILTERING", 64), want_pk, 64)
want_c5 = [(k, c) for (k, c) in model if c == 5]
check_pages("clustering column without the partition key (c = 5)",
            pages("SELECT k, c FROM t WHERE c = 5 ALLOW FILTERING", 8), want_c5, 8)
want_in = [(7, c) for c in range(NC) if (7, c) in model and model[(7, c)][0] in (1, 2)]
check_pages("one partition, v IN (1, 2)",
            pages("SELECT k, c FROM t WHERE k = 7 AND v IN (1, 2) ALLOW FILTERING", 2),
            want_in, 2)
expect_error("no ALLOW FILTERING: Cassandra's message",
             "SELECT * FROM t WHERE v = 3",
             "Cannot execute this query as it might involve data filtering and thus may have "
             "unpredictable performance. If you want to execute this query despite the "
             "performance unpredictability, use ALLOW FILTERING")
expect_error("!= is refused", "SELECT * FROM t WHERE v != 3 ALLOW FILTERING",
             'Unsupported "!=" relation: v != 3')
expect_error("CONTAINS on a non-collection", "SELECT * FROM t WHERE v CONTAINS 3 ALLOW FILTERING",
             "Cannot use CONTAINS on non-collection column v")

# ---- aggregates ------------------------------------------------------------------------------
vals = [v for (v, _) in model.values()]
rs = session.execute(SimpleStatement("SELECT count(*), sum(v), min(v), max(v), avg(v) FROM t",
                                     fetch_size=100))
row = rs.one()
check("aggregates over the whole table (%d rows, fetch 100)" % len(vals),
      tuple(row) == (len(vals), sum(vals), min(vals), max(vals), sum(vals) // len(vals)),
      str(row))
check("aggregate result names as Cassandra 4",
      list(rs.column_names) == ["count", "system.sum(v)", "system.min(v)", "system.max(v)",
                                "system.avg(v)"], str(rs.column_names))
warn = rs.response_future.warnings or []
check("warning: aggregation without partition key",
      any("Aggregation query used without partition key" in w for w in warn), str(warn))
v7 = [model[(7, c)][0] for c in range(NC) if (7, c) in model]
row = session.execute("SELECT count(*), sum(v), avg(v) FROM t WHERE k = 7").one()
check("aggregates over one partition", tuple(row) == (len(v7), sum(v7), sum(v7) // len(v7)),
      str(row))
row = session.execute("SELECT count(*) FROM t WHERE v = 3 ALLOW FILTERING").one()
check("count(*) with a filter", row[0] == len(want_v3), str(row))
groups = {}
for (k, c), (v, _) in model.items():
    n, s = groups.get(k, (0, 0))
    groups[k] = (n + 1, s + v)
want_groups = [(k, n, s) for k, (n, s) in groups.items()]
check_pages("GROUP BY k, pages of groups",
            pages("SELECT k, count(*), sum(v) FROM t GROUP BY k", 7, hop=True), want_groups, 7)
check_pages("GROUP BY k, c",
            pages("SELECT k, c, count(*) FROM t GROUP BY k, c", 500),
            [(k, c, 1) for (k, c) in model], 500)
want_g3 = [(k, n) for k, (n, _) in groups.items() if k < 20]
check_pages("GROUP BY k with a filter and a token range",
            pages("SELECT k, count(*) FROM t WHERE k < 20 GROUP BY k ALLOW FILTERING", 4),
            want_g3, 4)
expect_error("GROUP BY a regular column", "SELECT v FROM t GROUP BY v",
             "Group by is currently only supported on the columns of the PRIMARY KEY, got v")

# ---- PER PARTITION LIMIT ---------------------------------------------------------------------
by_k = {}
for (k, c) in sorted(model):
    by_k.setdefault(k, []).append(c)
want_ppl = [(k, c) for k, cs in by_k.items() for c in cs[:3]]
check_pages("PER PARTITION LIMIT 3, pages of 5 (limits across page boundaries)",
            pages("SELECT k, c FROM t PER PARTITION LIMIT 3", 5, hop=True), want_ppl, 5)
want_ppl_in = [(k, c) for k in (3, 4, 5) for c in by_k[k][:2]]
check_pages("PER PARTITION LIMIT 2 with IN, pages of 3",
            pages("SELECT k, c FROM t WHERE k IN (3, 4, 5) PER PARTITION LIMIT 2", 3),
            want_ppl_in, 3)
row = session.execute("SELECT count(*) FROM t PER PARTITION LIMIT 1").one()
check("count(*) PER PARTITION LIMIT 1 counts partitions", row[0] == len(by_k), str(row))

# ---- multi-column relations ------------------------------------------------------------------
order = [(a, b) for a in range(10) for b in range(9, -1, -1)]  # a ASC, b DESC
want_slice = [(a, b) for (a, b) in order if (3, 4) < (a, b) <= (7, 2)]
got = pages("SELECT a, b FROM t2 WHERE k = 1 AND (a, b) > (3, 4) AND (a, b) <= (7, 2)", 7)
check_pages("(a, b) slice on a mixed-order clustering", got, want_slice, 7)
flat = [tuple(r) for p in got for r in p]
check("(a, b) slice in clustering order", flat == want_slice, str(flat[:12]))
prep = session.prepare("SELECT a, b FROM t2 WHERE k = ? AND (a, b) >= (?, ?)")
flat = [tuple(r) for r in session.execute(prep, (2, 8, 5))]
check("(a, b) >= (?, ?) bound element by element",
      flat == [(a, b) for (a, b) in order if (a, b) >= (8, 5)], str(flat[:12]))
flat = [tuple(r) for r in session.execute(
    "SELECT a, b FROM t2 WHERE k = 0 AND (a, b) IN ((5, 1), (2, 2), (5, 9), (2, 2))")]
check("(a, b) IN tuples: clustering order, each once", flat == [(2, 2), (5, 9), (5, 1)],
      str(flat))
expect_error("multi-column on a partition key column",
             "SELECT * FROM t2 WHERE k = 0 AND (k, a) = (0, 1)",
             "Multi-column relations can only be applied to clustering columns but was "
             "applied to: k")

# ---- functions -------------------------------------------------------------------------------
rs = session.execute("SELECT n, dateOf(t), blobAsInt(intAsBlob(n)) AS again FROM ev WHERE k = 1")
rows = list(rs)
check("functions in SELECT, alias as the column name",
      list(rs.column_names) == ["n", "system.dateof(t)", "again"] and
      sorted(r.again for r in rows) == list(range(5)), str(rs.column_names))
check("dateOf(now()) is when the rows were written",
      all(abs((r[1].replace(tzinfo=timezone.utc) - t_before).total_seconds()) < 60
          for r in rows), str([r[1] for r in rows]))
prep = session.prepare("SELECT count(*) FROM ev WHERE k = 1 AND t > minTimeuuid(?)")
row = session.execute(prep, (t_before,)).one()
check("minTimeuuid(?) in WHERE, marker typed timestamp", row[0] == 5, str(row))
row = session.execute(prep, (datetime.now(timezone.utc).replace(year=2100),)).one()
check("minTimeuuid(?) in the future matches nothing", row[0] == 0, str(row))
check("bind marker named arg0(system.mintimeuuid)",
      prep.column_metadata[0].name == "arg0(system.mintimeuuid)",
      str(prep.column_metadata[0].name))
expect_error("unknown function", "SELECT nosuch(n) FROM ev", "Unknown function 'nosuch'")

cluster.shutdown()
print("%d failed" % len(FAILED))
sys.exit(1 if FAILED else 0)
