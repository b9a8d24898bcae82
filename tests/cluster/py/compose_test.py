"""The docker-compose acceptance scenario (driven by tests/cluster/compose_test.sh).

Two datacenters x three nodes from deploy/docker-compose.yml, a keyspace with
NetworkTopologyStrategy {dc1: 3, dc2: 3}, the python driver with a DC-aware
policy per datacenter, and the faults an operator meets: a killed container
per DC, a whole DC stopped and started (new addresses), a DC cut off the
network for 30 s, a container recreated at a new address.  Every step checks
what it promises; the first failures are printed and the run goes on so one
report shows every broken promise.  Exit 0 only when everything held.

Environment (set by compose_test.sh): COMPOSE_BIN, DOCKER_BIN, COMPOSE_PROJECT,
COMPOSE_FILES (colon-separated), DC1_CQL / DC2_CQL (host:port published by
dc1-n1 and dc2-n1).
"""
import json
import os
import re
import ssl
import subprocess
import sys
import time

from cassandra import ConsistencyLevel, Unavailable
from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile
from cassandra.policies import ConstantReconnectionPolicy, DCAwareRoundRobinPolicy

import clusterlib

DOCKER = os.environ.get("DOCKER_BIN", "/usr/bin/docker")
COMPOSE = os.environ.get("COMPOSE_BIN", "/usr/bin/docker-compose")
PROJECT = os.environ["COMPOSE_PROJECT"]
FILES = os.environ["COMPOSE_FILES"].split(":")
DC_CQL = {"dc1": os.environ["DC1_CQL"], "dc2": os.environ["DC2_CQL"]}
NODES = ["dc1-n1", "dc1-n2", "dc1-n3", "dc2-n1", "dc2-n2", "dc2-n3"]
DC = {n: n[:3] for n in NODES}
NETWORK = PROJECT + "_colonnade"
PLACEHOLDER = PROJECT + "_placeholder"
CUT_TABLE = os.environ.get("CUT_TABLE", "colonnade_compose_cut")
LQ, EQ, ALL = ConsistencyLevel.LOCAL_QUORUM, ConsistencyLevel.EACH_QUORUM, ConsistencyLevel.ALL
RUN = clusterlib.Run("compose_test", poll=0.5)
say, check, wait_until = RUN.say, RUN.check, RUN.wait_until
figures = {}


def run(args, timeout=120, check_rc=True):
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=timeout)
    if check_rc and p.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (" ".join(args), p.returncode,
                                                    p.stdout.strip()[-800:]))
    return p.stdout


def compose(*args, timeout=180):
    cmd = [COMPOSE, "-p", PROJECT]
    for f in FILES:
        cmd += ["-f", f]
    return run(cmd + list(args), timeout=timeout)


def container(node):
    return "%s_%s_1" % (PROJECT, node)


def ip_of(node):
    return run([DOCKER, "inspect", "-f",
                "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
                container(node)]).strip()


def health(node):
    return run([DOCKER, "inspect", "-f", "{{if .State.Health}}{{.State.Health.Status}}{{end}}",
                container(node)], check_rc=False).strip()


def admin(node, path, ip=None):
    return clusterlib.admin(ip or ip_of(node), path, timeout=3,
                            token=os.environ.get("COLONNADE_ADMIN_TOKEN"))


def all_healthy(nodes=NODES):
    return all(health(n) == "healthy" for n in nodes)


def view(node):
    """host_id -> (address, up, state, dc) as `node` sees the cluster."""
    st = admin(node, "/v1/status")
    return {e["host_id"]: (e["address"], e["up"], e["state"], e["dc"]) for e in st["nodes"]}


def everyone_sees(nodes_up, ids, down=()):
    """Every node in nodes_up sees ids of nodes_up UN and ids of `down` as down."""
    for n in nodes_up:
        v = view(n)
        for m in nodes_up:
            e = v.get(ids[m][0])
            if not e or not e[1] or e[2] != "NORMAL":
                return False
        for m in down:
            e = v.get(ids[m][0])
            if e and e[1]:
                return False
    return True


def identities():
    out = {}
    for n in NODES:
        info = admin(n, "/v1/info")
        out[n] = (info["host_id"], tuple(sorted(info["tokens"])))
    return out


