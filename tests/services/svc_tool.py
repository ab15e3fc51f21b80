#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Servers and clients for the services tests (run inside the lab's namespaces).

  serve NAME PORT...        TCP and UDP on every port, IPv4 and IPv6. TCP: sends
                            "NAME PEER\\n", then echoes. UDP: answers "NAME PEER" to each
                            datagram. Runs until killed.
  spread PROTO ADDR PORT N  N new connections (TCP) or N flows from N source ports (UDP);
                            prints {"NAME": count, ...} as JSON. Failures count as "!ERROR".
  map ADDR PORT SPORT0 N    UDP from source ports SPORT0..SPORT0+N-1; prints {sport: NAME}.
  peer PROTO ADDR PORT      one exchange; prints the answer ("NAME PEER").
  refused PROTO ADDR PORT   exit 0 when the service refuses at once (TCP RST / ICMP port
                            unreachable), printing the seconds it took; 1 otherwise.
  hold ADDR PORT N STOPFILE N TCP connections that stream and verify echoed data until
                            STOPFILE exists; prints {"ok": n, "failed": [...], "bytes": b}.
  storm ADDR PORT SECONDS   short TCP connections back to back; prints {"ok": n, "errors": e}.
"""
import json
import os
import random
import select
import socket
import sys
import threading
import time

TIMEOUT = 3.0


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def serve(name, ports):
    socks = []
    for port in ports:
        for fam, any_addr in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
            t = socket.socket(fam, socket.SOCK_STREAM)
            t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if fam == socket.AF_INET6:
                t.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            t.bind((any_addr, port))
            t.listen(512)
            u = socket.socket(fam, socket.SOCK_DGRAM)
            if fam == socket.AF_INET6:
                u.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            u.bind((any_addr, port))
            socks += [t, u]

    def echo(conn, peer):
        try:
            conn.sendall(("%s %s\n" % (name, peer)).encode())
            while True:
                d = conn.recv(65536)
                if not d:
                    break
                conn.sendall(d)
        except OSError:
            pass
        finally:
            conn.close()

    while True:
        r, _, _ = select.select(socks, [], [])
        for s in r:
            if s.type == socket.SOCK_STREAM:
                try:
                    c, a = s.accept()
                except OSError:
                    continue
                threading.Thread(target=echo, args=(c, a[0]), daemon=True).start()
            else:
                try:
                    d, a = s.recvfrom(2048)
                    s.sendto(("%s %s" % (name, a[0])).encode(), a)
                except OSError:
                    pass


def tcp_once(addr, port):
    s = socket.socket(family(addr), socket.SOCK_STREAM)
    s.settimeout(TIMEOUT)
    try:
        s.connect((addr, port))
        line = b""
        while not line.endswith(b"\n"):
            d = s.recv(256)
            if not d:
                break
            line += d
        return line.decode().strip()
    finally:
        s.close()


def udp_once(addr, port, sport=0, tries=3):
    s = socket.socket(family(addr), socket.SOCK_DGRAM)
    s.settimeout(1.0)
    try:
        if sport:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("::" if family(addr) == socket.AF_INET6 else "0.0.0.0", sport))
        s.connect((addr, port))
        for _ in range(tries):
            s.send(b"hello")
            try:
                return s.recv(256).decode().strip()
            except socket.timeout:
                continue
        raise OSError("no answer")
    finally:
        s.close()


def spread(proto, addr, port, n):
    counts = {}
    for i in range(n):
        try:
            if proto == "tcp":
                who = tcp_once(addr, port).split()[0]
            else:
                who = udp_once(addr, port).split()[0]
        except (OSError, IndexError):
            who = "!ERROR"
        counts[who] = counts.get(who, 0) + 1
    print(json.dumps(counts))


def udp_map(addr, port, sport0, n):
    out = {}
    for sp in range(sport0, sport0 + n):
        try:
            out[str(sp)] = udp_once(addr, port, sp).split()[0]
        except (OSError, IndexError):
            out[str(sp)] = "!ERROR"
    print(json.dumps(out))


def refused(proto, addr, port):
    t0 = time.monotonic()
    try:
        if proto == "tcp":
            tcp_once(addr, port)
        else:
            udp_once(addr, port, tries=1)
    except ConnectionRefusedError:
        print("%.3f" % (time.monotonic() - t0))
        return 0
    except OSError as e:
        print("not refused: %s" % e)
        return 1
    print("answered")
    return 1


def hold(addr, port, n, stopfile):
    conns = []
    for i in range(n):
        s = socket.socket(family(addr), socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect((addr, port))
        f = s.makefile("rb")
        f.readline()
        conns.append((s, f))
    print("connected", file=sys.stderr, flush=True)
    ok, failed, total = 0, [], 0
    rnd = random.Random(7)
    while not os.path.exists(stopfile) and not failed:
        for i, (s, f) in enumerate(conns):
            data = bytes(rnd.getrandbits(8) for _ in range(2048))
            try:
                s.sendall(data)
                got = b""
                while len(got) < len(data):
                    d = s.recv(len(data) - len(got))
                    if not d:
                        raise OSError("closed by peer")
                    got += d
                if got != data:
                    raise OSError("data corrupted")
                total += len(data)
            except OSError as e:
                failed.append("%d: %s" % (i, e))
        time.sleep(0.01)
    for s, f in conns:
        try:
            s.close()
        except OSError:
            pass
    ok = n - len(failed)
    print(json.dumps({"ok": ok, "failed": failed, "bytes": total}))
    return 0 if not failed else 1


def storm(addr, port, seconds):
    end = time.monotonic() + seconds
    ok = err = 0
    while time.monotonic() < end:
        try:
            tcp_once(addr, port)
            ok += 1
        except OSError:
            err += 1
    print(json.dumps({"ok": ok, "errors": err}))


def main(a):
    cmd = a[0]
    if cmd == "serve":
        serve(a[1], [int(p) for p in a[2:]])
    elif cmd == "spread":
        spread(a[1], a[2], int(a[3]), int(a[4]))
    elif cmd == "map":
        udp_map(a[1], int(a[2]), int(a[3]), int(a[4]))
    elif cmd == "peer":
        print(tcp_once(a[2], int(a[3])) if a[1] == "tcp" else udp_once(a[2], int(a[3])))
    elif cmd == "refused":
        return refused(a[1], a[2], int(a[3]))
    elif cmd == "hold":
        return hold(a[1], int(a[2]), int(a[3]), a[4])
    elif cmd == "storm":
        storm(a[1], int(a[2]), float(a[3]))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
