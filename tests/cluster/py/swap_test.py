"""Two nodes of different datacenters restarted at each other's addresses (driven by
tests/cluster/swap_test.sh).

Docker hands the addresses of containers killed and started together back in a new order,
so a dc1 node may come back at the address a dc2 node had, and the other way round, each
with its own data (host id, tokens).  The python driver keys its hosts by address and
learns of the move only from the TOPOLOGY_CHANGE / STATUS_CHANGE events of its control
connection's node and from what system.peers says when those make it look: a stale view
keeps the address in its old datacenter, and a dc1-aware session sends LOCAL_QUORUM
requests to what is now a dc2 node.

Nodes 1 and 2 are dc1, 3 and 4 dc2; nodes 2 and 4 swap addresses twice.  First one by
one: both killed, node 2 started at node 4's address once the others see both DOWN (node 4,
which owns that address in their view, is displaced: system.peers and the drivers must
name node 2 alone there), node 4 at node 2's once they see node 2 UP.  Then both killed and
started at once (the others may never see them DOWN).  Each time: every node's status
and ring keep each host id's tokens and show it UP at its new address in its own DC;
every node's system.peers says the same and never, while the nodes move, lists one
address twice; sessions connected throughout (their
control connections on nodes 1 and 3, which stay) see each address with its host id and
DC within DRIVER_BOUND s; their LOCAL_QUORUM requests are all coordinated in their own DC.
Last, dc2 is killed: dc1's LOCAL_QUORUM requests all succeed.

argv: comma-separated node addresses, the cluster's temp directory (nodeK/ with
colonnade.yaml, cmd, pid, node.log), the colonnade binary.
"""
import itertools
import logging
import os
import sys
import threading
import time

from cassandra import ConsistencyLevel
from cassandra.cluster import EXEC_PROFILE_DEFAULT, ExecutionProfile
from cassandra.policies import (ConstantReconnectionPolicy, DCAwareRoundRobinPolicy,
                                WhiteListRoundRobinPolicy)

import clusterlib

ADDR = dict(enumerate(sys.argv[1].split(","), start=1))  # node -> its address now
ROOT = sys.argv[2]
DC = {1: "dc1", 2: "dc1", 3: "dc2", 4: "dc2"}
SWAP = (2, 4)
LQ = ConsistencyLevel.LOCAL_QUORUM
DRIVER_BOUND = 60  # s; the driver waits up to 10 s (topology window) before it looks
KEYS = itertools.count()
RUN = clusterlib.Run("swap_test", poll=0.3)
say, check, wait_until = RUN.say, RUN.check, RUN.wait_until


def admin(k, path):
    return clusterlib.admin(ADDR[k], path)


def kill(k):
    pid = clusterlib.kill_node(ROOT, k, gone_within=5)
    say("killed node %d (pid %d, %s)" % (k, pid, ADDR[k]))


def start(k, addr):
    """Node k at `addr` (listen and rpc), with its own data directory."""
    proc = clusterlib.start_node(ROOT, k, addr)
    ADDR[k] = addr
    say("started node %d (%s) at %s (pid %d)" % (k, DC[k], addr, proc.pid))
    return proc


def truth(ids):
    """address -> (host id, dc) of every node as it is now."""
    return {ADDR[k]: (ids[k][0], DC[k]) for k in ADDR}


def status_true(k, ids, live):
    """Node k sees every node of `live` UP and NORMAL at its address in its DC."""
    v = {e["host_id"]: (e["address"], e["up"], e["state"], e["dc"])
         for e in admin(k, "/v1/status")["nodes"]}
    want = {ids[m][0]: (ADDR[m], True, "NORMAL", DC[m]) for m in live}
    got = {h: v.get(h) for h in want}
    return True if got == want else got


def ring_of(k):
    r = admin(k, "/v1/ring")
    return {t["token"]: r["nodes"][t["node"]]["host_id"] for t in r["tokens"]}


def peer_rows(s):
    rows = s.execute("SELECT peer, rpc_address, host_id, data_center FROM system.peers")
    return [(str(r.rpc_address), str(r.host_id), r.data_center, str(r.peer)) for r in rows]


def connect(k, **kw):
    """A session through node k; a node just started is UN in gossip a moment before it
    opens its CQL port: connecting is retried for up to 60 s."""
    return clusterlib.connect_retrying(ADDR[k], **kw)


def node_session(k):
    prof = ExecutionProfile(load_balancing_policy=WhiteListRoundRobinPolicy([ADDR[k]]),
                            request_timeout=10)
    return connect(k, execution_profiles={EXEC_PROFILE_DEFAULT: prof})


def dc_session(k):
    """A session of node k's DC, its control connection on node k."""
    prof = ExecutionProfile(
        load_balancing_policy=DCAwareRoundRobinPolicy(local_dc=DC[k], used_hosts_per_remote_dc=0),
        request_timeout=10)
    return connect(k, execution_profiles={EXEC_PROFILE_DEFAULT: prof},
                   reconnection_policy=ConstantReconnectionPolicy(1.0), idle_heartbeat_interval=5)


