"""A node displaced by gossip while it runs gets its address back without a restart
(driven by tests/cluster/reclaim_test.sh).

Node 3 (Z), its wall clock an hour ahead (so its gossip generation too), is started at the
address of node 2 (X) while both are down: the cluster gives that address to Z.  Z is
killed and X started at its own address again: its generation is below Z's last claim
there, so the others keep X displaced (DOWN, out of system.peers, no event names its
address for it) although it runs and gossips.  Then Z starts at its own old address: the
address is X's alone again, and X's next heartbeat gives it back to X in the same
generation.  Clients REGISTERed on node 1 dropped the host at that address (REMOVED_NODE
when Z left it), so they must hear NEW_NODE for it, then UP, once each and in that order;
and a python-driver session (control connection on node 1) must see X at its address
with its host id and send it requests.

argv: comma-separated node addresses, the cluster's temp directory (nodeK/ with
colonnade.yaml, cmd, pid, node.log), the clock shim (clock_ahead.so).
"""
import os
import socket
import struct
import sys
import threading
import time

import clusterlib
from clusterlib import admin, cql_frame, cql_string, cql_string_map, read_cql_frame

ADDR = dict(enumerate(sys.argv[1].split(","), start=1))  # node -> its address now
ROOT = sys.argv[2]
SHIM = sys.argv[3]
X, Z = 2, 3
AHEAD_S = 3600
RUN = clusterlib.Run("reclaim_test", poll=0.2)
say, check, wait_until = RUN.say, RUN.check, RUN.wait_until


def kill(k):
    pid = clusterlib.kill_node(ROOT, k, gone_within=10)
    say("killed node %d (pid %d, %s)" % (k, pid, ADDR[k]))


def start(k, addr, ahead=False):
    """Node k at `addr` (listen and rpc) with its own data; its wall clock AHEAD_S s
    ahead when `ahead`."""
    prefix = []
    if ahead:
        # An ASan build's runtime must come first among the libraries unless told.
        asan = os.environ.get("ASAN_OPTIONS", "")
        prefix = ["env", "LD_PRELOAD=" + SHIM, "CLOCK_AHEAD_S=%d" % AHEAD_S,
                  "ASAN_OPTIONS=" + (asan + ":" if asan else "") + "verify_asan_link_order=0"]
    proc = clusterlib.start_node(ROOT, k, addr, prefix)
    ADDR[k] = addr
    say("started node %d at %s (pid %d%s)" % (k, addr, proc.pid,
                                              ", clock %d s ahead" % AHEAD_S if ahead else ""))
    return proc


def status_of(host_id):
    """(address, up) of host_id in node 1's status, or None."""
    for e in admin(ADDR[1], "/v1/status")["nodes"]:
        if e["host_id"] == host_id:
            return (e["address"], e["up"])
    return None


class Events(threading.Thread):
    """A connection to node 1 REGISTERed for TOPOLOGY_CHANGE and STATUS_CHANGE: every
    event as (type, change, address), in the order node 1 sent them."""

    def __init__(self):
        super().__init__(daemon=True)
        self.got, self.lock, self.error = [], threading.Lock(), None
        self.s = socket.create_connection((ADDR[1], 9042), timeout=10)
        self.request(0x01, cql_string_map({"CQL_VERSION": "3.0.0"}))
        self.request(0x0B, struct.pack(">H", 2) + cql_string("TOPOLOGY_CHANGE") +
                     cql_string("STATUS_CHANGE"))
        self.s.settimeout(None)

    def read_frame(self):
        _, _, stream, opcode, body = read_cql_frame(self.s)
        return stream, opcode, body

    def request(self, opcode, body):
        self.s.sendall(cql_frame(opcode, body, stream=1))
        while True:
            stream, op, _ = self.read_frame()
            if stream == 1:
                if op != 0x02:
                    raise RuntimeError("opcode 0x%02x answered with 0x%02x, not READY"
                                       % (opcode, op))
                return

    def run(self):
        try:
            while True:
                stream, op, body = self.read_frame()
                if stream != -1 or op != 0x0C:
                    continue
                fields, off = [], 0
                for _ in range(2):
                    (n,) = struct.unpack_from(">H", body, off)
                    fields.append(body[off + 2:off + 2 + n].decode())
                    off += 2 + n
                n = body[off]
                addr = socket.inet_ntop(socket.AF_INET if n == 4 else socket.AF_INET6,
                                        body[off + 1:off + 1 + n])
                with self.lock:
                    self.got.append((fields[0], fields[1], addr))
                say("event %s %s %s" % (fields[0], fields[1], addr))
        except Exception as e:
            self.error = e

    def since(self, mark):
        with self.lock:
            return list(self.got[mark:])

    def mark(self):
        with self.lock:
            return len(self.got)


def driver_view(c):
    return {h.endpoint.address: (str(h.host_id), h.is_up) for h in c.metadata.all_hosts()}


def connect():
    return clusterlib.connect_retrying(ADDR[1])


