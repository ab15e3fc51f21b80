#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Floods a node's uplink with ARP and IPv6 neighbour discovery nobody asked for, from the
# gateway namespace (scapy, Debian's /usr/bin/python3): unsolicited ARP replies, gratuitous ARP
# and unsolicited / falsely "solicited" neighbour advertisements from random addresses on and
# off the node's subnets, claims of the node's own addresses, of the gateway's (with other
# MACs) and of a neighbour the node has not asked for yet, invalid MACs, and requests /
# solicitations for the node's addresses from made-up senders. Paced: each batch is sent once
# io-worker has taken the previous one (its l2_handled counter, read with podlanectl), so the
# kernel drops none of them and every frame reaches the rules under test.
# Prints a JSON object: frames sent per kind, and per io-worker counter how many it must add.
#   send_neigh_flood.py IFACE NODE_MAC NODE_V4 NODE_V6 GW_V4 GW_V6 NEW_V4 NEW_V6 SCALE CTL CONF
import ipaddress
import json
import random
import subprocess
import sys
import time

from scapy.all import (ARP, Ether, ICMPv6ND_NA, ICMPv6ND_NS, ICMPv6NDOptDstLLAddr,
                       ICMPv6NDOptSrcLLAddr, IPv6, conf, sendp)

conf.verb = 0
(iface, node_mac, node4, node6, gw4, gw6, new4, new6, scale, ctl, ctl_conf) = sys.argv[1:12]
scale = int(scale)
rnd = random.Random(20240611)
net4 = ipaddress.ip_network(node4 + "/24", strict=False)
net6 = ipaddress.ip_network(node6 + "/64", strict=False)
taken = {node4, node6, gw4, gw6, new4, new6}
BCAST = "ff:ff:ff:ff:ff:ff"


def rmac():
    # Unicast, locally administered.
    return "02:%02x:%02x:%02x:%02x:%02x" % tuple(rnd.randrange(256) for _ in range(5))


def on4():
    while True:
        a = str(net4[rnd.randrange(3, 255)])
        if a not in taken:
            return a


def off4():
    while True:
        a = ipaddress.IPv4Address(rnd.randrange(0x0B000000, 0xDF000000))  # 11/8 .. 222/8
        if a not in net4 and not a.is_loopback and not a.is_multicast:
            return str(a)


def on6(link_local=False):
    while True:
        base = ipaddress.ip_network("fe80::/64") if link_local else net6
        a = str(base[rnd.randrange(3, 1 << 48)])
        if a not in taken:
            return a


def off6():
    while True:
        a = ipaddress.IPv6Address(rnd.getrandbits(128))
        a = ipaddress.IPv6Address((0x2 << 124) | (int(a) >> 4))  # 2000::/4: global unicast
        if a not in net6:
            return str(a)


def src_of(mac):  # the Ethernet source: the claimed MAC, unless it is a group address
    return rmac() if int(mac[:2], 16) & 1 else mac


def arp(op, psrc, hwsrc, pdst, hwdst="00:00:00:00:00:00", edst=BCAST):
    return Ether(dst=edst, src=src_of(hwsrc)) / ARP(op=op, psrc=psrc, hwsrc=hwsrc, pdst=pdst,
                                                   hwdst=hwdst)


def reply_to_us(psrc, mac=None):  # an ARP reply to the node, as if it had asked
    return arp(2, psrc, mac or rmac(), node4, node_mac, node_mac)


def garp(psrc, op=1):  # gratuitous: sender = target, broadcast
    return arp(op, psrc, rmac(), psrc, BCAST if op == 2 else "00:00:00:00:00:00")


def request_for_us(psrc):
    return arp(1, psrc, rmac(), node4)


def na(target, solicited, mac=None):
    # Solicited: unicast to the node, as an answer; otherwise to all nodes, as an announcement.
    mac = mac or rmac()
    edst, dst = (node_mac, node6) if solicited else ("33:33:00:00:00:01", "ff02::1")
    return Ether(dst=edst, src=src_of(mac)) / IPv6(src=target, dst=dst, hlim=255) / \
        ICMPv6ND_NA(tgt=target, R=0, S=int(solicited), O=1) / ICMPv6NDOptDstLLAddr(lladdr=mac)


def ns_for_us(src):  # unicast, as neighbour unreachability detection sends them
    mac = rmac()
    return Ether(dst=node_mac, src=mac) / IPv6(src=src, dst=node6, hlim=255) / \
        ICMPv6ND_NS(tgt=node6) / ICMPv6NDOptSrcLLAddr(lladdr=mac)