def driver_view(c, dc):
    """address -> (host id, dc, up) of every host the driver knows (up only for dc's: the
    others' IGNORED hosts are never connected, their is_up is None until an event)."""
    return {h.endpoint.address: (str(h.host_id), h.datacenter,
                                 h.is_up if h.datacenter == dc else None)
            for h in c.metadata.all_hosts()}


class PeersWatch(threading.Thread):
    """Reads node k's system.peers every 50 ms; remembers rows naming one address twice."""

    def __init__(self, k):
        super().__init__(daemon=True)
        self.k, self.stop, self.reads, self.dups = k, threading.Event(), 0, []
        self.c, self.s = node_session(k)

    def run(self):
        while not self.stop.is_set():
            try:
                rows = peer_rows(self.s)
            except Exception:
                continue
            self.reads += 1
            addrs = [r[0] for r in rows]
            if len(set(addrs)) != len(addrs) and len(self.dups) < 5:
                self.dups.append(sorted(rows))
            time.sleep(0.05)

    def finish(self):
        self.stop.set()
        self.join(30)
        self.c.shutdown()


def check_nodes(ids, what):
    """Status, ring and system.peers of every node after the nodes moved."""
    live = list(ADDR)
    check(wait_until(lambda: all(status_true(k, ids, live) is True for k in live), 90,
                     "every node's status to be true"),
          "%s: every node sees the 4 host ids UN at their addresses, in their DCs" % what)
    want_ring = {t: ids[k][0] for k in ids for t in ids[k][1]}
    rings = {k: ring_of(k) for k in live}
    check(all(r == want_ring for r in rings.values()),
          "%s: every node's ring gives each host id its own %d tokens"
          % (what, len(want_ring)))
    t = truth(ids)
    for k in live:
        c, s = node_session(k)
        try:
            peers = sorted(peer_rows(s))
            local = s.execute("SELECT host_id, data_center, rpc_address FROM system.local").one()
        finally:
            c.shutdown()
        want = sorted((a, h, d, a) for a, (h, d) in t.items() if a != ADDR[k])
        check(peers == want and (str(local.host_id), local.data_center) == t[ADDR[k]],
              "%s: node %d's system.peers and system.local name each address with its host id "
              "and DC%s" % (what, k, "" if peers == want else " (got %s)" % peers))


def check_drivers(sessions, ids, controls, what):
    t0 = time.time()
    want, views = {}, {}
    for k in sessions:
        want[k] = {a: (h, d, True if d == DC[k] else None) for a, (h, d) in truth(ids).items()}

    def agree():
        for k, (c, _) in sessions.items():
            views[k] = driver_view(c, DC[k])
        return True if views == want else views
    ok = wait_until(agree, DRIVER_BOUND, "the drivers' views")
    check(ok, "%s: the sessions of dc1 and dc2 see each address with its host id and DC "
              "(their own DC's UP), "
              "%.1f s after the nodes were UN (bound %d s)%s"
          % (what, time.time() - t0, DRIVER_BOUND,
             "" if ok else "; want %s, got %s" % (want, views)))
    for k, (c, _) in sessions.items():
        conn = c.control_connection._connection
        check(conn is controls[k] and conn.endpoint.address == ADDR[k],
              "%s: session of %s kept its control connection to node %d (the view came "
              "from events)" % (what, DC[k], k))


def check_local_requests(sessions, what, n=100):
    for k, (_, s) in sessions.items():
        dc = DC[k]
        ins = s.prepare("INSERT INTO ks.kv (k, v) VALUES (?, ?)")
        ins.consistency_level = LQ
        sel = s.prepare("SELECT v FROM ks.kv WHERE k = ?")
        sel.consistency_level = LQ
        mine = {ADDR[m] for m in ADDR if DC[m] == dc}

        def pools_open():
            # A host the driver dropped and re-added (REMOVED_NODE for an address another
            # node took) is back in the round robin only once its pool is open again.
            up = {h.endpoint.address for h in s.cluster.metadata.all_hosts() if h.is_up}
            pooled = {h.endpoint.address for h, p in list(s._pools.items()) if not p.is_shutdown}
            return mine <= up and mine <= pooled
        check(wait_until(pools_open, 30, "%s: pools to every %s node" % (what, dc)),
              "%s: the %s session has a pool to every %s node" % (what, dc, dc))
        coords, errors, wrong = {}, [], []
        for i in range(n):
            key = next(KEYS)
            try:
                for rs in (s.execute(ins, (key, i)), s.execute(sel, (key,))):
                    a = str(rs.response_future.coordinator_host).split(":")[0]
                    coords[a] = coords.get(a, 0) + 1
                    if a not in mine:
                        wrong.append(a)
            except Exception as e:
                errors.append("%d: %r" % (key, e))
        check(not errors and not wrong and set(coords) == mine,
              "%s: %d LOCAL_QUORUM writes and reads through the %s session, coordinators %s "
              "(errors %d%s)" % (what, 2 * n, dc, coords, len(errors),
                                 ", first " + errors[0] if errors else ""))


