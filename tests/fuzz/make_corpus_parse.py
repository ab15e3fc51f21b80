#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Writes the seed corpus of tests/fuzz/fuzz_parse.c into tests/fuzz/corpus_parse/ (or the
directory given): a handful of valid frames, each behind the harness's control byte (0x01:
the harness writes the IPv4 header checksum; these already carry the right one).

    tests/fuzz/make_corpus_parse.py [DIR]
"""
import os
import struct
import sys

MACS = bytes.fromhex("020000000001020000000002")


def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def v4(proto, l4, opts=b"", frag=0, pad=0):
    ihl = 5 + len(opts) // 4
    h = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, ihl * 4 + len(l4), 0x1234, frag, 64,
                    proto, 0, bytes([10, 0, 0, 1]), bytes([10, 0, 1, 2])) + opts
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return MACS + b"\x08\x00" + h + l4 + b"\x00" * pad


def v6(nh, payload, pad=0):
    h = struct.pack("!IHBB16s16s", 0x60000000, len(payload), nh, 64,
                    bytes.fromhex("fd000000000000000000000000000001"),
                    bytes.fromhex("fd000000000000000000000000000002"))
    return MACS + b"\x86\xdd" + h + payload + b"\x00" * pad


def tcp(payload=b"", opts=b""):
    doff = 5 + len(opts) // 4
    return struct.pack("!HHIIBBHHH", 40000, 80, 1000, 0, doff << 4, 0x18, 65535, 0,
                       0) + opts + payload


def udp(payload=b"", ulen=None):
    return struct.pack("!HHHH", 5353, 53, 8 + len(payload) if ulen is None else ulen,
                       0) + payload


def opts6(nh, hlen=0):
    return bytes([nh, hlen]) + b"\x00" * ((hlen + 1) * 8 - 2)


def frag6(nh, offset, more):
    return struct.pack("!BBHI", nh, 0, offset << 3 | int(more), 0xABCDEF01)


ICMP_ECHO = bytes([8, 0, 0, 0, 0, 1, 0, 1]) + b"ping" * 4
TS = bytes([1, 1, 8, 10]) + b"\x00" * 8  # NOP NOP timestamps

FRAMES = {
    "v4_tcp": v4(6, tcp(b"hello")),
    "v4_tcp_opts": v4(6, tcp(b"x" * 40, TS), opts=b"\x01\x01\x01\x00"),
    "v4_udp_pad": v4(17, udp(b"dns"), pad=7),
    "v4_icmp": v4(1, ICMP_ECHO),
    "v4_sctp": v4(132, bytes(range(16))),
    "v4_first_frag": v4(17, udp(b"a" * 64, ulen=3000), frag=0x2000),
    "v4_later_frag": v4(6, b"zz", frag=0x2000 | 185),
    "v6_tcp": v6(6, tcp(b"hello", TS)),
    "v6_udp_hbh_dst": v6(0, opts6(60) + opts6(17, 1) + udp(b"q" * 10)),
    "v6_routing_frag": v6(43, bytes([44, 0, 4, 1]) + b"\x00" * 4 + frag6(6, 0, True)
                          + tcp(b"y" * 30)),
    "v6_later_frag": v6(44, frag6(17, 100, False) + b"w" * 24, pad=4),
    "v6_ah_icmp6": v6(51, bytes([58, 4, 0, 0]) + b"\x00\x00\x01\x00" + b"\x00" * 16
                      + bytes([128, 0, 0, 0, 0, 1, 0, 1])),
    "v6_esp": v6(50, b"\x00\x00\x01\x00" + b"e" * 20),
    "v6_none": v6(59, b""),
    # At the limit (PL_PARSE_MAX_EXT, 8 headers): one more is a mutation away.
    "v6_ext8_udp": v6(0, opts6(60) + opts6(60) * 6 + opts6(17) + udp(b"8")),
    "v6_ext8_later_frag": v6(60, opts6(60) * 6 + opts6(44) + frag6(6, 8, True) + b"f" * 8),
    "arp": b"\xff" * 6 + MACS[6:] + b"\x08\x06" + bytes(28),
}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__),
                                                              "corpus_parse")
    os.makedirs(out, exist_ok=True)
    for name, frame in FRAMES.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(b"\x01" + frame)


if __name__ == "__main__":
    main()
