#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Long-lived TCP and UDP streams for the fast-path test (run inside the lab's namespaces).
Every command writes its state as one JSON document to STATS (rewritten every 0.1 s through
STATS.tmp and a rename, so a reader never sees half of it) and runs until STOPFILE exists.

  serve NAME PORT STATS STOPFILE [ADDR]
        TCP and UDP on PORT (IPv4), on ADDR (default: every address; bind one where
        answers must come from that address, not the one the route prefers). TCP: sends "NAME\\n", then echoes everything.
        UDP: answers each datagram "NAME SEQ" (SEQ: the datagram's first line).
        STATS: {"tcp_bytes": bytes received over TCP, "udp": datagrams received,
                "udp_by_sport": {sport: datagrams}}
  tcp ADDR PORT N STATS STOPFILE [CHUNK]
        N TCP connections, one thread each, each sending CHUNK-byte blocks of a seeded
        random stream and reading the echo back. The sha256 of everything sent and of
        everything echoed are compared at the end (and each block as it comes back).
        STATS: {"conns": [{"server", "bytes", "error", "done", "digest_ok"}...],
                "bytes": total echoed, "done": true once all have finished}
  udp ADDR PORT SPORT0 N STATS STOPFILE [INTERVAL]
        N UDP flows, from source ports SPORT0..SPORT0+N-1 (connected sockets: ICMP errors
        are reported), one datagram per flow every INTERVAL s (default 0.02).
        STATS: {"flows": {sport: {"sent", "answers": {NAME: n}, "last", "errors"}},
                "sent", "answered", "errors"}
"""
import hashlib
import json
import os
import random
import select
import socket
import sys
import threading
import time


def write_json(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f)
    os.rename(tmp, path)


def stats_writer(path, stopfile, snap, final=None):
    """Rewrites path from snap() every 0.1 s until stopfile exists (then once more)."""
    while not os.path.exists(stopfile):
        write_json(path, snap())
        time.sleep(0.1)
    if final:
        final()
    write_json(path, snap())


def serve(name, port, stats, stopfile, addr="0.0.0.0"):
    lock = threading.Lock()
    st = {"tcp_bytes": 0, "udp": 0, "udp_by_sport": {}}
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    t.bind((addr, port))
    t.listen(128)
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind((addr, port))

    def echo(conn):
        try:
            conn.sendall(("%s\n" % name).encode())
            while True:
                d = conn.recv(65536)
                if not d:
                    break
                with lock:
                    st["tcp_bytes"] += len(d)
                conn.sendall(d)
        except OSError:
            pass
        finally:
            conn.close()

    def snap():
        with lock:
            return json.loads(json.dumps(st))

    threading.Thread(target=stats_writer, args=(stats, stopfile, snap), daemon=True).start()
    while not os.path.exists(stopfile):
        r, _, _ = select.select([t, u], [], [], 0.2)
        for s in r:
            if s is t:
                try:
                    c, _ = t.accept()
                except OSError:
                    continue
                threading.Thread(target=echo, args=(c,), daemon=True).start()
            else:
                try:
                    d, a = u.recvfrom(2048)
                except OSError:
                    continue
                with lock:
                    st["udp"] += 1
                    k = str(a[1])
                    st["udp_by_sport"][k] = st["udp_by_sport"].get(k, 0) + 1
                seq = d.split(b"\n", 1)[0].decode(errors="replace")
                try:
                    u.sendto(("%s %s" % (name, seq)).encode(), a)
                except OSError:
                    pass
    write_json(stats, snap())


def tcp(addr, port, n, stats, stopfile, chunk=8192):
    conns = [{"server": None, "bytes": 0, "error": None, "done": False, "digest_ok": None}
             for _ in range(n)]
    lock = threading.Lock()

    def run(i):
        c = conns[i]
        rnd = random.Random(1000 + i)
        sent_h, got_h = hashlib.sha256(), hashlib.sha256()
        try:
            s = socket.create_connection((addr, port), timeout=10)
            f = s.makefile("rb")
            c["server"] = f.readline().decode().strip()
            s.settimeout(1.0)
            while not os.path.exists(stopfile):
                block = rnd.randbytes(chunk)
                s.sendall(block)
                sent_h.update(block)
                got = b""
                while len(got) < len(block):
                    try:
                        d = s.recv(len(block) - len(got))
                    except socket.timeout:
                        if os.path.exists(stopfile):
                            raise OSError("stalled: %d of %d bytes echoed at stop"
                                          % (len(got), len(block)))
                        continue
                    if not d:
                        raise OSError("closed by peer")
                    got += d
                got_h.update(got)
                if got != block:
                    raise OSError("echoed data differs")
                with lock:
                    c["bytes"] += len(got)
                time.sleep(0.003)
            s.close()
            c["digest_ok"] = sent_h.hexdigest() == got_h.hexdigest()
        except OSError as e:
            c["error"] = str(e)
            c["digest_ok"] = False
        c["done"] = True

    def snap():
        with lock:
            cs = [dict(c) for c in conns]
        return {"conns": cs, "bytes": sum(c["bytes"] for c in cs),
                "done": all(c["done"] for c in cs)}

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(n)]
    for th in threads:
        th.start()
    stats_writer(stats, stopfile, snap, final=lambda: [th.join(15) for th in threads])
    return 0 if all(c["digest_ok"] for c in conns) else 1


def udp(addr, port, sport0, n, stats, stopfile, interval=0.02):
    flows, socks = {}, {}
    for sp in range(sport0, sport0 + n):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", sp))
        s.connect((addr, port))
        s.setblocking(False)
        socks[s] = str(sp)
        flows[str(sp)] = {"sent": 0, "answers": {}, "last": None, "errors": 0}

    def snap():
        return {"flows": flows, "sent": sum(f["sent"] for f in flows.values()),
                "answered": sum(sum(f["answers"].values()) for f in flows.values()),
                "errors": sum(f["errors"] for f in flows.values())}

    seq, last_write = 0, 0.0
    while not os.path.exists(stopfile):
        seq += 1
        for s, sp in socks.items():
            try:
                s.send(("%d\n" % seq).encode() + b"x" * 100)
                flows[sp]["sent"] += 1
            except OSError:
                flows[sp]["errors"] += 1
        end = time.monotonic() + interval
        while True:
            left = end - time.monotonic()
            if left <= 0:
                break
            r, _, _ = select.select(list(socks), [], [], left)
            for s in r:
                f = flows[socks[s]]
                try:
                    who = s.recv(2048).decode(errors="replace").split()[0]
                except OSError:  # ICMP error reported on the connected socket
                    f["errors"] += 1
                    continue
                f["answers"][who] = f["answers"].get(who, 0) + 1
                f["last"] = who
        if time.monotonic() - last_write >= 0.1:
            write_json(stats, snap())
            last_write = time.monotonic()
    write_json(stats, snap())
    return 0


def main(a):
    if a[0] == "serve":
        serve(a[1], int(a[2]), a[3], a[4], *a[5:6])
    elif a[0] == "tcp":
        return tcp(a[1], int(a[2]), int(a[3]), a[4], a[5], *(int(x) for x in a[6:7]))
    elif a[0] == "udp":
        return udp(a[1], int(a[2]), int(a[3]), int(a[4]), a[5], a[6],
                   *(float(x) for x in a[7:8]))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