def check_half_moved(ids, sessions, controls, what):
    """Node a is at b's old address, b (DOWN) not back yet: b is displaced, so system.peers
    and the drivers leave it out, and a's address is a's alone."""
    a, b = SWAP
    live = [k for k in ADDR if k != b]
    check(wait_until(lambda: all(status_true(k, ids, live) is True for k in live), 90,
                     "nodes 1, 3 and %d to see node %d UN at %s" % (a, a, ADDR[a])),
          "%s: every live node sees node %d UN at %s" % (what, a, ADDR[a]))
    t = {ADDR[k]: (ids[k][0], DC[k]) for k in live}
    for k in (1, 3):
        c, s = node_session(k)
        try:
            peers = sorted(peer_rows(s))
        finally:
            c.shutdown()
        want = sorted((x, h, d, x) for x, (h, d) in t.items() if x != ADDR[k])
        check(peers == want, "%s: node %d's system.peers names node %d at %s only, not node %d "
              "(%s)" % (what, k, a, ADDR[a], b, peers))
    want, views = {}, {}
    for k in sessions:
        want[k] = {x: (h, d, True if d == DC[k] else None) for x, (h, d) in t.items()}

    def agree():
        for k, (c, _) in sessions.items():
            views[k] = driver_view(c, DC[k])
        return True if views == want else views
    t0 = time.time()
    ok = wait_until(agree, DRIVER_BOUND, "the drivers' views")
    check(ok, "%s: the sessions see node %d at %s in %s, %.1f s after (bound %d s)%s"
          % (what, a, ADDR[a], DC[a], time.time() - t0, DRIVER_BOUND,
             "" if ok else "; want %s, got %s" % (want, views)))


def swap(ids, sessions, controls, what, one_by_one):
    """Nodes a and b killed and started at each other's addresses: one_by_one, a is started
    once the others see both DOWN, and b once they see a UP; else both at once."""
    a, b = SWAP
    addr_a, addr_b = ADDR[a], ADDR[b]
    watch = PeersWatch(1)
    watch.start()
    kill(a)
    kill(b)
    if one_by_one:
        check(wait_until(lambda: all(status_true(k, ids, [1, 3]) is True and
                                     not any(e["up"] for e in admin(k, "/v1/status")["nodes"]
                                             if e["host_id"] in (ids[a][0], ids[b][0]))
                                     for k in (1, 3)), 60, "nodes 1 and 3 to see 2 and 4 DOWN"),
              "%s: nodes 1 and 3 see nodes %d and %d DOWN" % (what, a, b))
        start(a, addr_b)
        check_half_moved(ids, sessions, controls, what)
        start(b, addr_a)
    else:
        start(a, addr_b)
        start(b, addr_a)
    check_nodes(ids, what)
    watch.finish()
    check(not watch.dups and watch.reads > 0,
          "%s: node 1's system.peers never named one address twice while the nodes moved "
          "(%d reads%s)" % (what, watch.reads, "; got " + str(watch.dups[0]) if watch.dups
                            else ""))
    check_drivers(sessions, ids, controls, what)
    check_local_requests(sessions, what)


def main():
    if os.environ.get("SWAP_DEBUG"):
        logging.basicConfig(level=logging.DEBUG, format="%(asctime)s %(name)s %(message)s")
        logging.getLogger("cassandra.connection").setLevel(logging.INFO)
        logging.getLogger("cassandra.pool").setLevel(logging.INFO)
    check(wait_until(lambda: all(status_true(k, {m: (admin(m, "/v1/info")["host_id"],)
                                                   for m in ADDR}, list(ADDR)) is True
                                 for k in ADDR), 90, "4 UN in every view"),
          "4 nodes UN in every view")
    ids = {}
    for k in ADDR:
        info = admin(k, "/v1/info")
        ids[k] = (info["host_id"], tuple(sorted(info["tokens"])))
    say("host ids: %s" % ", ".join("%d %s %s %s" % (k, DC[k], ADDR[k], ids[k][0][:8])
                                   for k in ADDR))
    c0, s0 = node_session(1)
    s0.execute("CREATE KEYSPACE ks WITH replication = "
               "{'class': 'NetworkTopologyStrategy', 'dc1': 2, 'dc2': 2}")
    s0.execute("CREATE TABLE ks.kv (k bigint PRIMARY KEY, v int)")
    c0.shutdown()
    sessions = {1: dc_session(1), 3: dc_session(3)}
    controls = {k: c.control_connection._connection for k, (c, _) in sessions.items()}
    check_drivers(sessions, ids, controls, "before")
    check_local_requests(sessions, "before")

    swap(ids, sessions, controls, "swapped one by one", one_by_one=True)
    swap(ids, sessions, controls, "swapped back at once", one_by_one=False)

    kill(3)
    kill(4)
    check_local_requests({1: sessions[1]}, "dc2 killed")
    for c, _ in sessions.values():
        c.shutdown()
    RUN.finish()


main()
