#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Writes the seed corpus of tests/fuzz/fuzz_bus.c into tests/fuzz/corpus_bus/ (or the
directory given): the messages podlane's processes put on the state bus - the supervisor's
"interface" and "route" objects, the cni-server's "pod" interfaces, heartbeats, snapshot
requests and ends - msgpack-encoded the way ipc/pl_bus.c and ipc/pl_objects.c encode them
(msgpack-c's smallest forms), each behind the harness's control byte (0 envelope, 1
interface payload, 2 route payload).

    tests/fuzz/make_corpus_bus.py [DIR]
"""
import os
import struct
import sys


def uint(v):
    if v < 0x80:
        return bytes([v])
    if v < 0x100:
        return b"\xcc" + bytes([v])
    if v < 0x10000:
        return b"\xcd" + struct.pack("!H", v)
    if v < 0x100000000:
        return b"\xce" + struct.pack("!I", v)
    return b"\xcf" + struct.pack("!Q", v)


def s(t):
    b = t.encode()
    if len(b) < 32:
        return bytes([0xA0 | len(b)]) + b
    if len(b) < 0x100:
        return b"\xd9" + bytes([len(b)]) + b
    return b"\xda" + struct.pack("!H", len(b)) + b


def binv(b):
    if len(b) < 0x100:
        return b"\xc4" + bytes([len(b)]) + b
    return b"\xc5" + struct.pack("!H", len(b)) + b


def arr(items):
    assert len(items) < 16
    return bytes([0x90 | len(items)]) + b"".join(items)


def mp(pairs):
    assert len(pairs) < 16
    return bytes([0x80 | len(pairs)]) + b"".join(k + v for k, v in pairs)


def iface(index, role, name, netns, mac, mtu, driver, addrs, allow=()):
    return mp([(s("index"), uint(index)), (s("role"), uint(role)), (s("name"), s(name)),
               (s("netns"), s(netns)), (s("mac"), s(mac)), (s("mtu"), uint(mtu)),
               (s("driver"), s(driver)), (s("addrs"), arr([s(a) for a in addrs])),
               (s("allow_src"), arr([s(a) for a in allow]))])


def route(dst, gw, ifi):
    return mp([(s("dst"), s(dst)), (s("gw"), s(gw)), (s("if"), uint(ifi))])


def env(op, inc, seq, kind="", key="", value=None):
    return arr([uint(1), uint(op), uint(inc), uint(seq), s(kind), s(key),
                b"\xc0" if value is None else binv(value)])


INC = 0x5EED1234ABCD0001
uplink = iface(1, 1, "eth0", "", "02:00:00:00:01:01", 1500, "af_packet",
               ["192.168.50.11/24", "fd00:50::11/64"])
host = iface(2, 2, "pl-host", "", "02:00:00:00:01:02", 1500, "", ["192.168.50.11/32"])
pod = iface(16, 3, "pltun16", "/var/run/netns/pod-a", "00:00:00:00:00:00", 1500, "",
            ["10.244.1.2/32", "fd00:244:1::2/128"], ["10.96.0.0/12"])
r_default = route("0.0.0.0/0", "192.168.50.1", 1)
r_link = route("192.168.50.0/24", "", 1)
r_v6 = route("::/0", "fd00:50::1", 1)

SEEDS = {
    "iface_uplink": b"\x01" + uplink,
    "iface_host": b"\x01" + host,
    "iface_pod": b"\x01" + pod,
    "route_default": b"\x02" + r_default,
    "route_link": b"\x02" + r_link,
    "route_v6": b"\x02" + r_v6,
    "env_set_iface": b"\x00" + env(1, INC, 1, "interface", "eth0", uplink),
    "env_set_pod": b"\x00" + env(1, INC, 7, "pod", "pod-a/eth0", pod),
    "env_set_route": b"\x00" + env(1, INC, 3, "route", "0.0.0.0/0", r_default),
    "env_del": b"\x00" + env(2, INC, 9, "pod", "pod-a/eth0"),
    "env_hugz": b"\x00" + env(3, INC, 9),
    "env_snapshot_end": b"\x00" + env(4, INC, 9),
    "env_icanhaz": b"\x00" + env(5, 0, 0),
    "env_bad_version": b"\x00" + arr([uint(2), uint(3), uint(INC), uint(1), s(""), s(""),
                                      b"\xc0"]),
}

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__),
                                                         "corpus_bus")
os.makedirs(out, exist_ok=True)
for name, data in SEEDS.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
