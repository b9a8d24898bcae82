"""Types and updates through Debian's python3-cassandra driver on a 3-node cluster.

Run by tests/cluster/types_test.sh:  types_test.py HOST1,HOST2,HOST3

Lists: prepend, set and delete by index, remove by value (the coordinator reads
the list first), from every coordinator, prepared and not, also inside BATCHes,
checked against a model; list operations of one writer concurrent with readers at QUORUM, which
must only ever see a list the model had at some point.  Static rows: an INSERT
of the partition key and static columns alone, returned by a SELECT, paged.
Cassandra's messages for misuse.  Prints one line per check; exits 1 on any
failure.
"""
import sys
import threading
import time
from functools import partial

from cassandra import ConsistencyLevel, InvalidRequest
from cassandra.cluster import Cluster
from cassandra.query import BatchStatement, BatchType, SimpleStatement

import clusterlib
from clusterlib import FAILED, check

HOSTS = sys.argv[1].split(",")
KS = "types_test"


cluster = Cluster(HOSTS, port=9042, protocol_version=4, connect_timeout=20)
session = cluster.connect()
expect_error = partial(clusterlib.expect_error, session)
session.default_timeout = 60
session.default_consistency_level = ConsistencyLevel.QUORUM
session.execute("DROP KEYSPACE IF EXISTS %s" % KS)
session.execute("CREATE KEYSPACE %s WITH replication = "
                "{'class': 'SimpleStrategy', 'replication_factor': 3}" % KS)
session.set_keyspace(KS)
live_hosts = [h for h in cluster.metadata.all_hosts() if h.is_up]
check("the driver sees 3 hosts up", len(live_hosts) == 3, live_hosts)


def on_host(host, query, params=None, cl=ConsistencyLevel.QUORUM):
    """Run query with `host` as the coordinator."""
    st = SimpleStatement(query, consistency_level=cl)
    return session.execute(st, params, host=host)


# ---- lists ---------------------------------------------------------------------------------
session.execute("CREATE TABLE l (k int, c int, l list<text>, sl list<int> static, "
                "fl frozen<list<int>>, PRIMARY KEY (k, c))")
hosts = live_hosts
model = []
on_host(hosts[0], "INSERT INTO l (k, c, l) VALUES (1, 1, ['b', 'c'])")
model = ["b", "c"]
ops = [
    ("UPDATE l SET l = ['a'] + l WHERE k = 1 AND c = 1", lambda m: ["a"] + m),
    ("UPDATE l SET l = l + ['d', 'a'] WHERE k = 1 AND c = 1", lambda m: m + ["d", "a"]),
    ("UPDATE l SET l = ['x', 'y'] + l WHERE k = 1 AND c = 1", lambda m: ["x", "y"] + m),
    ("UPDATE l SET l[2] = 'A' WHERE k = 1 AND c = 1", lambda m: m[:2] + ["A"] + m[3:]),
    ("DELETE l[0] FROM l WHERE k = 1 AND c = 1", lambda m: m[1:]),
    ("UPDATE l SET l = l - ['a', 'c'] WHERE k = 1 AND c = 1",
     lambda m: [e for e in m if e not in ("a", "c")]),
]
for i, (q, f) in enumerate(ops):
    on_host(hosts[i % 3], q)
    model = f(model)
    got = [r.l for r in on_host(hosts[(i + 1) % 3], "SELECT l FROM l WHERE k = 1 AND c = 1")]
    check("list op through host %d, read through another: %s" % (i % 3, q.split(" WHERE")[0]),
          got == [model], "%s != %s" % (got, model))

set_idx = session.prepare("UPDATE l SET l[?] = ? WHERE k = ? AND c = ?")
del_idx = session.prepare("DELETE l[?] FROM l WHERE k = ? AND c = ?")
discard = session.prepare("UPDATE l SET l = l - ? WHERE k = ? AND c = ?")
prepend = session.prepare("UPDATE l SET l = ? + l WHERE k = ? AND c = ?")
session.execute(set_idx, (0, "first", 1, 1))
model[0] = "first"
session.execute(prepend, (["p1", "p2"], 1, 1))
model = ["p1", "p2"] + model
session.execute(del_idx, (1, 1, 1))
del model[1]
session.execute(discard, (["first"], 1, 1))
model = [e for e in model if e != "first"]
got = session.execute("SELECT l FROM l WHERE k = 1 AND c = 1").one().l
check("prepared l[?] = ?, ? + l, DELETE l[?], l - ?", got == model, "%s != %s" % (got, model))
try:
    session.execute(set_idx, (len(model) + 2, "x", 1, 1))
    check("prepared index out of bound refused", False, "no error")
