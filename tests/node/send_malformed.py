#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Sends malformed frames at a node's uplink MAC from the gateway namespace (scapy, Debian's
# /usr/bin/python3). Prints a JSON object: how many frames of each kind were sent.
#   send_malformed.py IFACE DST_MAC DST_V4 DST_V6 COUNT
import json
import struct
import sys

from scapy.all import (Ether, IP, IPv6, TCP, UDP, Raw, IPOption_NOP, IPv6ExtHdrHopByHop,
                       IPv6ExtHdrDestOpt, IPv6ExtHdrFragment, sendp, conf)

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

# Each kind with the ingress parse's reason for refusing it (io-worker counter rx_<reason>,
# ipc/pl_parse.h); every one of them is also a `malformed` drop.
malformed = {
    "ipv4_truncated_header": ("bad_ipv4", eth4 / Raw(good4[:10])),
    "ipv4_bad_ihl": ("bad_ipv4", eth4 / Raw(bad_ihl())),
    "ipv4_total_length_beyond_frame": ("bad_ipv4", eth4 / Raw(long_total())),
    "ipv4_bad_checksum": ("bad_ipv4_csum", eth4 / Raw(bad_csum())),
    "ipv6_truncated_header": ("bad_ipv6", eth6 / Raw(good6[:30])),
    "ipv6_payload_length_beyond_frame": ("bad_ipv6", eth6 / Raw(v6_long_plen())),
    "ipv6_ext_chain_too_long": ("bad_ipv6_ext", Ether(dst=mac, src=src_mac)
        / IPv6(src="2001:db8:ffff::1", dst=v6)
        / IPv6ExtHdrHopByHop() / IPv6ExtHdrDestOpt() / IPv6ExtHdrDestOpt() / IPv6ExtHdrDestOpt()
        / IPv6ExtHdrDestOpt() / IPv6ExtHdrDestOpt() / IPv6ExtHdrDestOpt() / IPv6ExtHdrDestOpt()
        / IPv6ExtHdrDestOpt() / IPv6ExtHdrDestOpt() / UDP(sport=1, dport=9)),
    "ipv6_ext_header_beyond_payload": ("bad_ipv6_ext", eth6 / Raw(bytes(
        IPv6(src="2001:db8:ffff::1", dst=v6, nh=60, plen=8)) + bytes([17, 4]) + b"\x00" * 6)),
    "ipv6_hop_by_hop_not_first": ("bad_ipv6_ext", Ether(dst=mac, src=src_mac)
        / IPv6(src="2001:db8:ffff::1", dst=v6)
        / IPv6ExtHdrDestOpt() / IPv6ExtHdrHopByHop() / UDP(sport=1, dport=9)),
    "runt": ("bad_ipv4", eth4 / Raw(b"\x45\x00")),
    "tcp_data_offset_too_small": ("bad_l4", eth4 / IP(src="203.0.113.1", dst=v4)
        / TCP(sport=1, dport=9, dataofs=2, flags="A")),
    "tcp_data_offset_beyond_packet": ("bad_l4", eth6 / IPv6(src="2001:db8:ffff::1", dst=v6)
        / TCP(sport=1, dport=9, dataofs=15, flags="A")),
    "tcp_truncated": ("bad_l4", eth4 / Raw(bytes(IP(src="203.0.113.1", dst=v4, proto=6)
        / Raw(b"\x00" * 10)))),
    "udp_length_beyond_payload": ("bad_l4", eth4 / IP(src="203.0.113.1", dst=v4)
        / UDP(sport=1, dport=9, len=200) / Raw(b"x" * 16)),
    "udp_length_below_header": ("bad_l4", eth6 / IPv6(src="2001:db8:ffff::1", dst=v6)
        / UDP(sport=1, dport=9, len=4) / Raw(b"x" * 16)),
    "icmp_truncated": ("bad_l4", eth4 / Raw(bytes(IP(src="203.0.113.1", dst=v4, proto=1)
        / Raw(b"\x08\x00\x00")))),
    # RFC 1858 / RFC 7112: a first fragment must hold the whole transport header.
    "ipv4_tiny_first_fragment": ("bad_l4", eth4 / IP(src="203.0.113.1", dst=v4, proto=6,
        flags="MF", id=7) / Raw(b"\x00" * 8)),
    "ipv6_tiny_first_fragment": ("bad_l4", eth6 / IPv6(src="2001:db8:ffff::1", dst=v6)
        / IPv6ExtHdrFragment(nh=6, offset=0, m=1, id=7) / Raw(b"\x00" * 8)),
}
# Refused as not IP at all (an EtherType podlane does not carry): an `unsupported` drop.
not_ip = {
    "local_experimental_ethertype": Ether(dst=mac, src=src_mac, type=0x88B5) / Raw(b"\x00" * 46),
}
# Well-formed packets with IPv4 options or IPv6 extension headers in front of UDP: they pass
# the ingress parse (the transport header is found behind them) and reach the pod's port 9999.
valid = {
    "ipv4_options": IP(src="203.0.113.1", dst=v4, options=[IPOption_NOP()] * 4)
        / UDP(sport=1, dport=9999) / Raw(b"opt4"),
    "ipv6_hop_by_hop_dest_opts": IPv6(src="2001:db8:ffff::1", dst=v6) / IPv6ExtHdrHopByHop()
        / IPv6ExtHdrDestOpt() / UDP(sport=1, dport=9999) / Raw(b"ext6"),
    "ipv6_atomic_fragment": IPv6(src="2001:db8:ffff::1", dst=v6)
        / IPv6ExtHdrFragment(nh=17, offset=0, m=0, id=9) / UDP(sport=1, dport=9999) / Raw(b"atom"),
}
other = {
    # Within the lab's 9000-byte MTU: an af_packet uplink takes it whole (64 KB buffers) and
    # finds its all-zero IPv4 header malformed; AF_XDP's 4 KB frames cannot hold it (oversize).
    "jumbo": eth4 / Raw(b"\x00" * 8000),
    "not_for_us": Ether(dst="02:00:00:00:00:42", src=src_mac) / Raw(good4),
}
sent, reasons = {}, {}
for name, (reason, frame) in malformed.items():
    sendp(frame, iface=iface, count=count)
    sent[name] = count
    reasons[reason] = reasons.get(reason, 0) + count
for name, frame in list(not_ip.items()) + list(other.items()):
    sendp(frame, iface=iface, count=count)
    sent[name] = count
for name, pkt in valid.items():
    frame = (eth4 if pkt.version == 4 else eth6) / pkt
    sendp(frame, iface=iface, count=count)
    sent[name] = count
print(json.dumps({"malformed": len(malformed) * count, "reasons": reasons,
                  "not_ip": len(not_ip) * count, "jumbo": count, "not_for_us": count,
                  "valid": len(valid) * count, "kinds": sent}))
