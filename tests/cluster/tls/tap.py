"""A recording TCP relay: the socket-level capture of tests/cluster/tls_internode_test.sh.

  tap.py LISTEN_HOST LISTEN_PORT TARGET_HOST TARGET_PORT OUT

Accepts on LISTEN, connects each client to TARGET and relays both ways,
appending every byte it relays to OUT (the capture) and one line per
connection and direction to OUT.first ("<conn> <c2s|s2c> <first byte hex>
<client address>").
Runs until killed.
"""
import socket
import sys
import threading

lhost, lport, thost, tport, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5]
lock = threading.Lock()
cap = open(out, "ab", buffering=0)
first = open(out + ".first", "a", buffering=1)


def pump(n, direction, src, dst, who):
    seen = False
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            with lock:
                cap.write(data)
                if not seen:
                    first.write("%d %s %02x %s\n" % (n, direction, data[0], who))
                    seen = True
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind((lhost, lport))
srv.listen(64)
n = 0
while True:
    c, addr = srv.accept()
    n += 1
    try:
        t = socket.create_connection((thost, tport), timeout=5)
        t.settimeout(None)
    except OSError:
        c.close()
        continue
    threading.Thread(target=pump, args=(n, "c2s", c, t, addr[0]), daemon=True).start()
    threading.Thread(target=pump, args=(n, "s2c", t, c, addr[0]), daemon=True).start()
