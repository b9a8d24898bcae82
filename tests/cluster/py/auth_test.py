"""PasswordAuthenticator end to end (driven by tests/cluster/auth_test.sh).

The python driver logs in with PlainTextAuthProvider; a wrong password gets
AuthenticationError 0x0100 and no data; a raw native-protocol client shows
that nothing but AUTH_RESPONSE is served before the login, that failed logins
are throttled per source address (another address still logs in), and
measures logins per second (the shell script runs it with the credentials
cache on and off).
"""
import os
import socket
import struct
import sys
import time

from cassandra import AuthenticationFailed
from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import Cluster, NoHostAvailable

from clusterlib import cql_frame as frame, cql_string as string, read_cql_frame

HOST = os.environ["CQL_HOST"]
PW = os.environ["COLONNADE_AUTH_SUPERUSER_PASSWORD"]
MODE = sys.argv[1] if len(sys.argv) > 1 else "full"
NET = os.environ.get("COLONNADE_TEST_NET", "127.0.0")


def read_frame(s):
    _, _, _, op, body = read_cql_frame(s)
    return op, body


def raw_login(role, pw, src=None, query_first=False):
    """(opcode of the answer to AUTH_RESPONSE, its body); 0x10 = AUTH_SUCCESS, 0x00 = ERROR."""
    s = socket.create_connection((HOST, 9042), timeout=5, source_address=(src, 0) if src else None)
    try:
        s.sendall(frame(0x01, struct.pack(">H", 1) + string("CQL_VERSION") + string("3.0.0")))
        op, body = read_frame(s)
        assert op == 0x03, "STARTUP answered with opcode %#x, want AUTHENTICATE" % op
        assert b"PasswordAuthenticator" in body, body
        if query_first:
            s.sendall(frame(0x07, struct.pack(">i", 29) + b"SELECT * FROM system.local" + b"   "[:0]
                            + struct.pack(">HB", 1, 0)))
            op, body = read_frame(s)
            return op, body
        tok = b"\0" + role.encode() + b"\0" + pw.encode()
        s.sendall(frame(0x0F, struct.pack(">i", len(tok)) + tok))
        return read_frame(s)
    finally:
        s.close()


def error_code(body):
    return struct.unpack(">i", body[:4])[0]


def say(*a):
    print("auth_test:", *a, flush=True)


def logins_per_second(seconds=3.0):
    n, end = 0, time.time() + seconds
    while time.time() < end:
        op, _ = raw_login("cassandra", PW)
        assert op == 0x10
        n += 1
    return n / seconds


def query_latency_under_logins(seconds=3.0):
    """Slowest of many queries on a logged-in session while two threads log in
    without the cache (each login one argon2id): the hashes run on password
    threads, so the loop answers queries meanwhile."""
    import threading
    c = Cluster([HOST], auth_provider=PlainTextAuthProvider("cassandra", PW), protocol_version=4)
    s = c.connect()
    stop = time.time() + seconds
    logins = [0]

    def hammer():
        while time.time() < stop:
            op, _ = raw_login("cassandra", PW)
            assert op == 0x10
            logins[0] += 1
    th = [threading.Thread(target=hammer) for _ in range(2)]
    for t in th:
        t.start()
    lat = []
    while time.time() < stop:
        t0 = time.time()
        s.execute("SELECT release_version FROM system.local")
        lat.append((time.time() - t0) * 1000)
    for t in th:
        t.join()
    c.shutdown()
    lat.sort()
    return lat[len(lat) // 2], lat[len(lat) * 99 // 100], lat[-1], len(lat), logins[0]


if MODE == "bench":
    say("logins/s (%s): %.0f" % (os.environ.get("CACHE", "?"), logins_per_second()))
    sys.exit(0)

if MODE == "stall":
    p50, p99, worst, n, logins = query_latency_under_logins()
    say("%d queries during %d uncached logins (argon2id each): p50 %.1f ms, p99 %.1f ms, "
        "max %.1f ms" % (n, logins, p50, p99, worst))
    # a hash on the loop would hold every query behind it for ~80 ms
    assert p99 < 40, "p99 %.1f ms: queries wait for hashes" % p99
    sys.exit(0)

# 1. the driver logs in, writes and reads
c = Cluster([HOST], auth_provider=PlainTextAuthProvider("cassandra", PW), protocol_version=4)
s = c.connect()
s.execute("CREATE KEYSPACE IF NOT EXISTS a WITH replication = {'class': 'SimpleStrategy', "
          "'replication_factor': 1}")
s.execute("CREATE TABLE IF NOT EXISTS a.t (k int PRIMARY KEY, v text)")
s.execute("INSERT INTO a.t (k, v) VALUES (1, 'secret row')")
assert s.execute("SELECT v FROM a.t WHERE k = 1").one().v == "secret row"
c.shutdown()
say("python driver with PlainTextAuthProvider: logged in, wrote and read")

# 2. a wrong password: AuthenticationError 0x0100, no session, no data
c = Cluster([HOST], auth_provider=PlainTextAuthProvider("cassandra", "wrongpw"), protocol_version=4)
try:
    c.connect()
    raise SystemExit("auth_test: FAIL: a wrong password got a session")
except NoHostAvailable as e:
    errs = list(e.errors.values())
    assert errs and isinstance(errs[0], AuthenticationFailed), e
    assert "code=0100" in str(errs[0]) and "incorrect" in str(errs[0]), errs[0]
    say("wrong password refused:", str(errs[0])[:160])
finally:
    c.shutdown()

# 3. raw: a query before the login is refused; a bad token is 0x0100
op, body = raw_login("cassandra", PW, query_first=True)
assert op == 0x00 and b"expecting AUTH_RESPONSE" in body, (op, body)
op, body = raw_login("nobody", "x", src=NET + ".201")
assert op == 0x00 and error_code(body) == 0x0100, (op, body)
say("query before login refused; unknown role 0x0100")

# 4. throttling per source: 5 failures from one address, then refused unchecked
src = NET + ".202"
for i in range(5):
    op, body = raw_login("cassandra", "bad%d" % i, src=src)
    assert op == 0x00 and error_code(body) == 0x0100
op, body = raw_login("cassandra", PW, src=src)
assert op == 0x00 and b"Too many failed logins" in body, (op, body)
op, _ = raw_login("cassandra", PW, src=NET + ".203")
assert op == 0x10, "another address still logs in"
say("6th login from %s throttled (even with the right password); %s.203 logs in" % (src, NET))
