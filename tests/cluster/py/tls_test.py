"""client_encryption_options end to end (driven by tests/cluster/tls_test.sh).

  required  TLS only: the python driver connects with ssl_context (the CA file,
            hostname checked against the certificate's IP SAN), writes and
            reads; a plaintext driver gets the server's "requires TLS" error;
            a driver trusting another CA fails the handshake; a TCP client that
            never starts the handshake is closed within the handshake timeout;
            SIGHUP with new certificate files: a new connection sees the new
            certificate while the session opened before keeps working.
  clientauth  require_client_auth with optional plaintext: without a client
            certificate the handshake fails; with one (signed by the CA) the
            driver works; a plaintext driver works too (optional).
"""
import os
import signal
import socket
import ssl
import subprocess
import sys
import time

from cassandra.cluster import Cluster, NoHostAvailable

HOST = os.environ["CQL_HOST"]
CERTS = os.environ["CERTS"]
MODE = sys.argv[1]


def fail(msg):
    print("tls_test.py: FAIL: " + msg)
    sys.exit(1)


def context(ca="ca.pem", client=False):
    ctx = ssl.create_default_context(cafile=os.path.join(CERTS, ca))
    if client:
        ctx.load_cert_chain(os.path.join(CERTS, "client.pem"), os.path.join(CERTS, "client.key"))
    return ctx


def session(ctx):
    c = Cluster([HOST], ssl_context=ctx, protocol_version=4, connect_timeout=5)
    return c, c.connect()


def expect_refusal(ctx, what, needle):
    try:
        c, _ = session(ctx)
        c.shutdown()
    except NoHostAvailable as e:
        text = str(e.errors)
        if needle not in text:
            fail("%s: refused, but not for the expected reason: %s" % (what, text))
        print("ok: %s refused: %s" % (what, text[:200]))
        return
    fail(what + " connected")


def peer_cn(ctx):
    with socket.create_connection((HOST, 9042), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname=HOST) as t:
            return dict(x[0] for x in t.getpeercert()["subject"])["commonName"]


def write_read(s, k, v):
    s.execute("INSERT INTO tls.t (k, v) VALUES (%s, %s)", (k, v))
    got = list(s.execute("SELECT v FROM tls.t WHERE k = %s", (k,)))
    if [r.v for r in got] != [v]:
        fail("read back %r, wanted %r" % (got, v))


def required():
    c, s = session(context())
    s.execute("CREATE KEYSPACE IF NOT EXISTS tls WITH replication = "
              "{'class': 'SimpleStrategy', 'replication_factor': 1}")
    s.execute("CREATE TABLE IF NOT EXISTS tls.t (k int PRIMARY KEY, v text)")
    write_read(s, 1, "over-tls")
    print("ok: python driver over TLS (CA file, hostname checked): wrote and read")
    expect_refusal(None, "plaintext python driver", "requires TLS")
    expect_refusal(context("rogue-ca.pem"), "driver trusting another CA", "CERTIFICATE_VERIFY_FAILED")
    # A client that connects and never says anything: closed at the handshake deadline.
    t0 = time.monotonic()
    with socket.create_connection((HOST, 9042), timeout=20) as raw:
        if raw.recv(1) != b"":
            fail("silent client got bytes")
    waited = time.monotonic() - t0
    if not 9 <= waited <= 15:
        fail("silent client closed after %.1f s, wanted the 10 s handshake timeout" % waited)
    print("ok: a client that never starts the handshake is closed after %.1f s" % waited)
    # SIGHUP: new files, new certificate for new connections, old session untouched.
    before = peer_cn(context())
    subprocess.run(["bash", os.path.join(os.path.dirname(__file__), "..", "tls", "make_certs.sh"),
                    "--renew", CERTS, HOST], check=True)
    os.kill(int(os.environ["CQL_PID"]), signal.SIGHUP)
    after = before
    for _ in range(50):
        after = peer_cn(context())
        if after != before:
            break
        time.sleep(0.1)
    if after == before:
        fail("SIGHUP: new connections still get %s" % before)
    write_read(s, 2, "same-session-after-reload")
    print("ok: SIGHUP reloaded the certificate (%s -> %s); the open session goes on" % (before, after))
    c.shutdown()


def clientauth():
    expect_refusal(context(), "TLS driver without a client certificate", "")
    c, s = session(context(client=True))
    write_read(s, 3, "with-client-cert")
    c.shutdown()
    print("ok: python driver with a client certificate (require_client_auth)")
    c, s = session(None)
    write_read(s, 4, "plaintext-optional")
    c.shutdown()
    print("ok: plaintext python driver on the same port (optional: true)")


{"required": required, "clientauth": clientauth}[MODE]()
print("tls_test.py %s: ok" % MODE)
