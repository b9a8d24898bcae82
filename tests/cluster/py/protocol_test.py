"""The CQL server against bad and unusual frames, with raw sockets.

Run by tests/cluster/py_driver_test.sh with CQL_HOST set.  Checks that a
garbage, an oversized and a truncated frame each get a protocol error (0x000A)
while the node keeps serving other connections; version negotiation; many
streams in flight on one connection; EVENT delivery to a REGISTERed connection.
"""
import os
import socket
import struct

from clusterlib import check_or_exit as check, passed
from clusterlib import cql_frame as frame, cql_long_string as long_string
from clusterlib import cql_string as string, cql_string_map as string_map
from clusterlib import read_cql_frame as read_frame

HOST = os.environ.get("CQL_HOST", "127.0.0.1")
PORT = 9042


def conn():
    s = socket.create_connection((HOST, PORT), timeout=10)
    return s


def closed(s):
    s.settimeout(5)
    try:
        return s.recv(1) == b""
    except (ConnectionResetError, socket.timeout):
        return True


def error_of(body):
    code = struct.unpack(">i", body[:4])[0]
    n = struct.unpack(">H", body[4:6])[0]
    return code, body[6:6 + n].decode()


def ready_conn():
    s = conn()
    s.sendall(frame(0x01, string_map({"CQL_VERSION": "3.0.0"})))
    v, f, st, op, body = read_frame(s)
    assert op == 0x02, "STARTUP -> READY"
    return s


def query(s, q, stream=1, cl=1):
    s.sendall(frame(0x07, long_string(q) + struct.pack(">HB", cl, 0), stream=stream))


def still_serving():
    s = ready_conn()
    query(s, "SELECT release_version FROM system.local", stream=5)
    v, f, st, op, body = read_frame(s)
    s.close()
    return op == 0x08 and st == 5


# version negotiation: v5, DSE v2, v3 -> ERROR 0x000A in a v4 frame, same stream, closed
for ver in (5, 0x42, 3):
    s = conn()
    s.sendall(frame(0x05, stream=7, version=ver))
    v, f, st, op, body = read_frame(s)
    code, msg = error_of(body)
    check(v == 0x84 and st == 7 and op == 0 and code == 0x0A and
          ("Invalid or unsupported protocol version (%d)" % ver) in msg,
          "version 0x%02x refused: %s" % (ver, msg))
    check(closed(s), "connection closed after the version error")

s = conn()
s.sendall(frame(0x05, stream=3))
v, f, st, op, body = read_frame(s)
check(op == 0x06 and b"CQL_VERSION" in body and b"COMPRESSION" in body, "OPTIONS -> SUPPORTED")
query(s, "SELECT * FROM system.local", stream=4)
v, f, st, op, body = read_frame(s)
check(op == 0 and error_of(body)[0] == 0x0A, "QUERY before STARTUP -> protocol error")
s.close()

# garbage
s = conn()
s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
v, f, st, op, body = read_frame(s)
check(op == 0 and error_of(body)[0] == 0x0A, "garbage -> protocol error: %s" % error_of(body)[1])
check(closed(s), "garbage connection closed")
check(still_serving(), "node still serves after garbage")

# oversized: a header announcing 300 MB, and one just over 16 MiB
for size in (300 * 1024 * 1024, 16 * 1024 * 1024 + 1):
    s = ready_conn()
    s.sendall(struct.pack(">BBhBi", 4, 0, 9, 0x07, size) + b"x" * 100)
    v, f, st, op, body = read_frame(s)
    code, msg = error_of(body)
    check(op == 0 and code == 0x0A and st == 9, "oversized %d -> protocol error: %s" % (size, msg))
    check(closed(s), "oversized connection closed")
check(still_serving(), "node still serves after oversized frames")

# truncated: a QUERY body shorter than its [long string] claims
s = ready_conn()
body = struct.pack(">i", 1000) + b"SELECT"
s.sendall(frame(0x07, body, stream=11))
v, f, st, op, body = read_frame(s)
check(op == 0 and st == 11 and error_of(body)[0] == 0x0A,
      "truncated body -> protocol error: %s" % error_of(body)[1])
query(s, "SELECT key FROM system.local", stream=12)
v, f, st, op, body = read_frame(s)
check(op == 0x08 and st == 12, "same connection still usable after a malformed body")
s.close()

# truncated frame on the wire: a header promising 100 bytes, then silence
hang = ready_conn()
hang.sendall(struct.pack(">BBhBi", 4, 0, 13, 0x07, 100) + b"\x00\x00")
check(still_serving(), "node serves others while a frame is half-sent")
hang.close()
check(still_serving(), "node serves others after the half-sent frame's peer left")

# many streams in flight on one connection
s = ready_conn()
payload = b"".join(frame(0x07, long_string("SELECT key FROM system.local") +
                         struct.pack(">HB", 1, 0), stream=i) for i in range(1, 201))
s.sendall(payload)
streams = set()
for _ in range(200):
    v, f, st, op, body = read_frame(s)
    if op == 0x08:
        streams.add(st)
check(streams == set(range(1, 201)), "200 pipelined requests answered with their stream ids")
s.close()

# events: REGISTER on one connection, DDL on another
ev = ready_conn()
reg = struct.pack(">H", 3) + string("SCHEMA_CHANGE") + string("STATUS_CHANGE") + string("TOPOLOGY_CHANGE")
ev.sendall(frame(0x0B, reg, stream=1))
v, f, st, op, body = read_frame(ev)
check(op == 0x02, "REGISTER -> READY")
other = ready_conn()
query(other, "CREATE KEYSPACE IF NOT EXISTS evks WITH replication = "
      "{'class': 'SimpleStrategy', 'replication_factor': 1}", stream=2)
v, f, st, op, body = read_frame(other)
check(op == 0x08 and struct.unpack(">i", body[:4])[0] in (1, 5), "DDL answered")
v, f, st, op, body = read_frame(ev)
check(op == 0x0C and st == -1 and b"SCHEMA_CHANGE" in body and b"evks" in body,
      "SCHEMA_CHANGE event on stream -1")
query(other, "DROP KEYSPACE evks", stream=3)
read_frame(other)
ev.close()
other.close()

# unknown prepared id -> Unprepared with the id
s = ready_conn()
pid = b"0123456789abcdef"
s.sendall(frame(0x0A, struct.pack(">H", 16) + pid + struct.pack(">HB", 1, 0), stream=21))
v, f, st, op, body = read_frame(s)
code, msg = error_of(body)
n = 6 + struct.unpack(">H", body[4:6])[0]
check(code == 0x2500 and body[n:n + 2] == b"\x00\x10" and body[n + 2:n + 18] == pid,
      "EXECUTE of an unknown id -> Unprepared carrying the id")
s.close()

print("%d passed, 0 failed" % passed())
