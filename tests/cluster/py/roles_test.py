"""Roles and permissions on a real 3-node cluster (driven by tests/cluster/roles_test.sh).

PasswordAuthenticator + CassandraAuthorizer, roles in the replicated system_auth:
a role created through node 1 logs in through node 3; a wrong password gets
AuthenticationError 0x0100 and no data; a role without SELECT gets Unauthorized
0x2100 with Cassandra's message; GRANT (directly or through a granted role) makes
it work within the permissions cache's validity; LIST ROLES / PERMISSIONS answer
Cassandra's columns; misuse is refused with Cassandra's wording; an ALTER KEYSPACE
system_auth below RF 3 is answered with a warning.
"""
import os
import sys
import time

from cassandra import AuthenticationFailed, ConsistencyLevel, InvalidRequest, Unauthorized
from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import Cluster, NoHostAvailable
from cassandra.policies import WhiteListRoundRobinPolicy
from cassandra.query import SimpleStatement

HOSTS = sys.argv[1].split(",")
PW = os.environ["ROLES_SUPERUSER_PASSWORD"]
VALIDITY = float(os.environ.get("ROLES_VALIDITY_S", "1.5"))


def say(*a):
    print("roles_test:", *a, flush=True)


def session(host, user, pw):
    c = Cluster([host], auth_provider=PlainTextAuthProvider(user, pw), protocol_version=4,
                load_balancing_policy=WhiteListRoundRobinPolicy([host]))
    return c, c.connect()


def refused(s, q, exc, text):
    try:
        s.execute(q)
    except exc as e:
        assert text in str(e), "%s: %s" % (q, e)
        return str(e)
    raise SystemExit("roles_test: FAIL: %s was not refused" % q)


def wait_allowed(s, q, limit):
    t0 = time.time()
    while True:
        try:
            return s.execute(q), time.time() - t0
        except Unauthorized:
            if time.time() - t0 > limit:
                raise
            time.sleep(0.05)


c1, su = session(HOSTS[0], "cassandra", PW)
su.execute("CREATE KEYSPACE IF NOT EXISTS ks WITH replication = "
           "{'class': 'NetworkTopologyStrategy', 'dc1': 3}")
su.execute("CREATE TABLE IF NOT EXISTS ks.t (k int PRIMARY KEY, v text)")
# at ALL: bob reads it through node 3 at the driver's LOCAL_ONE
su.execute(SimpleStatement("INSERT INTO ks.t (k, v) VALUES (1, 'secret row')",
                           consistency_level=ConsistencyLevel.ALL))
su.execute("CREATE ROLE bob WITH PASSWORD = 'bob-pw' AND LOGIN = true")
say("superuser (from the operator's password) on node 1 made ks.t and role bob")

# 1. bob logs in through node 3 (the role went through system_auth, RF 3)
c3, bob = session(HOSTS[2], "bob", "bob-pw")
say("bob created via node 1 logged in via node 3 (python driver, PlainTextAuthProvider)")

# 2. a wrong password through node 2: AuthenticationError 0x0100, no session
c = Cluster([HOSTS[1]], auth_provider=PlainTextAuthProvider("bob", "wrong"), protocol_version=4)
try:
    c.connect()
    raise SystemExit("roles_test: FAIL: a wrong password got a session")
except NoHostAvailable as e:
    err = list(e.errors.values())[0]
    assert isinstance(err, AuthenticationFailed) and "code=0100" in str(err), err
    say("wrong password:", str(err)[:150])
finally:
    c.shutdown()

# 3. no SELECT on ks.t: Unauthorized 0x2100, Cassandra's message
msg = refused(bob, "SELECT v FROM ks.t WHERE k = 1", Unauthorized,
              "User bob has no SELECT permission on <table ks.t> or any of its parents")
assert "code=2100" in msg, msg
say("bob without SELECT:", msg[:160])

# 4. GRANT through node 1; bob on node 3 sees it within the cache's validity
su.execute("GRANT SELECT ON TABLE ks.t TO bob")
rows, took = wait_allowed(bob, "SELECT v FROM ks.t WHERE k = 1", VALIDITY + 3)
assert rows.one().v == "secret row"
say("GRANT SELECT via node 1: bob reads via node 3 after %.2f s (validity %.1f s)"
    % (took, VALIDITY))
assert took <= VALIDITY + 3

refused(bob, "INSERT INTO ks.t (k, v) VALUES (2, 'x')", Unauthorized,
        "User bob has no MODIFY permission on <table ks.t> or any of its parents")

# 5. inheritance: MODIFY on the keyspace to a role granted to bob
su.execute("CREATE ROLE writers")
su.execute("GRANT MODIFY ON KEYSPACE ks TO writers")
su.execute("GRANT writers TO bob")
_, took = wait_allowed(bob, "INSERT INTO ks.t (k, v) VALUES (2, 'by bob')", VALIDITY + 3)
say("GRANT writers TO bob (MODIFY ON KEYSPACE ks): bob writes after %.2f s" % took)
su.execute("REVOKE writers FROM bob")
t0 = time.time()
while True:
    try:
        bob.execute("INSERT INTO ks.t (k, v) VALUES (3, 'x')")
    except Unauthorized:
        break
    assert time.time() - t0 < VALIDITY + 3, "REVOKE not seen on node 3"
    time.sleep(0.05)
