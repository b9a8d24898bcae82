"""Request tracing through Debian's python3-cassandra driver on a 3-node RF 3 cluster.

Run by tests/cluster/tracing_test.sh:  tracing_test.py HOST1,HOST2,HOST3 ROOT

ROOT/nodeK holds node K's pid file.  Every request below goes through node 1
(a white-list policy), traced with `trace=True`, and its trace is read back with
the driver's own get_query_trace() (which polls system_traces.sessions until
`duration` is set, then reads system_traces.events), and from system_traces
directly through the other nodes:

  - a QUORUM write: the session row (coordinator, client, command, request,
    parameters, duration), the coordinator's events naming every replica it
    sent the mutation to and each acknowledgement, and each replica's own
    events (message received, applied, response enqueued) under its address;
  - a QUORUM read: the replicas contacted, each answer (data or digest), and
    the contacted replicas' own events;
  - a traced EXECUTE (prepared) and traced UNLOGGED and LOGGED BATCHes;
  - a read at ALL coordinated by node 2 (one event loop; node 1 runs two, so the
    requests above hop from a request loop to the main loop): all three answers;
  - the same trace read through node 2 and node 3 (system_traces is replicated);
  - node 3 stopped (SIGSTOP): a traced write at ALL times out; the error still
    names its session, whose trace says which replica timed out and that a
    hint was written for it;
  - node 3 killed and known down: a traced QUORUM read contacts only the two
    live replicas and shows their two answers;
  - /metrics counts the traces written and none dropped.
Prints one line per check; exits 1 on any failure.
"""
import os
import signal
import subprocess
import sys
import time

from cassandra import ConsistencyLevel, WriteTimeout
from cassandra.cluster import Cluster
from cassandra.policies import FallthroughRetryPolicy, WhiteListRoundRobinPolicy
from cassandra.query import BatchStatement, BatchType, SimpleStatement

import clusterlib
from clusterlib import FAILED, check

HOSTS = sys.argv[1].split(",")
ROOT = sys.argv[2]
BIN = os.environ["COLONNADE_BIN"]
WAIT = 60  # seconds any condition below may take on a loaded machine


def connect(host):
    c = Cluster([host], port=9042, protocol_version=4, connect_timeout=20,
                load_balancing_policy=WhiteListRoundRobinPolicy([host]))
    s = c.connect()
    s.default_timeout = 60
    s.default_retry_policy = FallthroughRetryPolicy()
    return c, s


def events_of(session, sid):
    rows = session.execute(SimpleStatement(
        "SELECT event_id, activity, source, source_elapsed, thread FROM system_traces.events "
        "WHERE session_id = %s", consistency_level=ConsistencyLevel.ONE), (sid,))
    return [(str(r.source), r.activity, r.source_elapsed, r.thread) for r in rows]


def wait_events(session, sid, want, what):
    """Poll until every predicate in `want` matches some event (replicas write theirs
    asynchronously); returns the events."""
    deadline = time.time() + WAIT
    while True:
        ev = events_of(session, sid)
        missing = [name for name, pred in want if not any(pred(e) for e in ev)]
        if not missing or time.time() > deadline:
            check(what, not missing, "missing %s in %s" % (missing, ev))
            return ev
        time.sleep(0.2)


def has(src, text):
    return lambda e: e[0] == src and text in e[1]


def status_of(host):
    out = subprocess.run([BIN, "status", "-h", HOSTS[0]], capture_output=True, text=True,
                         timeout=30).stdout
    for ln in out.splitlines():
        parts = ln.split()
        if len(parts) > 1 and parts[1] == host:
            return parts[0]
    return None


def wait_status(host, want):
    deadline = time.time() + WAIT
    while status_of(host) != want and time.time() < deadline:
        time.sleep(0.2)
    check("node 1 sees %s as %s" % (host, want), status_of(host) == want)