except InvalidRequest as e:
    check("prepared index out of bound refused",
          "List index %d out of bound, list has size %d" % (len(model) + 2, len(model)) in str(e),
          str(e))
expect_error("set by index on a null list", "UPDATE l SET l[0] = 'x' WHERE k = 7 AND c = 7",
             "Attempted to set an element on a list which is null")
expect_error("delete by index on a null list", "DELETE l[0] FROM l WHERE k = 7 AND c = 7",
             "Attempted to delete an element from a list which is null")
expect_error("prepend to a frozen list", "UPDATE l SET fl = [1] + fl WHERE k = 1 AND c = 1",
             "Invalid operation (fl = [1] + fl) for frozen list column fl")
expect_error("element of a frozen list", "UPDATE l SET fl[0] = 1 WHERE k = 1 AND c = 1",
             "Invalid operation (fl[0] = 1) for frozen collection column fl")
try:
    session.execute(SimpleStatement("UPDATE l SET l[0] = 'x' WHERE k = 1 AND c = 1",
                                    consistency_level=ConsistencyLevel.ANY))
    check("a read-before-write list op at ANY refused", False, "no error")
except InvalidRequest as e:
    check("a read-before-write list op at ANY refused",
          "Write operation require a read but consistency ANY is not supported on reads"
          in str(e), str(e))

# Inside a BATCH (the protocol's BATCH message, prepared and not): every statement reads the
# lists as they were before the batch; one refused statement refuses the whole batch.
session.execute("INSERT INTO l (k, c, l) VALUES (3, 1, ['a', 'b', 'c', 'd'])")
session.execute("INSERT INTO l (k, c, l) VALUES (3, 2, ['x', 'y'])")
for kind in (BatchType.LOGGED, BatchType.UNLOGGED):
    session.execute("UPDATE l SET l = ['a', 'b', 'c', 'd'] WHERE k = 3 AND c = 1")
    session.execute("UPDATE l SET l = ['x', 'y'] WHERE k = 3 AND c = 2")
    b = BatchStatement(batch_type=kind, consistency_level=ConsistencyLevel.QUORUM)
    b.add(set_idx, (3, "D", 3, 1))
    b.add(del_idx, (0, 3, 1))
    b.add(discard, (["b"], 3, 1))
    b.add("UPDATE l SET l = l + ['e'] WHERE k = 3 AND c = 1")
    b.add(SimpleStatement("DELETE l[1] FROM l WHERE k = %s AND c = %s"), (3, 2))
    b.add(SimpleStatement("UPDATE l SET l[0] = 'X' WHERE k = 3 AND c = 2"))
    session.execute(b)
    got = [tuple(r) for r in session.execute("SELECT c, l FROM l WHERE k = 3")]
    check("a %s BATCH of l[?] = ?, DELETE l[?], l - ?, + [..] reads the lists first" % kind,
          got == [(1, ["c", "D", "e"]), (2, ["X"])], got)
b = BatchStatement(consistency_level=ConsistencyLevel.QUORUM)
b.add(set_idx, (9, "no", 3, 1))
b.add("UPDATE l SET fl = [7] WHERE k = 3 AND c = 1")
try:
    session.execute(b)
    check("a BATCH with an index out of bound is refused whole", False, "no error")
except InvalidRequest as e:
    got = session.execute("SELECT fl FROM l WHERE k = 3 AND c = 1").one().fl
    check("a BATCH with an index out of bound is refused whole",
          "List index 9 out of bound, list has size 3" in str(e) and got is None, (str(e), got))
b = BatchStatement(consistency_level=ConsistencyLevel.ANY)
b.add(del_idx, (0, 3, 1))
try:
    session.execute(b)
    check("a BATCH that reads at ANY is refused", False, "no error")
except InvalidRequest as e:
    check("a BATCH that reads at ANY is refused",
          "Write operation require a read but consistency ANY is not supported on reads"
          in str(e), str(e))

# static list: one per partition
session.execute("UPDATE l SET sl = [1, 2, 3] WHERE k = 2")
session.execute("UPDATE l SET sl[1] = 20 WHERE k = 2")
session.execute("UPDATE l SET sl = sl - [3] WHERE k = 2")
session.execute("UPDATE l SET sl = [0] + sl WHERE k = 2")
got = session.execute("SELECT sl FROM l WHERE k = 2").one().sl
check("static list: l[i] = v, l - [x], [x] + l", got == [0, 1, 20], got)