def main():
    ids = {}
    check(wait_until(lambda: all(status_of(admin(ADDR[k], "/v1/info")["host_id"]) ==
                                 (ADDR[k], True) for k in ADDR), 90, "3 UN in node 1's view"),
          "3 nodes UN in node 1's view")
    for k in ADDR:
        ids[k] = admin(ADDR[k], "/v1/info")["host_id"]
    a, b = ADDR[X], ADDR[Z]
    say("host ids: %s" % ", ".join("%d %s %s" % (k, ADDR[k], ids[k][:8]) for k in ADDR))
    ev = Events()
    ev.start()
    cluster, session = connect()

    # Z at X's address while both are down, with a generation from an hour ahead.
    kill(X)
    kill(Z)
    check(wait_until(lambda: status_of(ids[X]) == (a, False) and
                     status_of(ids[Z]) == (b, False), 60, "node 1 to see nodes 2 and 3 DOWN"),
          "node 1 sees nodes 2 and 3 DOWN")
    mark = ev.mark()
    start(Z, a, ahead=True)
    check(wait_until(lambda: status_of(ids[Z]) == (a, True), 90, "node 3 UN at %s" % a),
          "node 1 sees node 3 UN at node 2's address %s" % a)
    gen_z = admin(a, "/v1/info")["generation"]
    check(gen_z > time.time() + AHEAD_S / 2,
          "node 3's generation %d is from its clock, %d s ahead" % (gen_z, gen_z - time.time()))

    # X back at its address: its claim is older than Z's, so it stays displaced.
    kill(Z)
    check(wait_until(lambda: status_of(ids[Z]) == (a, False), 60, "node 1 to see node 3 DOWN"),
          "node 1 sees node 3 DOWN")
    # Its DOWN is the last event node 1 sends for it there (an UP it held is sent only if
    # it is still UP): what comes after names the address for node 2 alone.
    check(wait_until(lambda: ("STATUS_CHANGE", "DOWN", a) in ev.since(mark), 30,
                     "DOWN for node 3 at %s" % a), "clients hear DOWN for node 3 at %s" % a)
    mark = ev.mark()
    start(X, a)
    gen_x = None

    def x_serves():
        nonlocal gen_x
        gen_x = admin(a, "/v1/info")["generation"]
        socket.create_connection((a, 9042), timeout=5).close()
        return True
    check(wait_until(x_serves, 90, "node 2 to serve at %s" % a), "node 2 serves at %s" % a)
    check(gen_x is not None and gen_x < gen_z,
          "node 2's generation %s is below node 3's %d" % (gen_x, gen_z))
    hb = {}

    def x_gossips_displaced():
        """Node 1 tracks X's generation at a, DOWN, its heartbeat going 40 rounds on."""
        for e in admin(ADDR[1], "/v1/gossipinfo")["endpoints"]:
            if e["generation"] == gen_x and e["address"] == a:
                if e["up"]:
                    return "UP"
                hb.setdefault("first", e["heartbeat"])
                return True if e["heartbeat"] >= hb["first"] + 40 else e["heartbeat"]
        return None
    check(wait_until(x_gossips_displaced, 60, "node 2's heartbeats at node 1"),
          "node 1 hears node 2's heartbeats and keeps it DOWN (displaced)")
    check(status_of(ids[X]) != (a, True), "node 1's status does not show node 2 UP")
    named = [e for e in ev.since(mark) if e[2] == a and e[1] in ("NEW_NODE", "UP")]
    check(not named, "no NEW_NODE or UP names %s while node 2 is displaced (%s)" % (a, named))

    # Z moves on to its own old address: a is X's again, in X's same generation.
    mark = ev.mark()
    start(Z, b, ahead=True)
    check(wait_until(lambda: status_of(ids[Z]) == (b, True) and status_of(ids[X]) == (a, True),
                     90, "node 1 to see node 3 UN at %s and node 2 UN at %s" % (b, a)),
          "node 1 sees node 3 UN at %s and node 2 UN at %s" % (b, a))
    check(admin(a, "/v1/info")["generation"] == gen_x, "node 2 did not restart")

    def announced():
        got = [e for e in ev.since(mark) if e[2] == a]
        return True if ("TOPOLOGY_CHANGE", "NEW_NODE", a) in got and \
            ("STATUS_CHANGE", "UP", a) in got else got
    check(wait_until(announced, 30, "NEW_NODE and UP for %s" % a),
          "clients on node 1 hear NEW_NODE and UP for %s (%s)" % (a, ev.since(mark)))
    # A DOWN then UP again is node 1 convicting node 2 for a moment on a loaded machine:
    # a true event.  Never twice the same one in a row, nothing before NEW_NODE.
    got = [e[1] for e in ev.since(mark) if e[2] == a]
    new_at = got.index("NEW_NODE") if "NEW_NODE" in got else len(got)
    after = got[new_at + 1:]
    check(got.count("NEW_NODE") == 1 and set(got[:new_at]) <= {"REMOVED_NODE"} and
          after[:1] == ["UP"] and set(after) <= {"UP", "DOWN"} and
          all(x != y for x, y in zip(after, after[1:])),
          "for %s: one NEW_NODE, after any REMOVED_NODE, then UP (DOWN and UP alternate "
          "after it: %d flaps) (%s)" % (a, after.count("DOWN"), got))
    check(ev.error is None, "the event connection stayed open (%s)" % ev.error)

    want = {ADDR[1]: (ids[1], True), a: (ids[X], True), b: (ids[Z], True)}
    check(wait_until(lambda: True if driver_view(cluster) == want else driver_view(cluster),
                     60, "the driver's view"),
          "the driver sees node 2 at %s and node 3 at %s, UP" % (a, b))

    def pool_to_x():
        return any(h.endpoint.address == a and not p.is_shutdown
                   for h, p in list(session._pools.items()))
    check(wait_until(pool_to_x, 30, "a pool to %s" % a), "the driver has a pool to %s" % a)
    coords = {}
    for _ in range(60):
        rs = session.execute("SELECT release_version FROM system.local")
        c = str(rs.response_future.coordinator_host).split(":")[0]
        coords[c] = coords.get(c, 0) + 1
    check(coords.get(a, 0) > 0, "requests reach node 2 at %s (coordinators %s)" % (a, coords))
    cluster.shutdown()
    RUN.finish()


main()
