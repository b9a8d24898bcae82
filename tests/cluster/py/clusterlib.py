"""Helpers shared by the python scripts of the cluster tests (tests/cluster/*.sh).

The shell scripts run each script as `/usr/bin/python3 tests/cluster/py/<name>.py`, so the
script's own directory is first on sys.path and `import clusterlib` finds this file.

Three ways to report checks, one per kind of script:
- check(name, ok, detail): one line per check, the script goes on; FAILED lists the names of
  the failed ones and the script exits non-zero at its end if there are any.
- check_or_exit(cond, what): one line per check, the first failure ends the script (exit 1);
  passed() counts the checks so far.
- Run(name, poll): timestamped lines (say), checks that are collected (check), waits for a
  condition with a deadline (wait_until) and the summary at the end (finish).

Nodes started by py_cluster_lib.sh keep their files in ROOT/nodeK: colonnade.yaml, cmd (the
start command, NUL-separated), pid and node.log; node_pid, kill_node and start_node use them.

cql_frame, cql_string, cql_long_string, cql_string_map, recv_exact and read_cql_frame build
and read raw CQL v4 frames for the scripts that talk to the CQL port on a socket.
"""
import json
import os
import signal
import struct
import subprocess
import sys
import time
import urllib.request

FAILED = []


def check(name, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + name + ("" if ok else ": " + str(detail)), flush=True)
    if not ok:
        FAILED.append(name)


def expect_error(session, name, query, msg, params=None):
    """check that `query` is refused as an invalid request whose message holds `msg`."""
    from cassandra import InvalidRequest

    try:
        session.execute(query, params)
        check(name, False, "no error")
    except InvalidRequest as e:
        check(name, msg in str(e), str(e))


_passed = 0


def check_or_exit(cond, what):
    global _passed
    if not cond:
        print("FAIL:", what)
        sys.exit(1)
    _passed += 1
    print("ok:", what)


def passed():
    """How many check_or_exit checks have passed."""
    return _passed


class Run:
    """The log and checks of a script that runs steps against a cluster: every line says the
    seconds since the start; failed checks are collected and listed by finish()."""

    def __init__(self, name, poll):
        self.name = name
        self.poll = poll  # seconds between two tries of a wait_until condition
        self.t0 = time.time()
        self.failures = []

    def say(self, msg):
        print("%s: [%5.1fs] %s" % (self.name, time.time() - self.t0, msg), flush=True)

    def check(self, ok, what):
        self.say(("ok   " if ok else "FAIL ") + what)
        if not ok:
            self.failures.append(what)
        return ok

    def wait_until(self, fn, timeout, what):
        """Whether fn() returns True within `timeout` s; anything else it returns or raises
        (a node restarting answers nothing for a moment) is printed if it never does."""
        end = time.time() + timeout
        last = None
        while time.time() < end:
            try:
                last = fn()
                if last is True:
                    return True
            except Exception as e:
                last = e
            time.sleep(self.poll)
        self.say("gave up waiting %d s for %s (last: %s)" % (timeout, what, last))
        return False

    def finish(self):
        """Lists the failed checks and exits 1 if there are any."""
        if self.failures:
            self.say("%d check(s) failed:" % len(self.failures))
            for f in self.failures:
                self.say("  " + f)
            sys.exit(1)
        self.say("all checks passed")


def connect_retrying(addr, seconds=60, **kw):
    """(cluster, session) of a driver connected through the node at `addr` (more Cluster
    options in kw); a node just started is UN in gossip a moment before it opens its CQL
    port, so connecting is retried for up to `seconds`."""
    from cassandra.cluster import Cluster, NoHostAvailable

    end = time.time() + seconds
    while True:
        c = Cluster([addr], protocol_version=4, connect_timeout=10, **kw)
        try:
            return c, c.connect()
        except NoHostAvailable:
            c.shutdown()
            if time.time() > end:
                raise
            time.sleep(0.3)


def admin(addr, path, timeout=5, token=None):
    """The JSON answer of the admin port (7199) of the node at `addr` to GET `path` (with
    `token` as bearer token if given)."""
    req = urllib.request.Request("http://%s:7199%s" % (addr, path))
    if token:
        req.add_header("Authorization", "Bearer " + token)
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read().decode())


def metrics_text(addr, timeout=10):
    """The /metrics page of the node at `addr`."""
    with urllib.request.urlopen("http://%s:7199/metrics" % addr, timeout=timeout) as r:
        return r.read().decode()


def node_dir(root, k):
    return os.path.join(root, "node%d" % k)


def node_pid(root, k):
    with open(os.path.join(node_dir(root, k), "pid")) as f:
        return int(f.read())


def kill_node(root, k, gone_within=None):
    """SIGKILL node k; with gone_within (s), wait up to that long until its pid is gone (the
    lib's shell may be its parent and reaps it). Returns the pid."""
    pid = node_pid(root, k)
    os.kill(pid, signal.SIGKILL)
    end = time.time() + (gone_within or 0)
    while time.time() < end:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(0.05)
    return pid


def start_node(root, k, addr=None, prefix=()):
    """Start node k again with its recorded command, `prefix` (e.g. env settings) before it;
    with addr, first rewrite its listen and rpc address to addr. Returns the Popen."""
    ndir = node_dir(root, k)
    if addr is not None:
        path = os.path.join(ndir, "colonnade.yaml")
        with open(path) as f:
            lines = f.read().splitlines()
        for i, line in enumerate(lines):
            for key in ("listen_address", "rpc_address"):
                if line.startswith(key + ":"):
                    lines[i] = "%s: %s" % (key, addr)
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
    with open(os.path.join(ndir, "cmd"), "rb") as f:
        cmd = [a.decode() for a in f.read().split(b"\0") if a]
    log = open(os.path.join(ndir, "node.log"), "ab")
    proc = subprocess.Popen(list(prefix) + cmd, cwd=ndir, stdout=log, stderr=log,
                            start_new_session=True)
    with open(os.path.join(ndir, "pid"), "w") as f:
        f.write(str(proc.pid))
    return proc


# ---- raw CQL v4 frames, for scripts that speak the protocol on a socket themselves


def cql_frame(opcode, body=b"", stream=0, version=4, flags=0):
    return struct.pack(">BBhBi", version, flags, stream, opcode, len(body)) + body


def cql_string(x):
    b = x.encode()
    return struct.pack(">H", len(b)) + b


def cql_long_string(x):
    b = x.encode()
    return struct.pack(">i", len(b)) + b


def cql_string_map(d):
    return struct.pack(">H", len(d)) + b"".join(cql_string(k) + cql_string(v)
                                                for k, v in d.items())


def recv_exact(s, n):
    out = b""
    while len(out) < n:
        chunk = s.recv(n - len(out))
        if not chunk:
            raise EOFError("closed after %d of %d bytes" % (len(out), n))
        out += chunk
    return out


def read_cql_frame(s):
    """(version, flags, stream, opcode, body) of the next frame on socket s."""
    version, flags, stream, opcode, length = struct.unpack(">BBhBi", recv_exact(s, 9))
    return version, flags, stream, opcode, recv_exact(s, length)
