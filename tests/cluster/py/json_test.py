"""JSON in CQL through Debian's python3-cassandra driver, one node.

Run by tests/cluster/json_test.sh:  json_test.py HOST

Rows of every type are written with INSERT JSON (a bind marker, prepared and
simple), read back with SELECT JSON and with a plain SELECT, and compared with
the values written; the [json] column's metadata; DEFAULT NULL / DEFAULT UNSET;
Cassandra's messages for bad JSON.  Prints one line per check; exits 1 on any
failure.
"""
import datetime
import decimal
import json
import sys
import uuid
from functools import partial

from cassandra.cluster import Cluster

import clusterlib
from clusterlib import FAILED, check

HOST = sys.argv[1]
KS = "json_test"

cluster = Cluster([HOST], port=9042, protocol_version=4, connect_timeout=20)
session = cluster.connect()
expect_error = partial(clusterlib.expect_error, session)
session.default_timeout = 30
session.execute("DROP KEYSPACE IF EXISTS %s" % KS)
session.execute("CREATE KEYSPACE %s WITH replication = "
                "{'class': 'SimpleStrategy', 'replication_factor': 1}" % KS)
session.set_keyspace(KS)
session.execute(
    'CREATE TABLE t (k int, c text, "Mixed" int, a ascii, bi bigint, b blob, bo boolean, '
    'de decimal, d double, f float, i inet, si smallint, ti tinyint, ts timestamp, '
    'dt date, tm time, u uuid, tu timeuuid, vi varint, l list<int>, s set<text>, '
    'm map<text, int>, mi map<int, text>, tp tuple<int, text>, PRIMARY KEY (k, c))')

ROWS = []
for n in range(40):
    ROWS.append({
        "k": n % 7, "c": "row-%d \"q\" \\ \u00e9" % n, "\"Mixed\"": n * 3,
        "a": "ascii%d" % n, "bi": (1 << 62) + n, "b": "0x%04x" % n, "bo": n % 2 == 0,
        "de": "%d.%03d" % (n, n), "d": n / 8.0, "f": n / 4.0,
        "i": "10.0.%d.%d" % (n, n + 1), "si": -n, "ti": n - 20,
        "ts": "2024-01-%02d 03:04:05.%03dZ" % (1 + n % 28, n),
        "dt": "2024-03-%02d" % (1 + n % 30), "tm": "01:02:%02d.000000123" % (n % 60),
        "u": str(uuid.UUID(int=n * 7919)), "tu": str(uuid.uuid1(clock_seq=n)),
        "vi": 10 ** 30 + n, "l": [n, n + 1, n], "s": ["x%d" % n, "a"],
        "m": {"k%d" % n: n}, "mi": {str(n): "v"}, "tp": [n, None if n % 3 else "t"],
    })

ins = session.prepare("INSERT INTO t JSON ?")
check("the JSON bind marker is named [json] and typed text",
      [(c.name, c.type.typename) for c in ins.column_metadata] == [("[json]", "varchar")],
      [(c.name, c.type.typename) for c in ins.column_metadata])
for n, row in enumerate(ROWS):
    text = json.dumps(row)
    if n % 2:
        session.execute(ins, [text])
    else:
        session.execute("INSERT INTO t JSON %s", [text])

got = {}
rs = session.execute("SELECT JSON * FROM t")
check("SELECT JSON answers one column named [json]", rs.column_names == ["[json]"],
      rs.column_names)
for r in rs:
    o = json.loads(r[0])
    got[(o["k"], o["c"])] = o
check("every row comes back", len(got) == len(ROWS), len(got))


def norm(v):
    if isinstance(v, list):
        return [norm(x) for x in v]
    return v


bad = []
for row in ROWS:
    o = got.get((row["k"], row["c"]))
    if o is None:
        bad.append(("missing", row["k"], row["c"]))
        continue
    for key, want in row.items():
        have = o.get(key)
        if key == "de":
            ok = decimal.Decimal(str(have)) == decimal.Decimal(want)
        elif key == "s":
            ok = have == sorted(want)
        elif key in ("d", "f"):
            ok = float(have) == want
        elif key in ("u", "tu"):
            ok = have == want.lower()
        else:
            ok = norm(have) == norm(want)
        if not ok:
            bad.append((row["k"], row["c"], key, want, have))
check("SELECT JSON gives back every value INSERT JSON wrote", not bad, bad[:5])

# the same rows through the driver's own types
r0 = ROWS[5]
row = session.execute("SELECT * FROM t WHERE k = %s AND c = %s", [r0["k"], r0["c"]]).one()
check("plain SELECT sees the JSON-written values",
      row.bi == r0["bi"] and row.b == bytes.fromhex(r0["b"][2:]) and
      row.de == decimal.Decimal(r0["de"]) and row.i == r0["i"] and
      row.ts == datetime.datetime(2024, 1, 6, 3, 4, 5, 5000) and row.vi == r0["vi"] and
      row.Mixed == r0["\"Mixed\""] and row.tp == (5, None) and row.mi == {5: "v"},
      row)