def ring_of(node):
    r = admin(node, "/v1/ring")
    return {t["token"]: r["nodes"][t["node"]]["host_id"] for t in r["tokens"]}


def session(dc):
    host, port = DC_CQL[dc].rsplit(":", 1)
    prof = ExecutionProfile(
        load_balancing_policy=DCAwareRoundRobinPolicy(local_dc=dc, used_hosts_per_remote_dc=0),
        request_timeout=10)
    tls = None
    if os.environ.get("COMPOSE_CA"):
        # client_encryption_options is on: verify the chain (the driver also reaches the
        # nodes at container addresses, which the shared test certificate does not name)
        tls = ssl.create_default_context(cafile=os.environ["COMPOSE_CA"])
        tls.check_hostname = False
    c = Cluster([host], port=int(port), protocol_version=4, connect_timeout=5, ssl_context=tls,
                execution_profiles={EXEC_PROFILE_DEFAULT: prof},
                reconnection_policy=ConstantReconnectionPolicy(1.0), idle_heartbeat_interval=5)
    s = c.connect()
    return c, s


class Writer:
    """LOCAL_QUORUM (or any level) writes of distinct keys; remembers the acknowledged ones."""

    def __init__(self):
        self.acked = {}
        self.next_key = 0

    def write(self, s, dc, n, cl=LQ):
        ins = s.prepare("INSERT INTO ks.kv (k, v, dc) VALUES (?, ?, ?)")
        ins.consistency_level = cl
        errors = []
        keys = []
        for _ in range(n):
            k = self.next_key
            self.next_key += 1
            try:
                s.execute(ins, (k, k * 7 + 1, dc))
                self.acked[k] = k * 7 + 1
                keys.append(k)
            except Exception as e:
                errors.append("%d: %s" % (k, e))
        return keys, errors


def read_missing(s, keys, want, cl):
    sel = s.prepare("SELECT v FROM ks.kv WHERE k = ?")
    sel.consistency_level = cl
    missing = []
    for k in keys:
        try:
            row = s.execute(sel, (k,)).one()
            if row is None or row.v != want[k]:
                missing.append((k, None if row is None else row.v))
        except Exception as e:
            missing.append((k, "error: %s" % e))
    return missing


def stored_missing(node, keys, want):
    """Keys whose acknowledged value is not in `node`'s own store (admin /v1/dump)."""
    ip = ip_of(node)
    missing = []
    for k in keys:
        d = admin(node, "/v1/dump?keyspace=ks&table=kv&key=%d" % k, ip)
        vals = [c.get("value") for r in d.get("rows", []) for c in r.get("cells", [])
                if c.get("name") == "v" and not c.get("deleted")]
        if str(want[k]) not in [str(v) for v in vals]:
            missing.append(k)
    return missing


def status_lines(node):
    out = run([DOCKER, "exec", container(node), "colonnade", "status"])
    un = [l for l in out.splitlines() if l.startswith("UN ")]
    dcs = [l.split(":", 1)[1].strip() for l in out.splitlines() if l.startswith("Datacenter:")]
    return len(un), tuple(sorted(dcs))


def step_up():
    say("docker-compose up -d (all six at once, no ordering)")
    t = time.time()
    compose("up", "-d")
    ok = wait_until(all_healthy, 60, "all six healthy")
    figures["up_to_healthy_s"] = round(time.time() - t, 1)
    check(ok, "all 6 containers healthy %.1f s after up (limit 60 s)" % (time.time() - t))
    if not ok:
        raise SystemExit(1)
    # A container is healthy once it is UN in its own view and serves CQL; its peers may
    # still be a gossip round or two from seeing all six: wait for that within the same
    # 60 s from `up`.
    views = {}

    def every_view_six():
        views.update({n: status_lines(n) for n in NODES})
        return all(v == (6, ("dc1", "dc2")) for v in views.values())

    ok = wait_until(every_view_six, max(1.0, 60 - (time.time() - t)), "6 UN in every view")
    check(ok, "`colonnade status` in every container: 6 UN in dc1 and dc2, %.1f s after up "
          "(limit 60 s; %s)" % (time.time() - t, sorted(set(views.values()))))