n = scale
U, OFF, CONFLICT, MAC_CHANGE, BAD_MAC = ("neigh_refused_unsolicited", "neigh_refused_offlink",
                                        "neigh_address_conflict", "neigh_refused_mac_change",
                                        "neigh_refused_bad_mac")


def either():
    return rnd.random() < .5


kinds = {  # kind: (the counter each of its frames must add to, or None; the frames)
    # nobody asked: refused_unsolicited
    "arp_reply_on_subnet": (U, [reply_to_us(on4()) for _ in range(2 * n)]),
    "garp_request_on_subnet": (U, [garp(on4()) for _ in range(n)]),
    "garp_reply_on_subnet": (U, [garp(on4(), 2) for _ in range(n)]),
    "na_unsolicited_on_subnet": (U, [na(on6(), False) for _ in range(n)]),
    "na_solicited_on_subnet": (U, [na(on6(), True) for _ in range(n)]),
    "na_link_local": (U, [na(on6(True), either()) for _ in range(n // 2)]),
    "claims_of_new_neighbour": (U, [reply_to_us(new4) for _ in range(n // 4)]
                                + [garp(new4) for _ in range(n // 4)]
                                + [na(new6, s) for s in (True, False) for _ in range(n // 4)]),
    # off the node's subnets: refused_offlink (requests among them are not answered either)
    "arp_reply_off_subnet": (OFF, [reply_to_us(off4()) for _ in range(n)]),
    "garp_off_subnet": (OFF, [garp(off4(), rnd.choice((1, 2))) for _ in range(n)]),
    "arp_request_off_subnet": (OFF, [request_for_us(off4()) for _ in range(n // 2)]),
    "na_off_subnet": (OFF, [na(off6(), either()) for _ in range(2 * n)]),
    "ns_off_subnet": (OFF, [ns_for_us(off6()) for _ in range(n // 4)]),
    # the node's own addresses claimed: neigh_address_conflict
    "node_v4_claimed": (CONFLICT, [garp(node4, rnd.choice((1, 2))) for _ in range(n // 2)]
                        + [reply_to_us(node4) for _ in range(n // 2)]),
    "node_v6_claimed": (CONFLICT, [na(node6, either()) for _ in range(n)]),
    # the gateway (resolved, in use) claimed with other MACs: neigh_refused_mac_change
    "gateway_v4_claimed": (MAC_CHANGE, [garp(gw4, rnd.choice((1, 2))) for _ in range(n // 2)]
                           + [reply_to_us(gw4) for _ in range(n // 2)]),
    "gateway_v6_claimed": (MAC_CHANGE, [na(gw6, either()) for _ in range(n)]),
    # a broadcast or multicast MAC for the gateway: neigh_refused_bad_mac
    "gateway_bad_mac": (BAD_MAC, [reply_to_us(gw4, BCAST) for _ in range(n // 20)]
                        + [na(gw6, True, "33:33:00:00:00:01") for _ in range(n // 20)]),
    # requests for our addresses from made-up on-subnet senders: answered, nothing learned
    "arp_request_on_subnet": (None, [request_for_us(on4()) for _ in range(n // 2)]),
    "ns_on_subnet": (None, [ns_for_us(on6()) for _ in range(n // 4)]),
}
frames = [f for _, (_, fs) in kinds.items() for f in fs]
rnd.shuffle(frames)


def l2_handled():
    cmd = [ctl, "-c", ctl_conf, "-s", "io-worker", "-j", "counters/show", "l2_handled"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return json.loads(out)["l2_handled"]


BATCH = 200
t0 = time.time()
for i in range(0, len(frames), BATCH):
    batch = frames[i:i + BATCH]
    before = l2_handled()
    sendp(batch, iface=iface)
    deadline = time.time() + 30
    while l2_handled() - before < len(batch):
        if time.time() > deadline:
            sys.exit("io-worker did not take a batch of %d frames within 30 s" % len(batch))
        time.sleep(0.02)
expect = {}
for _, (counter, fs) in kinds.items():
    if counter:
        expect[counter] = expect.get(counter, 0) + len(fs)
print(json.dumps({"frames": len(frames), "seconds": round(time.time() - t0, 1),
                  "kinds": {k: len(fs) for k, (_, fs) in kinds.items()}, "expect": expect}))
