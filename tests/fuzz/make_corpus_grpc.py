#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Writes the seed corpus of tests/fuzz/fuzz_grpc.c into tests/fuzz/corpus_grpc/: Add and Del
requests of proto/cnibackend.proto as the podlane-cni plugin sends them, in protobuf's wire
format (protobuf-c's field order), behind the harness's control byte (1 Add, 0 Del).

    tests/fuzz/make_corpus_grpc.py
"""
import os


def varint(v):
    out = b""
    while True:
        b = v & 0x7F
        v >>= 7
        out += bytes([b | (0x80 if v else 0)])
        if not v:
            return out


def ld(field, payload):
    if isinstance(payload, str):
        payload = payload.encode()
    return varint(field << 3 | 2) + varint(len(payload)) + payload


def entry(k, v):
    return ld(1, k) + ld(2, v)


def add(ifname, netns, ips, annotations=(), options=()):
    m = ld(1, ifname) + ld(2, netns)
    for a, gw in ips:
        m += ld(5, ld(1, a) + (ld(2, gw) if gw else b""))
    if annotations:
        w = ld(1, "web-1") + ld(2, "default")
        for k, v in annotations:
            w += ld(4, entry(k, v))
        w += ld(7, "k8s") + ld(8, "web-1")
        m += ld(7, w)
    for k, v in options:
        m += ld(8, entry(k, v))
    return m


def delete(ifname, netns):
    return ld(1, ifname) + ld(2, netns)


NS = "/var/run/netns/cni-1234"
SEEDS = {
    "add_v4": b"\x01" + add("eth0", NS, [("10.244.1.5/24", "10.244.1.1")]),
    "add_dual": b"\x01" + add("eth0", NS, [("10.244.1.5/24", "10.244.1.1"),
                                           ("fd00:244:1::5/64", "fd00:244:1::1")]),
    "add_allowed": b"\x01" + add("eth0", NS, [("10.244.1.6/24", "")],
                                 [("cni.projectcalico.org/allowedSourcePrefixes",
                                   '["10.99.0.0/16"]')], [("policy", "strict")]),
    "add_no_ips": b"\x01" + add("eth0", NS, []),
    "del": b"\x00" + delete("eth0", NS),
    "del_no_netns": b"\x00" + delete("eth0", ""),
}
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus_grpc")
os.makedirs(out, exist_ok=True)
for name, data in SEEDS.items():
    open(os.path.join(out, name), "wb").write(data)