N1, N2, N3 = HOSTS
c1, s1 = connect(N1)
s1.execute("CREATE KEYSPACE tr WITH replication = {'class': 'SimpleStrategy', "
           "'replication_factor': 3}")
s1.execute("CREATE TABLE tr.t (k int PRIMARY KEY, v text)")
ks = c1.metadata.keyspaces.get("system_traces")
check("system_traces is in the driver's schema metadata", ks is not None
      and set(ks.tables) == {"sessions", "events"})
if ks is not None:
    ev_cols = {n: c.cql_type for n, c in ks.tables["events"].columns.items()}
    check("events has Cassandra's columns and types", ev_cols == {
        "session_id": "uuid", "event_id": "timeuuid", "activity": "text", "source": "inet",
        "source_port": "int", "source_elapsed": "int", "thread": "text"}, ev_cols)
    se_cols = {n: c.cql_type for n, c in ks.tables["sessions"].columns.items()}
    check("sessions has Cassandra's columns and types", se_cols == {
        "session_id": "uuid", "command": "text", "client": "inet", "coordinator": "inet",
        "coordinator_port": "int", "duration": "int", "parameters": "map<text, text>",
        "request": "text", "started_at": "timestamp"}, se_cols)
    check("system_traces is SimpleStrategy RF 2, as Cassandra makes it",
          ks.replication_strategy.export_for_schema() ==
          "{'class': 'SimpleStrategy', 'replication_factor': '2'}",
          ks.replication_strategy.export_for_schema())

# ---- a traced QUORUM write ---------------------------------------------------------------------
rs = s1.execute(SimpleStatement("INSERT INTO tr.t (k, v) VALUES (1, 'one')",
                                consistency_level=ConsistencyLevel.QUORUM), trace=True)
tr = rs.get_query_trace(max_wait_sec=WAIT)
check("the write's trace is read back by the driver", tr is not None and tr.duration is not None)
check("session row: coordinator, command, request",
      str(tr.coordinator) == N1 and tr.request_type == "Execute CQL3 query",
      (tr.coordinator, tr.request_type))
check("session row: parameters name the query and the level",
      tr.parameters.get("consistency_level") == "QUORUM"
      and tr.parameters.get("query") == "INSERT INTO tr.t (k, v) VALUES (1, 'one')", tr.parameters)
check("session row: duration and client", tr.duration.total_seconds() > 0
      and tr.client is not None, (tr.duration, tr.client))
acts = [e.description for e in tr.events]
check("the coordinator determined all three replicas",
      any("Determining replicas for mutation: 3 live of 3" in a and all("/" + h in a for h in HOSTS)
          for a in acts), acts)
check("source_elapsed grows along the coordinator's events",
      [e.source_elapsed for e in tr.events if str(e.source) == N1] ==
      sorted(e.source_elapsed for e in tr.events if str(e.source) == N1))
want = [("applied locally", has(N1, "Applied the mutation locally"))]
for h in (N2, N3):
    want += [("sent to " + h, has(N1, "Sending MUTATION message to /" + h)),
             ("received by " + h, has(h, "MUTATION message received from /" + N1)),
             ("applied on " + h, has(h, "Applied the mutation")),
             ("answered by " + h, has(h, "Enqueuing response to /" + N1))]
ev = wait_events(s1, tr.trace_id, want, "each replica's events are in the write's trace")
acks = [h for h in (N2, N3) if any(has(N1, "MUTATION_RSP message received from /" + h)(e)
                                   for e in ev)]
check("the coordinator recorded the remote acknowledgements it waited for", len(acks) >= 1, ev)

# ---- a traced QUORUM read ----------------------------------------------------------------------
rs = s1.execute(SimpleStatement("SELECT v FROM tr.t WHERE k = 1",
                                consistency_level=ConsistencyLevel.QUORUM), trace=True)