def driver_view_true(sessions, what):
    """Every driver's host list names each container at its address today, in its own DC.

    Restarted containers may come back at each other's addresses; only the nodes'
    TOPOLOGY_CHANGE events (REMOVED_NODE for the old address, NEW_NODE for the new)
    bring a driver's view back, and a stale one sends a DC's LOCAL_QUORUM requests to
    a node of the other DC."""
    truth = {ip_of(n): DC[n] for n in NODES}
    seen = {}

    def agree():
        for name, s in sessions:
            hosts = {h.endpoint.address: h.datacenter for h in s.cluster.metadata.all_hosts()}
            # (the contact point is known by its published address, not in `truth`)
            seen[name] = {a: d for a, d in hosts.items() if a in truth and truth[a] != d}
            if seen[name]:
                return False
        return True
    check(wait_until(agree, 60, "the drivers' views"),
          "%s: every driver sees each node at its address in its DC (%s)"
          % (what, "; ".join("%s wrong %s" % (k, v) for k, v in seen.items() if v) or "all right"))


def moved_since(before, nodes):
    return ", ".join("%s %s->%s" % (n, before[n], ip_of(n)) for n in nodes
                     if ip_of(n) != before[n]) or "unchanged"


def step_kill_one_per_dc(ids, w, s1, s2):
    addr_before = {n: ip_of(n) for n in NODES}
    say("docker kill dc1-n3 and dc2-n3")
    run([DOCKER, "kill", container("dc1-n3"), container("dc2-n3")])
    live = ["dc1-n1", "dc1-n2", "dc2-n1", "dc2-n2"]
    wait_until(lambda: everyone_sees(live, ids, down=["dc1-n3", "dc2-n3"]), 40,
               "the killed nodes DN in every view")
    for dc, s in (("dc1", s1), ("dc2", s2)):
        keys, errs = w.write(s, dc, 100)
        check(not errs, "%s: 100 LOCAL_QUORUM writes with one node per DC killed (%d failed%s)"
              % (dc, len(errs), ": " + errs[0] if errs else ""))
        w.dc_keys[dc] += keys
        miss = read_missing(s, w.dc_keys[dc], w.acked, LQ)
        check(not miss, "%s: LOCAL_QUORUM reads of its %d acknowledged keys (%d wrong%s)"
              % (dc, len(w.dc_keys[dc]), len(miss), ": %s" % (miss[:3],) if miss else ""))
    say("docker start dc1-n3 dc2-n3")
    run([DOCKER, "start", container("dc1-n3"), container("dc2-n3")])
    check(wait_until(lambda: all_healthy() and everyone_sees(NODES, ids), 60,
                     "six UN again"), "killed nodes back: 6 UN in every view")
    say("addresses after the restart: %s" % moved_since(addr_before, ["dc1-n3", "dc2-n3"]))
    driver_view_true([("dc1", s1), ("dc2", s2)], "killed nodes back")


def step_stop_dc2(ids, w, s1):
    addr_before = {n: ip_of(n) for n in NODES}
    say("docker-compose stop dc2-n1 dc2-n2 dc2-n3")
    compose("stop", "dc2-n1", "dc2-n2", "dc2-n3")
    dc1 = ["dc1-n1", "dc1-n2", "dc1-n3"]
    check(wait_until(lambda: everyone_sees(dc1, ids, down=["dc2-n1", "dc2-n2", "dc2-n3"]), 30,
                     "dc2 DN in dc1's views"), "dc1 sees all of dc2 down")
    keys, errs = w.write(s1, "dc1", 100)
    w.dc_keys["dc1"] += keys
    check(not errs, "dc2 stopped: 100 LOCAL_QUORUM writes in dc1 succeed (%d failed%s)"
          % (len(errs), ": " + errs[0] if errs else ""))
    miss = read_missing(s1, keys, w.acked, LQ)
    check(not miss, "dc2 stopped: LOCAL_QUORUM reads in dc1 see them (%d wrong)" % len(miss))
    ins = s1.prepare("INSERT INTO ks.kv (k, v, dc) VALUES (?, ?, ?)")
    ins.consistency_level = EQ
    try:
        s1.execute(ins, (-1, -1, "dc1"))
        check(False, "dc2 stopped: EACH_QUORUM write fails with Unavailable (it succeeded)")
    except Unavailable as e:
        check("dc2" in str(e), "dc2 stopped: EACH_QUORUM write fails with Unavailable (%s)"
              % str(e)[:160])
    except Exception as e:
        check(False, "dc2 stopped: EACH_QUORUM write fails with Unavailable (got %r)" % e)
    say("docker-compose start dc2-n1 dc2-n2 dc2-n3")
    compose("start", "dc2-n1", "dc2-n2", "dc2-n3")
    check(wait_until(lambda: all_healthy() and everyone_sees(NODES, ids), 60, "six UN again"),
          "dc2 back: 6 UN in every view")
    now = identities()
    check(now == ids, "dc2 back: every node kept its host id and tokens")
    say("dc2 addresses after the restart: %s" % moved_since(addr_before, NODES[3:]))
    driver_view_true([("dc1", s1)], "dc2 back")
    return keys


