#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Sends malformed frames at a node's uplink MAC from the gateway namespace (scapy, Debian's
# /usr/bin/python3). Prints a JSON object: how many frames of each kind were sent.
#   send_malformed.py IFACE DST_MAC DST_V4 DST_V6 COUNT
import json
import struct
import sys

from scapy.all import (Ether, IP, IPv6, UDP, Raw, IPv6ExtHdrHopByHop, IPv6ExtHdrDestOpt,
                       IPv6ExtHdrRouting, sendp, conf)

conf.verb = 0
iface, mac, v4, v6, count = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
src_mac = "02:00:00:00:00:99"
eth4 = Ether(dst=mac, src=src_mac, type=0x0800)
eth6 = Ether(dst=mac, src=src_mac, type=0x86DD)
good4 = bytes(IP(src="203.0.113.1", dst=v4) / UDP(sport=1, dport=9) / Raw(b"x" * 16))
good6 = bytes(IPv6(src="2001:db8:ffff::1", dst=v6) / UDP(sport=1, dport=9) / Raw(b"x" * 16))

def bad_ihl():
    b = bytearray(good4)
    b[0] = 0x43  # IHL 3 words
    return bytes(b)

def bad_csum():
    b = bytearray(good4)
    b[10] ^= 0xFF
    return bytes(b)

def long_total():
    b = bytearray(good4)
    struct.pack_into("!H", b, 2, 1000)
    return bytes(b)

def v6_long_plen():
    b = bytearray(good6)
    struct.pack_into("!H", b, 4, 1200)
    return bytes(b)

malformed = {
    "ipv4_truncated_header": eth4 / Raw(good4[:10]),
    "ipv4_bad_ihl": eth4 / Raw(bad_ihl()),
    "ipv4_total_length_beyond_frame": eth4 / Raw(long_total()),
    "ipv4_bad_checksum": eth4 / Raw(bad_csum()),
    "ipv6_truncated_header": eth6 / Raw(good6[:30]),
    "ipv6_payload_length_beyond_frame": eth6 / Raw(v6_long_plen()),
    "ipv6_ext_chain_too_long": Ether(dst=mac, src=src_mac) / IPv6(src="2001:db8:ffff::1", dst=v6)
        / IPv6ExtHdrHopByHop() / IPv6ExtHdrDestOpt() / IPv6ExtHdrDestOpt() / IPv6ExtHdrDestOpt()
        / IPv6ExtHdrDestOpt() / IPv6ExtHdrDestOpt() / IPv6ExtHdrDestOpt() / IPv6ExtHdrDestOpt()
        / IPv6ExtHdrDestOpt() / IPv6ExtHdrDestOpt() / UDP(sport=1, dport=9),
    "ipv6_ext_header_beyond_payload": eth6 / Raw(bytes(IPv6(src="2001:db8:ffff::1", dst=v6, nh=60, plen=8))
        + bytes([17, 4]) + b"\x00" * 6),
    "ipv6_hop_by_hop_not_first": Ether(dst=mac, src=src_mac) / IPv6(src="2001:db8:ffff::1", dst=v6)
        / IPv6ExtHdrDestOpt() / IPv6ExtHdrHopByHop() / UDP(sport=1, dport=9),
    "runt": eth4 / Raw(b"\x45\x00"),
}
other = {
    # Within the lab's 9000-byte MTU: an af_packet uplink takes it whole (64 KB buffers) and
    # finds its all-zero IPv4 header malformed; AF_XDP's 4 KB frames cannot hold it (oversize).
    "jumbo": eth4 / Raw(b"\x00" * 8000),
    "not_for_us": Ether(dst="02:00:00:00:00:42", src=src_mac) / Raw(good4),
}
sent = {}
for name, frame in list(malformed.items()) + list(other.items()):
    sendp(frame, iface=iface, count=count)
    sent[name] = count
print(json.dumps({"malformed": len(malformed) * count, "jumbo": count, "not_for_us": count,
                  "kinds": sent}))