# One writer runs list operations while readers read at QUORUM through every host.
# Every list a reader sees must be one the model had (reads are linearizable at
# QUORUM/QUORUM with one writer waiting for each write).
session.execute("INSERT INTO l (k, c, l) VALUES (3, 0, ['s0', 's1', 's2'])")
cur = ["s0", "s1", "s2"]
history = {tuple(cur)}
hist_lock = threading.Lock()
stop = threading.Event()
seen_bad = []
reads = [0]
read_errors = []


def reader(i):
    st = SimpleStatement("SELECT l FROM l WHERE k = 3 AND c = 0",
                         consistency_level=ConsistencyLevel.QUORUM)
    while not stop.is_set():
        try:
            row = session.execute(st, host=hosts[i % 3]).one()
        except Exception as e:  # noqa: BLE001 - reported as a failed check
            read_errors.append(repr(e))
            continue
        got = tuple(row.l or ())
        with hist_lock:
            ok = got in history
        if not ok:
            seen_bad.append(got)
        reads[0] += 1


threads = [threading.Thread(target=reader, args=(i,)) for i in range(3)]
for t in threads:
    t.start()
wst = lambda q: SimpleStatement(q, consistency_level=ConsistencyLevel.QUORUM)  # noqa: E731
n_ops = 0
deadline = time.time() + 20
step = 0
while time.time() < deadline and n_ops < 120:
    step += 1
    if step % 4 == 0:
        q, nxt = ("UPDATE l SET l = ['p%d'] + l WHERE k = 3 AND c = 0" % step,
                  ["p%d" % step] + cur)
    elif step % 4 == 1:
        q, nxt = ("UPDATE l SET l = l + ['a%d'] WHERE k = 3 AND c = 0" % step,
                  cur + ["a%d" % step])
    elif step % 4 == 2 and cur:
        i = step % len(cur)
        q, nxt = ("UPDATE l SET l[%d] = 'i%d' WHERE k = 3 AND c = 0" % (i, step),
                  cur[:i] + ["i%d" % step] + cur[i + 1:])
    elif cur:
        victim = cur[step % len(cur)]
        q, nxt = ("UPDATE l SET l = l - ['%s'] WHERE k = 3 AND c = 0" % victim,
                  [e for e in cur if e != victim])
    else:
        continue
    with hist_lock:
        history.add(tuple(nxt))
    session.execute(wst(q), host=hosts[step % 3])
    cur = nxt
    n_ops += 1
stop.set()
for t in threads:
    t.join()
final = session.execute(SimpleStatement("SELECT l FROM l WHERE k = 3 AND c = 0",
                                        consistency_level=ConsistencyLevel.ALL)).one().l
check("%d list ops concurrent with %d QUORUM reads: every read a list the model had"
      % (n_ops, reads[0]), not seen_bad and reads[0] > 0, seen_bad[:3])
check("no read failed during the list ops", not read_errors, read_errors[:3])
check("after the list ops every replica agrees with the model (ALL)", final == cur,
      "%s != %s" % (final, cur))

# ---- element and slice selection -----------------------------------------------------------
session.execute("CREATE TABLE sub (k int PRIMARY KEY, m map<text, int>, s frozen<set<int>>)")
session.execute("INSERT INTO sub (k, m, s) VALUES (1, {'a': 1, 'b': 2, 'c': 3}, {1, 5, 9})")
rs = session.execute("SELECT m['b'], m['a'..'b'], s[2..], s[5] FROM sub WHERE k = 1")
row = rs.one()
check("m['k'], m['a'..'b'], s[2..], s[5] through the driver",
      tuple(row) == (2, {"a": 1, "b": 2}, {5, 9}, 5) and
      rs.column_names == ["m['b']", "m['a'..'b']", "s[2..]", "s[5]"],
      (tuple(row), rs.column_names))
expect_error("element selection on a list", "SELECT l[0] FROM l WHERE k = 1",
             "Element selection is only allowed on sets and maps, but l is a list")


def spec(prepared):
    return [(m.name, m.type.cql_parameterized_type()) for m in prepared.column_metadata]


sel = session.prepare("SELECT m[?], m[?..?], s[..?], s[?] FROM sub WHERE k = ?")
check("markers in element and slice selections are typed as the key",
      spec(sel) == [("key(m)", "text"), ("key(m)", "text"), ("key(m)", "text"),
                    ("value(s)", "int"), ("value(s)", "int"), ("k", "int")]
      or spec(sel) == [("key(m)", "varchar"), ("key(m)", "varchar"), ("key(m)", "varchar"),
                       ("value(s)", "int"), ("value(s)", "int"), ("k", "int")], spec(sel))