def step_hints_then_all(what, missed, w, s1, dc="dc2"):
    """The writes `dc` missed reach every one of its replicas' own stores, then ALL reads see all."""
    t = time.time()
    left = {}
    stores = [n for n in NODES if DC[n] == dc]

    def delivered():
        for n in stores:
            left[n] = stored_missing(n, missed, w.acked)
        return not any(left.values())
    ok = wait_until(delivered, 60, "the missed writes in every %s store" % dc)
    check(ok, "%s: the %d writes %s missed arrive in every %s replica's store within 60 s "
          "(hints; still missing: %s)" % (what, len(missed), dc, dc,
                                           {n: len(v) for n, v in left.items()}))
    if ok:
        figures.setdefault("hints_delivered_s", []).append(round(time.time() - t, 1))
    miss = read_missing(s1, sorted(w.acked), w.acked, ALL)
    check(not miss, "%s: reads at ALL see every acknowledged write (%d keys, %d wrong%s)"
          % (what, len(w.acked), len(miss), ": %s" % (miss[:3],) if miss else ""))


def step_partition(ids, w, s1):
    dc2 = NODES[3:]
    ips = {n: ip_of(n) for n in dc2}
    ins = s1.prepare("INSERT INTO ks.kv (k, v, dc) VALUES (?, ?, ?)")
    ins.consistency_level = LQ
    sel = s1.prepare("SELECT v FROM ks.kv WHERE k = ?")
    sel.consistency_level = LQ
    say("docker network disconnect %s for 30 s: %s" % (NETWORK, ", ".join(dc2)))
    for n in dc2:
        run([DOCKER, "network", "disconnect", NETWORK, container(n)])
    end = time.time() + 30
    done, errs, written = 0, [], []
    while time.time() < end:
        k = w.next_key
        w.next_key += 1
        try:
            s1.execute(ins, (k, k * 7 + 1, "dc1"))
            w.acked[k] = k * 7 + 1
            written.append(k)
            row = s1.execute(sel, (k,)).one()
            if row is None or row.v != k * 7 + 1:
                errs.append("%d read back %s" % (k, row))
            done += 1
        except Exception as e:
            errs.append("%d: %s" % (k, e))
        time.sleep(0.05)
    w.dc_keys["dc1"] += written
    say("dc2 cut off: its nodes have no network at all (not even to each other), so no "
        "client reaches dc2 and dc2 cannot form its own quorum: only dc1 is checked")
    check(not errs, "dc2 cut off: dc1 served LOCAL_QUORUM writes and reads throughout "
          "(%d ok, %d failed%s)" % (done, len(errs), ": " + errs[0] if errs else ""))
    say("docker network connect %s back at the same addresses" % NETWORK)
    for n in dc2:
        run([DOCKER, "network", "connect", "--ip", ips[n], "--alias", n, NETWORK, container(n)])
    check(wait_until(lambda: everyone_sees(NODES, ids), 60, "six UN after the partition"),
          "partition healed: 6 UN in every view")
    return written


NFT = os.environ.get("NFT_CMD", "nft").split()