check("the read answers", rs.one().v == "one")
tr = rs.get_query_trace(max_wait_sec=WAIT)
acts = [e.description for e in tr.events if str(e.source) == N1]
contact = [a for a in acts if a.startswith("Contacting 2 of 3 live replicas at QUORUM")]
check("the read contacted two of the three replicas", len(contact) == 1, acts)
contacted = [h for h in HOSTS if contact and "/" + h in contact[0]]
check("the contacted replicas are named", len(contacted) == 2, contact)
remote = [h for h in contacted if h != N1]
want = []
for h in remote:
    want += [("asked " + h, has(N1, "Sending READ message to /" + h)),
             ("answer of " + h, has(N1, "READ_RSP message received from /" + h)),
             ("read on " + h, has(h, "READ message received from /" + N1)),
             ("query on " + h, has(h, "Executing single-partition query on tr.t")),
             ("reply of " + h, has(h, "Enqueuing response"))]
if N1 in contacted:
    want.append(("local read", has(N1, "locally (this node is a replica)")))
ev = wait_events(s1, tr.trace_id, want, "the read's trace names each contacted replica's answer")
check("digests matched", any("Digests match: 2 replicas agree" in e[1] for e in ev), ev)
read_sid = tr.trace_id

# ---- a traced EXECUTE and a traced BATCH --------------------------------------------------------
ps = s1.prepare("SELECT v FROM tr.t WHERE k = ?")
ps.consistency_level = ConsistencyLevel.QUORUM
rs = s1.execute(ps, [1], trace=True)
tr = rs.get_query_trace(max_wait_sec=WAIT)
check("a traced EXECUTE: Cassandra's request name and the prepared id",
      tr.request_type == "Execute CQL3 prepared query"
      and any(e.description.startswith("Executing prepared statement 0x") for e in tr.events)
      and any(e.description.startswith("Contacting 2 of 3 live replicas at QUORUM")
              for e in tr.events), [tr.request_type] + [e.description for e in tr.events])
b = BatchStatement(batch_type=BatchType.UNLOGGED, consistency_level=ConsistencyLevel.QUORUM)
b.add(SimpleStatement("INSERT INTO tr.t (k, v) VALUES (10, 'ten')"))
b.add(SimpleStatement("INSERT INTO tr.t (k, v) VALUES (11, 'eleven')"))
rs = s1.execute(b, trace=True)
tr = rs.get_query_trace(max_wait_sec=WAIT)
acts = [e.description for e in tr.events if str(e.source) == N1]
check("a traced UNLOGGED BATCH: its request name and each partition's replicas",
      tr.request_type == "Execute batch of CQL3 queries"
      and sum(a.startswith("Determining replicas for mutation: 3 live of 3") for a in acts) == 2,
      [tr.request_type] + acts)
b = BatchStatement(batch_type=BatchType.LOGGED, consistency_level=ConsistencyLevel.QUORUM)
b.add(SimpleStatement("INSERT INTO tr.t (k, v) VALUES (12, 'twelve')"))
b.add(SimpleStatement("INSERT INTO tr.t (k, v) VALUES (13, 'thirteen')"))
tr = s1.execute(b, trace=True).get_query_trace(max_wait_sec=WAIT)
check("a traced LOGGED BATCH says it went through the batchlog",
      any("Writing a LOGGED batch of 2 partitions through the batchlog" in e.description
          for e in tr.events), [e.description for e in tr.events])

# ---- through a node with one event loop (node 1 runs two) -------------------------------------
c2, s2 = connect(N2)
rs = s2.execute(SimpleStatement("SELECT v FROM tr.t WHERE k = 10",
                                consistency_level=ConsistencyLevel.ALL), trace=True)
check("a read at ALL through node 2 answers", rs.one().v == "ten")
tr = rs.get_query_trace(max_wait_sec=WAIT)
check("its trace names node 2 as coordinator", str(tr.coordinator) == N2)
want = []
for h in (N1, N3):
    want += [("answer of " + h, has(N2, "READ_RSP message received from /" + h)),
             ("read on " + h, has(h, "READ message received from /" + N2))]