row = session.execute(sel, ("c", "b", "c", 5, 9, 1)).one()
check("m[?], m[?..?], s[..?], s[?] bound per execution",
      tuple(row) == (3, {"b": 2, "c": 3}, {1, 5}, 9), tuple(row))
row = session.execute(sel, ("z", "a", "a", 0, 2, 1)).one()
check("bound keys that match nothing read null", tuple(row) == (None, {"a": 1}, None, None),
      tuple(row))
try:
    session.execute(sel, (None, "a", "b", 1, 1, 1))
    check("a null key bound to m[?] refused", False, "no error")
except InvalidRequest as e:
    check("a null key bound to m[?] refused", "Invalid null value for m[?]" in str(e), str(e))
upd = session.prepare("UPDATE sub SET m[?] = ? WHERE k = ?")
lupd = session.prepare("UPDATE l SET l[?] = ? WHERE k = ? AND c = ?")
ldel = session.prepare("DELETE l[?] FROM l WHERE k = ? AND c = ?")
check("m[?] = ? markers are key(m) and value(m)",
      spec(upd) in ([("key(m)", "text"), ("value(m)", "int"), ("k", "int")],
                    [("key(m)", "varchar"), ("value(m)", "int"), ("k", "int")]), spec(upd))
check("l[?] = ? markers are idx(l) and value(l); DELETE l[?] idx(l)",
      spec(lupd)[:2] in ([("idx(l)", "int"), ("value(l)", "text")],
                         [("idx(l)", "int"), ("value(l)", "varchar")])
      and spec(ldel)[0] == ("idx(l)", "int"), (spec(lupd), spec(ldel)))
session.execute(upd, ("d", 4, 1))
row = session.execute(sel, ("d", "c", "d", 1, 1, 1)).one()
check("m[?] = ? writes the entry", tuple(row) == (4, {"c": 3, "d": 4}, {1}, 1), tuple(row))

# ---- duration ------------------------------------------------------------------------------
from cassandra.util import Duration  # noqa: E402

session.execute("CREATE TABLE dur (k int PRIMARY KEY, d duration, l list<duration>)")
NS_H = 3600 * 10**9
values = [Duration(0, 0, 0), Duration(14, 3, NS_H + 1), Duration(-1, -2, -3),
          Duration(2**31 - 1, 2**31 - 1, 2**63 - 1), Duration(-2**31, -2**31, -2**63),
          Duration(0, 0, 127), Duration(0, 0, 128), Duration(0, 0, 2**56)]
ins = session.prepare("INSERT INTO dur (k, d, l) VALUES (?, ?, ?)")
for i, v in enumerate(values):
    session.execute(ins, (i, v, [v, Duration(1, 0, 0)]))
got = {r.k: (r.d, r.l) for r in session.execute("SELECT k, d, l FROM dur")}
check("duration values round trip through the driver (bound, vints up to 9 bytes)",
      all(got[i] == (v, [v, Duration(1, 0, 0)]) for i, v in enumerate(values)),
      [(got.get(i), v) for i, v in enumerate(values) if got.get(i, (None,))[0] != v][:3])
session.execute("INSERT INTO dur (k, d) VALUES (100, 1h30m)")
session.execute("INSERT INTO dur (k, d) VALUES (101, 'P1Y2M3DT4H5M6S')")
session.execute("INSERT INTO dur (k, d) VALUES (102, -2w)")
got = [session.execute("SELECT d FROM dur WHERE k = %d" % k).one().d for k in (100, 101, 102)]
want = [Duration(0, 0, 90 * 60 * 10**9), Duration(14, 3, 4 * NS_H + 306 * 10**9),
        Duration(0, -14, 0)]
check("duration literals 1h30m, 'P1Y2M3DT4H5M6S', -2w", got == want, got)
try:
    session.execute(ins, (200, Duration(1, -1, 0), None))
    check("a duration of mixed signs refused", False, "no error")
except InvalidRequest as e:
    check("a duration of mixed signs refused", "must be all of the same sign" in str(e), str(e))
expect_error("duration in a clustering key",
             "CREATE TABLE bad (k int, c duration, PRIMARY KEY (k, c))",
             "duration type is not supported for PRIMARY KEY column 'c'")
col = cluster.metadata.keyspaces[KS].tables["dur"].columns["d"]
check("the driver's metadata: d is a duration", col.cql_type == "duration", col.cql_type)

