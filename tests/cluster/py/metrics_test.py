"""Request latency histograms and per-table counts in /metrics after known traffic.

Run by tests/cluster/metrics_test.sh with CQL_HOST set; the node's admin HTTP port is
7199.  Sends a counted number of writes, reads, scans and refused requests through the
python driver (Debian's python3-cassandra), scrapes /metrics before and after, and
checks the differences per table and node-wide, and that every histogram is well formed
(cumulative buckets, +Inf == _count).
"""
import os
import re

from cassandra import ConsistencyLevel, Unavailable
from cassandra.cluster import Cluster, NoHostAvailable
from cassandra.policies import FallthroughRetryPolicy
from cassandra.query import BatchStatement, BatchType, SimpleStatement

from clusterlib import check_or_exit as check, metrics_text, passed

HOST = os.environ.get("CQL_HOST", "127.0.0.1")


LINE = re.compile(r'^([a-z_]+)(\{[^}]*\})? (\S+)$')


def scrape():
    body = metrics_text(HOST)
    out = {}
    for ln in body.splitlines():
        m = LINE.match(ln)
        if m:
            out[(m.group(1), m.group(2) or "")] = float(m.group(3))
    return out, body


def tbl(ks, t, op):
    return '{keyspace="%s",table="%s",op="%s"}' % (ks, t, op)


cluster = Cluster([HOST], port=9042, connect_timeout=10)
s = cluster.connect()
s.default_retry_policy = FallthroughRetryPolicy()
s.execute("CREATE KEYSPACE met WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}")
s.execute("CREATE KEYSPACE met2 WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 2}")
s.execute("CREATE TABLE met.a (k int PRIMARY KEY, v text)")
s.execute("CREATE TABLE met.b (k int, c int, v text, PRIMARY KEY (k, c))")
s.execute("CREATE TABLE met2.t (k int PRIMARY KEY, v text)")
before, _ = scrape()

ins_a = s.prepare("INSERT INTO met.a (k, v) VALUES (?, ?)")
sel_a = s.prepare("SELECT v FROM met.a WHERE k = ?")
for i in range(50):
    s.execute(ins_a, (i, "v%d" % i))
for i in range(30):
    s.execute(sel_a, (i,))
batch = BatchStatement(batch_type=BatchType.UNLOGGED)
for c in range(5):
    batch.add(SimpleStatement("INSERT INTO met.b (k, c, v) VALUES (%s, 1, 'x')"), (c,))
s.execute(batch)  # one request, five partitions (mutations) of met.b
for _ in range(3):
    list(s.execute("SELECT * FROM met.a"))  # scans
refused = 0
for i in range(4):
    try:
        s.execute(SimpleStatement("INSERT INTO met2.t (k, v) VALUES (%s, 'x')",
                                  consistency_level=ConsistencyLevel.TWO), (i,))
    except (Unavailable, NoHostAvailable) as e:
        refused += "Unavailable" in str(e) or isinstance(e, Unavailable)
check(refused == 4, "4 writes at TWO on one node refused as Unavailable")

after, body = scrape()


def delta(name, labels):
    return after.get((name, labels), 0) - before.get((name, labels), 0)


L = "colonnade_table_request_latency_seconds"
check(delta(L + "_count", tbl("met", "a", "write")) == 50, "met.a: 50 write requests timed")
check(delta(L + "_count", tbl("met", "a", "read")) == 30, "met.a: 30 read requests timed")
check(delta(L + "_count", tbl("met", "a", "range")) >= 3, "met.a: the 3 scans timed (%d)"
      % delta(L + "_count", tbl("met", "a", "range")))
check(delta("colonnade_table_operations_total", tbl("met", "a", "write")) == 50,
      "met.a: 50 mutations counted")
check(delta(L + "_count", tbl("met", "b", "write")) == 1, "met.b: the batch is one request")
check(delta("colonnade_table_operations_total", tbl("met", "b", "write")) == 5,
      "met.b: and five mutations")
check(delta(L + "_count", tbl("met", "b", "read")) == 0, "met.b: no reads")
fails = delta("colonnade_table_request_failures_total", tbl("met2", "t", "write"))
check(fails == 4, "met2.t: the 4 refused writes counted as failures (%d)" % fails)
check(delta("colonnade_client_request_latency_seconds_count", '{op="write"}') >= 55,
      "node-wide write count includes them all")
sum_a = delta(L + "_sum", tbl("met", "a", "write"))
check(0 < sum_a < 50 * 5, "met.a write latency sum is plausible (%.4f s)" % sum_a)

# Every histogram: cumulative buckets, +Inf equals _count.
series = {}
for (name, labels), v in after.items():
    if name.endswith("_bucket"):
        base = labels.rsplit(',le=', 1)[0] + "}"
        le = labels.rsplit(',le=', 1)[1].rstrip("}").strip('"')
        series.setdefault((name[:-7], base), []).append((float("inf") if le == "+Inf" else float(le), v))
bad = []
for (name, base), bs in series.items():
    bs.sort()
    counts = [v for _, v in bs]
    if counts != sorted(counts) or counts[-1] != after.get((name + "_count", base)):
        bad.append((name, base))
check(len(series) >= 9 and not bad, "%d histograms well formed %s" % (len(series), bad[:2]))
check("# TYPE colonnade_table_request_latency_seconds histogram" in body, "TYPE line")
cluster.shutdown()
print("%d checks passed" % passed())