wait_events(s2, tr.trace_id, want, "the ALL read's trace names all three replicas' answers")
c2.shutdown()

# ---- the trace is readable through the other nodes ---------------------------------------------
for h in (N2, N3):
    c, s = connect(h)
    row = s.execute(SimpleStatement(
        "SELECT duration, coordinator FROM system_traces.sessions WHERE session_id = %s",
        consistency_level=ConsistencyLevel.ONE), (read_sid,)).one()
    check("the read's session row is readable through " + h,
          row is not None and str(row.coordinator) == N1 and row.duration is not None)
    c.shutdown()

# ---- node 3 stopped: a traced write at ALL times out --------------------------------------------
pid3 = clusterlib.node_pid(ROOT, 3)
timed_out = None
for attempt in range(3):
    os.kill(pid3, signal.SIGSTOP)
    fut = s1.execute_async(SimpleStatement("INSERT INTO tr.t (k, v) VALUES (2, 'two')",
                                           consistency_level=ConsistencyLevel.ALL), trace=True)
    try:
        fut.result()
        outcome = "success"
    except WriteTimeout:
        outcome = "timeout"
    except Exception as e:  # Unavailable: node 1 convicted node 3 before the write left
        outcome = type(e).__name__
    if outcome == "timeout":
        timed_out = fut
        break
    print("note: attempt %d ended %s; node 3 resumed and retried" % (attempt + 1, outcome))
    os.kill(pid3, signal.SIGCONT)
    wait_status(N3, "UN")
check("a write at ALL with node 3 stopped times out", timed_out is not None)
if timed_out is not None:
    tr = timed_out.get_query_trace(max_wait=WAIT)
    check("the timed-out write still names its trace session", tr is not None)
    wait_events(s1, tr.trace_id, [
        ("timeout of node 3", has(N1, "Timed out waiting for /" + N3)),
        ("hint for node 3", has(N1, "Writing a hint for /" + N3)),
        ("request failed", has(N1, "Request failed: Operation timed out")),
        ("node 2 applied it", has(N2, "Applied the mutation"))],
        "the write's trace shows the timeout and the hint")
os.kill(pid3, signal.SIGCONT)

# ---- node 3 killed and known down: the read shows the two live answers -------------------------
os.kill(pid3, signal.SIGKILL)
wait_status(N3, "DN")
rs = s1.execute(SimpleStatement("SELECT v FROM tr.t WHERE k = 1",
                                consistency_level=ConsistencyLevel.QUORUM), trace=True)
check("QUORUM still answers with node 3 down", rs.one().v == "one")
tr = rs.get_query_trace(max_wait_sec=WAIT)
acts = [e.description for e in tr.events if str(e.source) == N1]
check("only the two live replicas are contacted",
      any(a.startswith("Contacting 2 of 2 live replicas at QUORUM") and "/" + N3 not in a
          for a in acts), acts)
ev = wait_events(s1, tr.trace_id, [
    ("local read", has(N1, "locally (this node is a replica)")),
    ("answer of node 2", has(N1, "READ_RSP message received from /" + N2)),
    ("node 2's own read", has(N2, "READ message received from /" + N1))],
    "the read's trace shows the two answers")
check("nothing in the trace comes from the dead node", all(e[0] != N3 for e in ev), ev)

# ---- metrics ------------------------------------------------------------------------------------
body = clusterlib.metrics_text(N1)
vals = {ln.split()[0]: float(ln.split()[1]) for ln in body.splitlines()
        if ln.startswith("colonnade_traces_")}
check("/metrics counts traces written", vals.get("colonnade_traces_written_total", 0) >= 4, vals)
check("/metrics: no trace dropped", vals.get("colonnade_traces_dropped_total") == 0, vals)

c1.shutdown()
print("%d failed" % len(FAILED) if FAILED else "all checks passed")
sys.exit(1 if FAILED else 0)