# ---- tuples --------------------------------------------------------------------------------
session.execute("CREATE TABLE tup (k int, c frozen<tuple<int, text>>, "
                "v tuple<int, text, frozen<list<int>>, duration>, "
                "m map<text, frozen<tuple<int, int>>>, PRIMARY KEY (k, c)) "
                "WITH CLUSTERING ORDER BY (c DESC)")
ins = session.prepare("INSERT INTO tup (k, c, v, m) VALUES (?, ?, ?, ?)")
rows_in = [((1, "a"), (1, "x", [1, 2], Duration(0, 1, 5)), {"p": (1, 2)}),
           ((2, "a"), (None, "y", None, None), None),
           ((1, "b"), (-5, "", [], Duration(1, 0, 0)), {"q": (3, 4), "r": (5, 6)}),
           ((None, "z"), None, None)]
for c, v, m in rows_in:
    session.execute(ins, (1, c, v, m))
got = [(r.c, r.v, r.m) for r in session.execute("SELECT c, v, m FROM tup WHERE k = 1")]
want = sorted(rows_in, key=lambda r: (r[0][0] is not None, r[0][0] or 0, r[0][1]), reverse=True)
norm = lambda rows: [(c, v, dict(m) if m else None) for c, v, m in rows]  # noqa: E731
check("tuple values round trip (nulls, nested list and duration, in a map, DESC key order)",
      norm(got) == norm(want), got)
rows = [r.c for r in session.execute(
    "SELECT c FROM tup WHERE k = 1 AND c >= (1, 'b') AND c < (2, 'b')")]
check("a slice on a tuple clustering key", rows == [(2, "a"), (1, "b")], rows)
sel = session.prepare("SELECT v FROM tup WHERE k = 1 AND c = ?")
got = session.execute(sel, [(1, "a")]).one().v
check("a bound tuple key", got == (1, "x", [1, 2], Duration(0, 1, 5)), got)
expect_error("a tuple literal with too many elements",
             "INSERT INTO tup (k, c) VALUES (1, (1, 'a', 3))",
             "Invalid tuple literal for c: too many elements")
col = cluster.metadata.keyspaces[KS].tables["tup"].columns["v"]
check("the driver's metadata: v is frozen<tuple<int, text, frozen<list<int>>, duration>>",
      col.cql_type == "frozen<tuple<int, text, frozen<list<int>>, duration>>", col.cql_type)

# ---- static-only rows ----------------------------------------------------------------------
session.execute("CREATE TABLE st (k int, c int, s text static, v int, PRIMARY KEY (k, c))")
for k in range(6):
    session.execute("INSERT INTO st (k, s) VALUES (%s, %s)", (k, "s%d" % k))
for k in range(0, 6, 2):
    session.execute("INSERT INTO st (k, c, v) VALUES (%s, 1, 10)", (k,))
    session.execute("INSERT INTO st (k, c, v) VALUES (%s, 2, 20)", (k,))
want = set()
for k in range(6):
    if k % 2 == 0:
        want |= {(k, 1, "s%d" % k, 10), (k, 2, "s%d" % k, 20)}
    else:
        want.add((k, None, "s%d" % k, None))
for fetch in (1, 2, 5, 100):
    st = SimpleStatement("SELECT k, c, s, v FROM st", fetch_size=fetch)
    rows = [tuple(r) for r in session.execute(st)]
    check("scan with static-only partitions, fetch_size %d" % fetch,
          len(rows) == len(want) and set(rows) == want, sorted(rows, key=str))
st = SimpleStatement("SELECT k, c, s, v FROM st WHERE k IN (0, 1, 3)", fetch_size=1)
rows = [tuple(r) for r in session.execute(st)]
check("IN over static-only and full partitions, fetch_size 1",
      rows == [(0, 1, "s0", 10), (0, 2, "s0", 20), (1, None, "s1", None), (3, None, "s3", None)],
      rows)
rows = list(session.execute("SELECT k, c FROM st WHERE k = 1 AND c = 1"))
check("a clustering restriction does not return the static row alone", rows == [], rows)
rows = [tuple(r) for r in session.execute("SELECT DISTINCT k, s FROM st WHERE k IN (1, 2)")]
check("DISTINCT on static-only partitions", rows == [(1, "s1"), (2, "s2")], rows)
expect_error("INSERT of a regular column without the clustering key",
             "INSERT INTO st (k, v) VALUES (9, 1)", "Some clustering keys are missing: c")

session.execute("DROP KEYSPACE %s" % KS)
cluster.shutdown()
print("%d failed" % len(FAILED))
sys.exit(1 if FAILED else 0)