def nft(script):
    subprocess.run(NFT + ["-f", "-"], input=script, text=True, check=True,
                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def step_dc_cut(ids, w):
    """The link between the DCs cut (each DC whole inside): both serve LOCAL_QUORUM throughout."""
    ips = {n: ip_of(n) for n in NODES}
    d1 = ", ".join(ips[n] for n in NODES[:3])
    d2 = ", ".join(ips[n] for n in NODES[3:])
    c1, s1 = session("dc1")
    c2, s2 = session("dc2")
    say("cut dc1 <-> dc2 for 30 s (nftables on the compose bridge; each DC stays whole)")
    nft("table bridge %s {\n chain cut {\n  type filter hook forward priority 0; policy accept;\n"
        "  ip saddr { %s } ip daddr { %s } counter drop\n"
        "  ip saddr { %s } ip daddr { %s } counter drop\n }\n}\n" % (CUT_TABLE, d1, d2, d2, d1))
    written = {"dc1": [], "dc2": []}
    errs = {"dc1": [], "dc2": []}
    try:
        stmts = {}
        for dc, s in (("dc1", s1), ("dc2", s2)):
            ins = s.prepare("INSERT INTO ks.kv (k, v, dc) VALUES (?, ?, ?)")
            ins.consistency_level = LQ
            sel = s.prepare("SELECT v FROM ks.kv WHERE k = ?")
            sel.consistency_level = LQ
            stmts[dc] = (s, ins, sel)
        end = time.time() + 30
        while time.time() < end:
            for dc in ("dc1", "dc2"):
                s, ins, sel = stmts[dc]
                k = w.next_key
                w.next_key += 1
                try:
                    s.execute(ins, (k, k * 7 + 1, dc))
                    w.acked[k] = k * 7 + 1
                    written[dc].append(k)
                    row = s.execute(sel, (k,)).one()
                    if row is None or row.v != k * 7 + 1:
                        errs[dc].append("%d read back %s" % (k, row))
                except Exception as e:
                    errs[dc].append("%d: %s" % (k, e))
            time.sleep(0.05)
        for dc in ("dc1", "dc2"):
            check(not errs[dc], "DCs cut apart: %s served LOCAL_QUORUM writes and reads "
                  "throughout (%d ok, %d failed%s)" % (dc, len(written[dc]) - len(errs[dc]),
                                                      len(errs[dc]),
                                                      ": " + errs[dc][0] if errs[dc] else ""))
        # Proof the DCs were apart: frames were dropped both ways, and the last writes
        # of each DC are in none of the other DC's stores (read from the host, which
        # the cut leaves alone).  Who sees whom down is only reported: conviction
        # takes ~20 s at the default gossip interval, longer on a loaded machine.
        out = subprocess.run(NFT + ["list", "table", "bridge", CUT_TABLE],
                             stdout=subprocess.PIPE, text=True).stdout
        drops = [int(x) for x in re.findall(r"counter packets (\d+)", out)]
        leaked = []
        for dc, other in (("dc1", "dc2"), ("dc2", "dc1")):
            last = written[dc][-20:]
            for n in [m for m in NODES if DC[m] == other]:
                got = len(last) - len(stored_missing(n, last, w.acked))
                if got:
                    leaked.append("%s has %d of %s's last %d" % (n, got, dc, len(last)))
        check(len(drops) == 2 and min(drops) > 0 and not leaked,
              "the cut was real: frames dropped each way %s, no write crossed (%s)"
              % (drops, "; ".join(leaked) or "none did"))
        v1, v2 = view("dc1-n1"), view("dc2-n1")
        say("after 30 s dc1-n1 sees %d of dc2 down, dc2-n1 sees %d of dc1 down"
            % (sum(not v1[ids[m][0]][1] for m in NODES[3:]),
               sum(not v2[ids[m][0]][1] for m in NODES[:3])))
    finally:
        subprocess.run(NFT + ["delete", "table", "bridge", CUT_TABLE],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        c1.shutdown()
        c2.shutdown()
    say("the link between the DCs is back")
    check(wait_until(lambda: everyone_sees(NODES, ids), 60, "six UN after the cut"),
          "cut healed: 6 UN in every view")
    return written


def step_recreate(ids, w):
    ring0 = {n: ring_of(n) for n in NODES}
    addr0 = {n: ip_of(n) for n in NODES}
    had = set(w.acked) - set(stored_missing("dc1-n2", sorted(w.acked), w.acked))
    # Docker hands a freed address out again, so something else takes the old one
    # while dc1-n2 is away (as on a busy network): a lone node of another cluster,
    # which the others must refuse at handshake if they still dial that address.
    compose("stop", "dc1-n2")
    image = os.environ.get("COLONNADE_IMAGE", "colonnade:local")
    run([DOCKER, "run", "-d", "--name", PLACEHOLDER, "--network", NETWORK,
         "--ip", addr0["dc1-n2"], "--label", "com.docker.compose.project=" + PROJECT,
         "-e", "COLONNADE_CLUSTER_NAME=placeholder", image])
    say("docker-compose up -d --force-recreate dc1-n2 (was at %s, now taken)" % addr0["dc1-n2"])
    compose("up", "-d", "--force-recreate", "--no-deps", "dc1-n2")
    ok = wait_until(lambda: all_healthy() and everyone_sees(NODES, ids), 60, "six UN")
    check(ok, "recreated dc1-n2: 6 UN in every view")
    new = ip_of("dc1-n2")
    check(new != addr0["dc1-n2"], "recreated dc1-n2 has a new address (%s -> %s)"
          % (addr0["dc1-n2"], new))
    check(identities() == ids, "recreated dc1-n2 kept its host id and tokens (its volume)")
    rings = {n: ring_of(n) for n in NODES}
    check(all(rings[n] == ring0[n] for n in NODES),
          "every node's ring maps every token to the same host id as before")
    places = True
    for n in NODES:
        v = view(n)
        for m in NODES:
            want = new if m == "dc1-n2" else addr0[m]
            if v[ids[m][0]][0] != want:
                places = False
                say("  %s sees %s at %s, want %s" % (n, m, v[ids[m][0]][0], want))
    check(places, "every node sees the other five at their old addresses and dc1-n2 at its new one")
    lost = stored_missing("dc1-n2", sorted(had), w.acked)
    check(not lost, "recreated dc1-n2 still stores all %d rows it had (%d lost)"
          % (len(had), len(lost)))
    run([DOCKER, "rm", "-f", PLACEHOLDER])


def step_down():
    say("docker-compose down -v")
    compose("down", "-v", "--timeout", "10")
    label = "label=com.docker.compose.project=" + PROJECT
    left = (run([DOCKER, "ps", "-aq", "--filter", label]) +
            run([DOCKER, "volume", "ls", "-q", "--filter", label]) +
            run([DOCKER, "network", "ls", "-q", "--filter", label])).split()
    check(not left, "down -v leaves no container, volume or network (%s)" % left)


def main():
    w = Writer()
    w.dc_keys = {"dc1": [], "dc2": []}
    step_up()
    ids = identities()
    c1, s1 = session("dc1")
    c2, s2 = session("dc2")
    s1.execute("CREATE KEYSPACE ks WITH replication = {'class': 'NetworkTopologyStrategy', "
               "'dc1': 3, 'dc2': 3}")
    s1.execute("CREATE TABLE ks.kv (k int PRIMARY KEY, v int, dc text)")
    for dc, s in (("dc1", s1), ("dc2", s2)):
        t = time.time()
        keys, errs = w.write(s, dc, 200)
        figures["%s_serial_lq_writes_per_s" % dc] = round(len(keys) / (time.time() - t))
        w.dc_keys[dc] += keys
        check(not errs, "%s: 200 LOCAL_QUORUM writes through the %s-aware driver (%d failed)"
              % (dc, dc, len(errs)))
    step_kill_one_per_dc(ids, w, s1, s2)
    c2.shutdown()
    missed = step_stop_dc2(ids, w, s1)
    step_hints_then_all("dc2 stopped and started", missed, w, s1)
    missed = step_partition(ids, w, s1)
    step_hints_then_all("after the partition", missed, w, s1)
    c1.shutdown()
    written = step_dc_cut(ids, w)
    c1, s1 = session("dc1")
    step_hints_then_all("after the cut (dc1's writes)", written["dc1"], w, s1, "dc2")
    step_hints_then_all("after the cut (dc2's writes)", written["dc2"], w, s1, "dc1")
    c1.shutdown()
    step_recreate(ids, w)
    step_down()
    say("figures: %s" % json.dumps(figures))
    if RUN.failures:
        say("%d FAILED: %s" % (len(RUN.failures), "; ".join(RUN.failures)))
        return 1
    say("all checks passed")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except SystemExit:
        raise
    except Exception as e:
        say("FAIL (aborted): %r" % e)
        sys.exit(1)
