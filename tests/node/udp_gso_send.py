#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Sends one UDP GSO burst (UDP_SEGMENT): COUNT datagrams of SEG payload bytes handed to the
# kernel as one super-packet, with Don't Fragment (path MTU discovery "do").
#   udp_gso_send.py DST SEG COUNT
import socket
import sys

UDP_SEGMENT = 103
IP_MTU_DISCOVER, IP_PMTUDISC_DO = 10, 2
IPV6_MTU_DISCOVER, IPV6_PMTUDISC_DO = 23, 2

dst, seg, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
v6 = ":" in dst
s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM)
if v6:
    s.setsockopt(socket.IPPROTO_IPV6, IPV6_MTU_DISCOVER, IPV6_PMTUDISC_DO)
else:
    s.setsockopt(socket.IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DO)
s.setsockopt(socket.IPPROTO_UDP, UDP_SEGMENT, seg)
try:
    s.sendto(b"\x5a" * (seg * count), (dst, 9))
except OSError as e:  # EMSGSIZE once the kernel has learnt the smaller path MTU
    print(e, file=sys.stderr)