# SELECT JSON of selected columns, prepared, with a bind
sel = session.prepare('SELECT JSON k, "Mixed", bi AS big FROM t WHERE k = ? AND c = ?')
check("prepared SELECT JSON's result metadata is the [json] column",
      [c[2] for c in sel.result_metadata] == ["[json]"],
      [c[2] for c in sel.result_metadata])
o = json.loads(session.execute(sel, [r0["k"], r0["c"]]).one()[0])
check("SELECT JSON keys: plain, quoted case-sensitive, alias",
      o == {"k": r0["k"], "\"Mixed\"": r0["\"Mixed\""], "big": r0["bi"]}, o)

# toJson(col) in a plain SELECT: the same JSON as SELECT JSON's value
row = session.execute("SELECT toJson(l), toJson(mi), toJson(tp), toJson(\"Mixed\") FROM t "
                      "WHERE k = %s AND c = %s", [r0["k"], r0["c"]]).one()
check("toJson(col) gives each column's JSON",
      [json.loads(x) for x in row] == [r0["l"], r0["mi"], r0["tp"], r0["\"Mixed\""]], row)
expect_error("toJson of a literal", "SELECT toJson(1) FROM t",
             "Cannot infer type of argument 1 in call to function system.tojson")

# fromJson(?) in INSERT and UPDATE values, prepared: the receiver's type
fj = session.prepare("INSERT INTO t (k, c, l, mi, tp, ts) VALUES (?, ?, fromJson(?), "
                     "fromJson(?), fromJson(?), fromJson(?))")
check("fromJson's marker is text",
      [c.type.typename for c in fj.column_metadata][2:] == ["varchar"] * 4,
      [(c.name, c.type.typename) for c in fj.column_metadata])
session.execute(fj, [200, "fj", "[5, 4]", '{"7": "s"}', '[1, null]', '"2024-05-06 07:08:09.010Z"'])
session.execute(session.prepare("UPDATE t SET bi = fromJson(?) WHERE k = 200 AND c = 'fj'"),
                ['"123"'])
row = session.execute("SELECT l, mi, tp, ts, bi FROM t WHERE k = 200").one()
check("fromJson(?) writes the receiver's type",
      row.l == [5, 4] and row.mi == {7: "s"} and row.tp == (1, None) and row.bi == 123 and
      row.ts == datetime.datetime(2024, 5, 6, 7, 8, 9, 10000), row)
session.execute("DELETE FROM t WHERE k = 200")
expect_error("fromJson in a selection", "SELECT fromJson(c) FROM t",
             "fromJson() cannot be used in the selection clause of a SELECT statement")
expect_error("fromJson of the wrong JSON type",
             "INSERT INTO t (k, c, l) VALUES (1, 'x', fromJson('{}'))",
             "execution of 'system.fromjson[text]' failed: Expected a list")

# paging: SELECT JSON pages like any SELECT
session.default_fetch_size = 7
pages = list(session.execute("SELECT JSON k, c FROM t"))
check("SELECT JSON pages (7 per page) and returns every row once",
      len(pages) == len(ROWS) and len({p[0] for p in pages}) == len(ROWS), len(pages))

# DEFAULT UNSET keeps, DEFAULT NULL clears
session.execute(ins.bind([json.dumps({"k": 100, "c": "d", "bi": 1, "a": "x"})]))
session.execute("INSERT INTO t JSON %s DEFAULT UNSET", [json.dumps({"k": 100, "c": "d", "bi": 2})])
o = json.loads(session.execute("SELECT JSON bi, a FROM t WHERE k = 100").one()[0])
check("DEFAULT UNSET leaves the columns the JSON omits", o == {"bi": 2, "a": "x"}, o)
session.execute("INSERT INTO t JSON %s", [json.dumps({"k": 100, "c": "d", "bi": 3})])
o = json.loads(session.execute("SELECT JSON bi, a FROM t WHERE k = 100").one()[0])
check("DEFAULT NULL (the default) clears the columns the JSON omits",
      o == {"bi": 3, "a": None}, o)

# misuse
expect_error("an unknown column is named", "INSERT INTO t JSON %s",
             "JSON values map contains unrecognized column: zz",
             [json.dumps({"k": 1, "c": "x", "zz": 1})])
expect_error("a case-sensitive column needs its quotes", "INSERT INTO t JSON %s",
             "JSON values map contains unrecognized column: mixed",
             [json.dumps({"k": 1, "c": "x", "Mixed": 1})])
expect_error("a wrong type names the column", "INSERT INTO t JSON %s",
             "Error decoding JSON value for bi: Unable to make bigint from 'x'",
             [json.dumps({"k": 1, "c": "x", "bi": "x"})])
expect_error("torn JSON", "INSERT INTO t JSON %s", "Could not decode JSON string as a map",
             ['{"k": 1, "c": '])
expect_error("a null JSON value", "INSERT INTO t JSON %s", "Got null for INSERT JSON values",
             [None])
expect_error("a missing key column", "INSERT INTO t JSON %s",
             "Some clustering keys are missing: c", [json.dumps({"k": 1})])

session.execute("DROP KEYSPACE %s" % KS)
cluster.shutdown()
print("%d failed" % len(FAILED))
sys.exit(1 if FAILED else 0)