say("REVOKE writers FROM bob: refused again after %.2f s" % (time.time() - t0))

# 6. LIST ROLES / LIST PERMISSIONS: Cassandra's columns
rs = su.execute("LIST ROLES")
assert rs.column_names == ["role", "super", "login", "options"], rs.column_names
roles = {(r.role, r.super, r.login) for r in rs}
assert roles == {("bob", False, True), ("cassandra", True, True), ("writers", False, False)}, roles
say("LIST ROLES:", sorted(roles))
rs = su.execute("LIST ALL PERMISSIONS OF bob")
assert rs.column_names == ["role", "username", "resource", "permission"], rs.column_names
perms = [(r.role, r.username, r.resource, r.permission) for r in rs]
assert perms == [("bob", "bob", "<table ks.t>", "SELECT")], perms
say("LIST ALL PERMISSIONS OF bob:", perms)
rs = su.execute("LIST MODIFY PERMISSION ON TABLE ks.t")
got = sorted((r.role, r.resource) for r in rs)
assert ("writers", "<keyspace ks>") in got and ("cassandra", "<table ks.t>") in got, got
say("LIST MODIFY ON TABLE ks.t (with its parents):", got)
rs = bob.execute("LIST ROLES")
assert sorted(r.role for r in rs) == ["bob"], "bob sees only his roles"

# 7. misuse, Cassandra's wording
refused(su, "CREATE ROLE bob", InvalidRequest, "bob already exists")
refused(su, "GRANT SELECT ON TABLE ks.nope TO bob", InvalidRequest,
        "Resource <table ks.nope> doesn't exist")
refused(su, "GRANT SELECT ON TABLE ks.t TO nobody", InvalidRequest, "Role nobody doesn't exist")
refused(su, "GRANT DESCRIBE ON KEYSPACE ks TO bob", InvalidRequest,
        "Resource type DataResource does not support the requested permissions: DESCRIBE")
refused(su, "DROP ROLE nobody", InvalidRequest, "nobody doesn't exist")
refused(su, "DROP ROLE cassandra", InvalidRequest, "Cannot DROP primary role for current login")
refused(su, "ALTER ROLE cassandra WITH SUPERUSER = false", Unauthorized,
        "You aren't allowed to alter your own superuser status")
refused(su, "GRANT bob TO bob", InvalidRequest, "bob is a member of bob")
refused(su, "DROP KEYSPACE system_auth", Unauthorized, "Cannot DROP <keyspace system_auth>")
refused(su, "DROP TABLE system_auth.roles", Unauthorized, "Cannot DROP <table system_auth.roles>")
refused(bob, "CREATE ROLE x", Unauthorized,
        "User bob has no CREATE permission on <all roles> or any of its parents")
refused(bob, "CREATE ROLE x WITH SUPERUSER = true", Unauthorized, "")
refused(bob, "LIST ALL PERMISSIONS", Unauthorized,
        "You are not authorized to view everyone's permissions")
refused(bob, "ALTER ROLE bob WITH SUPERUSER = true", Unauthorized,
        "You aren't allowed to alter your own superuser status")
bob.execute("ALTER ROLE bob WITH PASSWORD = 'bob-pw2'")  # one's own password: allowed
c3.shutdown()
c3, bob = session(HOSTS[2], "bob", "bob-pw2")
say("misuse refused with Cassandra's words; bob changed his own password and logs in with it")

# 8. system_auth's replication: below 3 per DC, a warning on the answer
rs = su.execute("ALTER KEYSPACE system_auth WITH replication = "
                "{'class': 'NetworkTopologyStrategy', 'dc1': 1}")
warn = " ".join(rs.response_future.warnings or [])
assert "system_auth has replication factor 1 in datacenter dc1 (3 nodes)" in warn, warn
say("ALTER KEYSPACE system_auth to RF 1, warning:", warn[:140])
rs = su.execute("ALTER KEYSPACE system_auth WITH replication = "
                "{'class': 'NetworkTopologyStrategy', 'dc1': 3}")
assert not rs.response_future.warnings, rs.response_future.warnings

# 9. a dropped table's grants go with it: a new table of that name starts with none
su.execute("CREATE TABLE ks.tmp (k int PRIMARY KEY)")
su.execute("GRANT SELECT ON TABLE ks.tmp TO bob")
assert len(list(su.execute("LIST ALL PERMISSIONS OF bob"))) == 2
su.execute("DROP TABLE ks.tmp")
su.execute("CREATE TABLE ks.tmp (k int PRIMARY KEY)")
perms = [(r.resource, r.permission) for r in su.execute("LIST ALL PERMISSIONS OF bob")]
assert perms == [("<table ks.t>", "SELECT")], perms
say("DROP TABLE revoked bob's SELECT on it; the re-created table grants nothing:", perms)

# 10. the first superuser exists once
n = len(list(su.execute("SELECT role FROM system_auth.roles WHERE role = 'cassandra'")))
assert n == 1
c1.shutdown()
c3.shutdown()
say("python driver part ok")
