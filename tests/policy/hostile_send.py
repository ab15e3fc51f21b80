#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Hostile traffic for test_policy_hostile.sh (Debian's /usr/bin/python3: it has scapy).

  hostile_send.py send CONFIG_JSON     crafts and sends every probe shape for one sender and
                                       prints JSON: every probe with its packets ("pieces"),
                                       each with the marker that finds it in a capture, what
                                       the policy contract expects of it (pass or drop) and,
                                       for a drop, the reason it must be counted under.
  hostile_send.py check PCAP_JSON SENT_JSON...
                                       which pieces arrived in the captures; prints a JSON
                                       summary (violations, missing pieces, drops by reason);
                                       exit 0 when nothing expected to drop arrived and every
                                       piece expected to pass did.
  hostile_send.py flood CONFIG_JSON    (cold start) probes the targets at a steady rate until
                                       the stop file exists; prints how many were sent.
  hostile_send.py count PCAP ADDR... [--phases JSON]
                                       packets of flood in PCAP to one of ADDR: prints
                                       {"n": N, "first": T, "last": T, "by": {KIND PHASE: N}}.

Senders (CONFIG "role"):
  pod     raw packets from inside a pod's namespace, written on its tun with an AF_PACKET
          datagram socket (a tun has no link header: the kernel's stack, its routing and its
          checks are bypassed as a hostile pod would bypass them). With "forge", also packets
          with sources that are not the pod's (another pod's, the node's, another node's pod's).
  uplink  Ethernet frames written on the gateway's link to the node (AF_PACKET raw socket):
          forged sources from outside (a pod of this node, the node itself) and genuine
          outside sources.
  canary  a plain UDP datagram from the node's own namespace (the host): the host reaches every
          pod whatever the policy, so it proves that the capture in an isolated pod works.

Every packet carries a unique marker, 3 letters and 5 digits (b"PLH00042"), in its payload;
where a packet has no payload of its own (a tiny first fragment), its fragment identification
(id, offset) finds it. Expectations come from the contract the test checks (policy semantics as
Kubernetes: the only rule is "TCP 80 from namespace y" on one target, deny-all on the other),
independently of podlane's code.
"""
import ipaddress
import json
import os
import re
import socket
import struct
import sys
import time

MARKER_RE = re.compile(rb"(PL[A-Z])(\d{5})")
ETH_P = {4: 0x0800, 6: 0x86DD}


# --------------------------------------------------------------------------------------------
# capture analysis (no scapy: fast, and tolerant of a capture still being written)

def read_pcap(path):
    """Yields (timestamp, raw IP bytes) of a tcpdump capture of a tun (LINKTYPE_RAW); a
    record cut short at the end (tcpdump still writing) is ignored."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return
    if len(data) < 24:
        return
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    nano = magic in (0xA1B23C4D, 0x4D3CB2A1)
    link = struct.unpack(endian + "I", data[20:24])[0]
    off = 24
    while off + 16 <= len(data):
        sec, frac, incl, _orig = struct.unpack(endian + "IIII", data[off:off + 16])
        if off + 16 + incl > len(data):
            break
        pkt = data[off + 16:off + 16 + incl]
        off += 16 + incl
        if link == 1:  # Ethernet (not expected on a tun, but harmless)
            pkt = pkt[14:]
        elif link == 113:  # Linux cooked capture
            pkt = pkt[16:]
        yield sec + frac / (1e9 if nano else 1e6), pkt


def ip_summary(pkt):
    """(family, src, dst, frag) of a raw IP packet; frag is (id, byte offset) for a fragment
    (IPv4 MF or offset; IPv6 fragment header that is not atomic), else None."""
    if not pkt:
        return None
    v = pkt[0] >> 4
    if v == 4 and len(pkt) >= 20:
        src = str(ipaddress.IPv4Address(pkt[12:16]))
        dst = str(ipaddress.IPv4Address(pkt[16:20]))
        ident, fo = struct.unpack("!HH", pkt[4:8])
        frag = (ident, (fo & 0x1FFF) * 8) if fo & 0x3FFF else None
        return 4, src, dst, frag
    if v == 6 and len(pkt) >= 40:
        src = str(ipaddress.IPv6Address(pkt[8:24]))
        dst = str(ipaddress.IPv6Address(pkt[24:40]))
        nh, off, frag = pkt[6], 40, None
        for _ in range(12):
            if nh in (0, 43, 60, 135, 139, 140) and off + 2 <= len(pkt):
                nh, off = pkt[off], off + (pkt[off + 1] + 1) * 8
            elif nh == 51 and off + 2 <= len(pkt):
                nh, off = pkt[off], off + (pkt[off + 1] + 2) * 4
            elif nh == 44 and off + 8 <= len(pkt):
                fo = struct.unpack("!H", pkt[off + 2:off + 4])[0]
                ident = struct.unpack("!I", pkt[off + 4:off + 8])[0]
                if fo & 0xFFF9:
                    frag = (ident, fo & 0xFFF8)
                nh, off = pkt[off], off + 8
            else:
                break
        return 6, src, dst, frag
    return None


def arrivals(pcaps):
    """Every packet captured going to its pod: list of (time, family, src, dst, frag,
    markers)."""
    out = []
    for pcap, addrs in pcaps.items():
        addrs = {str(ipaddress.ip_address(a)) for a in addrs}
        for ts, pkt in read_pcap(pcap):
            s = ip_summary(pkt)
            if not s or s[2] not in addrs:
                continue  # the pod's own packets (replies, resets, ND) go the other way
            marks = {m[0].decode() + m[1].decode() for m in MARKER_RE.findall(pkt)}
            out.append((ts, s[0], s[1], s[2], s[3], marks))
    return out


def shape_of(name):
    """A probe's shape without target, family and addresses ("tcp80 behind chain8")."""
    name = re.sub(r"^\S+ ", "", name)
    name = re.sub(r" \([0-9a-f.:]+\)", "", name)
    return re.sub(r" v[46]\b", "", name)


def check_main(pcap_json, sent_files):
    pcaps = json.loads(pcap_json)  # {PCAP: [ADDR...]} of every target pod
    got = arrivals(pcaps)
    by_marker, by_frag = {}, {}
    for ts, fam, src, dst, frag, marks in got:
        for m in marks:
            by_marker[m] = by_marker.get(m, 0) + 1
        if frag:
            k = (fam, src, dst, frag[0], frag[1])
            by_frag[k] = by_frag.get(k, 0) + 1
    violations, missing, by_shape = [], [], {}
    reasons, passed = {}, 0
    flows = set()
    for path in sent_files:
        with open(path) as f:
            sent = json.load(f)
        for probe in sent["probes"]:
            for i, pc in enumerate(probe["pieces"]):
                if pc.get("marker"):
                    n = by_marker.get(pc["marker"], 0)
                else:
                    fid, foff = pc["frag"]
                    n = by_frag.get((probe["family"], pc.get("src", probe["src"]),
                                     probe["dst"], fid, foff), 0)
                what = "%s [%s] piece %d (%s)" % (probe["name"], sent["sender"], i,
                                                  pc.get("marker") or "frag %s" % pc["frag"])
                if pc["expect"] == "drop":
                    r = pc["reason"]
                    reasons[r] = reasons.get(r, 0) + 1
                    if n:
                        violations.append("%s: expected dropped (%s), arrived x%d" %
                                          (what, r, n))
                        key = "%s [%s]" % (shape_of(probe["name"]), sent["sender"])
                        by_shape[key] = by_shape.get(key, 0) + 1
                    if r == "policy" and pc.get("flow"):
                        flows.add(tuple(pc["flow"]))
                elif pc["expect"] == "pass":
                    if n:
                        passed += 1
                    else:
                        missing.append("%s: expected to arrive, did not" % what)
    summary = {"captured": len(got), "violations": violations, "missing": missing,
               "violations_by_shape": by_shape,
               "passed": passed, "reasons": reasons, "policy_flows": len(flows)}
    print(json.dumps(summary, indent=1))
    return 0 if not violations and not missing else 1


def count_main(pcap, addrs, prefixes, phases):
    """Marked packets in pcap to addrs, by marker prefix and by phase (phases: [[NAME,
    START_EPOCH_S]...] in order; a packet belongs to the last phase started before it)."""
    n, first, last, by = 0, None, None, {}
    for ts, _f, _s, _d, _fr, marks in arrivals({pcap: addrs}):
        kinds = sorted({m[:3] for m in marks if m[:3] in prefixes})
        if not kinds:
            continue
        n += 1
        first = ts if first is None else first
        last = ts
        phase = "before " + phases[0][0] if phases else "all"
        for name, start in phases:
            if ts >= start:
                phase = name
        for k in kinds:
            key = "%s %s" % (prefixes[k], phase)
            by[key] = by.get(key, 0) + 1
    print(json.dumps({"n": n, "first": first, "last": last, "by": by}))


# --------------------------------------------------------------------------------------------
# crafting (scapy is imported only here: it takes a second to load)

def scapy():
    global IP, IPv6, TCP, UDP, ICMP, Raw, GRE, Ether, ICMPv6EchoRequest, ICMPv6DestUnreach
    global IPv6ExtHdrHopByHop, IPv6ExtHdrDestOpt, IPv6ExtHdrRouting, IPv6ExtHdrFragment
    global IPv6ExtHdrSegmentRouting, SCTP, SCTPChunkInit
    from scapy.all import (IP, IPv6, TCP, UDP, ICMP, Raw, GRE, Ether, ICMPv6EchoRequest,
                           ICMPv6DestUnreach, IPv6ExtHdrHopByHop, IPv6ExtHdrDestOpt,
                           IPv6ExtHdrRouting, IPv6ExtHdrFragment, IPv6ExtHdrSegmentRouting)
    from scapy.layers.sctp import SCTP, SCTPChunkInit


class Sender:
    """Builds probes, sends their pieces, records what was sent and what is expected."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.prefix = cfg.get("prefix", "PLH")
        self.next = cfg["base"]  # marker / identification counter, unique per sender
        self.probes = []
        self.l2 = cfg.get("l2")  # uplink: {"iface", "dst_mac", "src_mac"}
        self.iface = cfg.get("iface", "eth0")
        if self.l2:
            self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
            self.sock.bind((self.l2["iface"], 0))
        elif cfg["role"] != "canary":
            self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM)
        self.gap = cfg.get("gap_s", 0.002)
        self.errors = 0

    def uid(self):
        self.next += 1
        return self.next

    def marker(self):
        return ("%s%05d" % (self.prefix, self.uid() % 100000)).encode()

    def emit(self, fam, raw):
        try:
            if self.l2:
                eth = Ether(dst=self.l2["dst_mac"], src=self.l2["src_mac"], type=ETH_P[fam])
                self.sock.send(bytes(eth) + raw)
            else:
                self.sock.sendto(raw, (self.iface, ETH_P[fam]))
        except OSError:
            self.errors += 1  # the test fails on any: a probe not sent proves nothing
        time.sleep(self.gap)  # the pod's tun queue holds 500 packets: do not overrun it

    def probe(self, name, fam, src, dst, pieces):
        """pieces: list of (raw bytes, record) sent in order."""
        rec = {"name": name, "family": fam, "src": src, "dst": dst, "pieces": []}
        for raw, piece in pieces:
            self.emit(fam, raw)
            rec["pieces"].append(piece)
        self.probes.append(rec)


def ipl(fam, src, dst, **kw):
    """The IP layer: IPv4 or IPv6 with the same keywords (ttl means hop limit too)."""
    if fam == 4:
        return IP(src=src, dst=dst, **kw)
    if "ttl" in kw:
        kw["hlim"] = kw.pop("ttl")
    return IPv6(src=src, dst=dst, **kw)


def l4_bytes(fam, src, dst, l4):
    """The transport header + payload with its checksum computed for (src, dst)."""
    b = bytes(ipl(fam, src, dst) / l4)
    return b[20:] if fam == 4 else b[40:]


def fragments(fam, src, dst, proto, ident, data, bounds, ttl=64):
    """Raw IPv4/IPv6 fragments of `data` (the fragmentable part: a transport header and
    payload, for IPv6 possibly extension headers before them; `proto` is what comes first)
    cut at `bounds` [(start, end)...] in bytes; the range that ends last ends the datagram (no
    more-fragments flag), unless a range has a third element: its own more-fragments flag."""
    out = []
    for b in bounds:
        a, e = b[0], b[1]
        mf = b[2] if len(b) > 2 else e < max(x[1] for x in bounds)
        chunk = data[a:e]
        if fam == 4:
            out.append(bytes(IP(src=src, dst=dst, id=ident, proto=proto, ttl=ttl,
                                flags="MF" if mf else 0, frag=a // 8) / Raw(chunk)))
        else:
            out.append(bytes(IPv6(src=src, dst=dst, hlim=ttl) /
                             IPv6ExtHdrFragment(nh=proto, offset=a // 8, m=int(mf), id=ident) /
                             Raw(chunk)))
    return out


def marked_payload(hdr_len, bounds, markers, total):
    """A payload (after a header of hdr_len bytes) that puts each fragment's own marker
    inside that fragment's range."""
    pl = bytearray(b"." * (total - hdr_len))
    for b, m in zip(bounds, markers):
        o = max(b[0] - hdr_len, 0)
        pl[o:o + len(m)] = m
    return bytes(pl)


# --------------------------------------------------------------------------------------------
# the shapes

def expect(allowed80, proto, dport, ttl=64):
    """(expect, reason) of a genuine packet from this sender: the only thing any target
    allows is TCP to port 80, and only from the senders listed for it."""
    if allowed80 and proto == "tcp" and dport == 80:
        return ("drop", "ttl") if ttl <= 1 else ("pass", None)
    return "drop", "policy"


def piece(marker, exp, flow=None, **kw):
    """The record of one packet: its marker, pass / drop / any, the reason of a drop and,
    for a packet policy must deny, its flow (the check counts distinct denied flows)."""
    rec = {"marker": marker.decode() if marker else None, "expect": exp[0], "reason": exp[1]}
    if flow:
        rec["flow"] = flow
    rec.update(kw)
    return rec


def transport(s, proto, dport, marker):
    """A transport header of the given kind (tcp: a SYN, udp, sctp: an INIT) from a source
    port of its own, with the marker as payload; returns it and the source port."""
    sport = 20000 + s.next % 40000
    if proto == "tcp":
        return TCP(sport=sport, dport=dport, flags="S", seq=s.next) / Raw(marker), sport
    if proto == "udp":
        return UDP(sport=sport, dport=dport) / Raw(marker), sport
    # An SCTP INIT chunk (the marker trails it as an extra chunk-sized blob).
    return SCTP(sport=sport, dport=dport) / SCTPChunkInit(init_tag=s.next) / Raw(marker), sport


PROTO_NUM = {"tcp": 6, "udp": 17, "sctp": 132}


def simple(s, t, fam, src, proto, dport, tag, ttl=64, exp=None):
    """One TCP/UDP/SCTP packet to target t."""
    dst = t[str(fam)]
    m = s.marker()
    l4, sport = transport(s, proto, dport, m)
    e = exp or expect(t["allow80"], proto, dport, ttl)
    raw = bytes(ipl(fam, src, dst, ttl=ttl) / l4)
    flow = [src, dst, proto, sport, dport]
    s.probe("%s %s%d v%d%s" % (t["name"], proto, dport, fam, tag), fam, src, dst,
            [(raw, piece(m, e, flow))])


def shapes_plain(s, t, fam, src):
    # The allowed port, a neighbour port, the same port number in other protocols (a rule
    # with ports matches only its protocol), DNS: only TCP 80 may pass, and only where allowed.
    for proto, dport in (("tcp", 80), ("tcp", 81), ("udp", 53), ("udp", 80), ("sctp", 80)):
        simple(s, t, fam, src, proto, dport, "")


def shapes_icmp_echo(s, t, fam, src, tag=""):
    # Echo is a flow of its own (by identifier): a rule with ports never allows it.
    dst, m, ident = t[str(fam)], s.marker(), s.next & 0xFFFF
    if fam == 4:
        raw = bytes(IP(src=src, dst=dst) / ICMP(type=8, id=ident, seq=1) / Raw(m))
    else:
        raw = bytes(IPv6(src=src, dst=dst) / ICMPv6EchoRequest(id=ident, seq=1) / Raw(m))
    s.probe("%s icmp echo v%d%s" % (t["name"], fam, tag), fam, src, dst,
            [(raw, piece(m, ("drop", "policy"), [src, dst, "echo", ident]))])


def shapes_other_protocols(s, t, fam, src):
    # GRE, ESP and an unassigned protocol: no ports, tracked by (src, dst, protocol); a rule
    # with ports does not match them, deny-all denies them.
    dst = t[str(fam)]
    for pnum, name, body in ((47, "gre", lambda m: bytes(GRE(proto=0x0800)) + m),
                             (50, "esp", lambda m: struct.pack("!II", 0x1000 + s.next, 1) + m),
                             (253, "proto253", lambda m: m)):
        m = s.marker()
        if fam == 4:
            raw = bytes(IP(src=src, dst=dst, proto=pnum) / Raw(body(m)))
        else:
            raw = bytes(IPv6(src=src, dst=dst, nh=pnum) / Raw(body(m)))
        s.probe("%s %s v%d" % (t["name"], name, fam), fam, src, dst,
                [(raw, piece(m, ("drop", "policy"), [src, dst, pnum]))])


def ext_chains(dst):
    """IPv6 extension-header chains (each a function of the next header number), by name:
    every kind alone, then chains of 2, 4 and 8 headers (8 is the most the ingress parse
    takes). Routing headers have segments left 0: the packet is at its final destination."""
    hbh = lambda nh: IPv6ExtHdrHopByHop(nh=nh)
    dest = lambda nh: IPv6ExtHdrDestOpt(nh=nh)
    rh0 = lambda nh: IPv6ExtHdrRouting(nh=nh, type=0, segleft=0)
    srh = lambda nh: IPv6ExtHdrSegmentRouting(nh=nh, addresses=[dst], segleft=0, lastentry=0)
    # An atomic fragment (offset 0, no more fragments): not a fragment at all (RFC 6946), so
    # every one of them carries the same identification.
    atom = lambda nh: IPv6ExtHdrFragment(nh=nh, offset=0, m=0, id=0x5eed)
    return {
        "hop-by-hop": [hbh], "dest-opts": [dest], "routing-type0": [rh0],
        "srh-type4": [srh], "atomic-fragment": [atom],
        "chain2": [hbh, dest],
        "chain4": [hbh, dest, srh, atom],
        "chain8": [hbh, dest, rh0, dest, atom, dest, srh, dest],
    }


def build_chain(chain, final_nh):
    nums = {IPv6ExtHdrHopByHop: 0, IPv6ExtHdrDestOpt: 60, IPv6ExtHdrRouting: 43,
            IPv6ExtHdrSegmentRouting: 43, IPv6ExtHdrFragment: 44}
    layers, nh = [], final_nh
    for make in reversed(chain):
        layer = make(nh)
        layers.insert(0, layer)
        nh = nums[type(layer)]
    out = layers[0]
    for layer in layers[1:]:
        out = out / layer
    return nums[type(layers[0])], out


def shapes_ext_headers(s, t, src):
    # The transport header behind every kind of extension header and chain: policy must find
    # it (TCP 80 passes where allowed, TCP 81 and UDP 53 never), not pass what it cannot read.
    dst = t["6"]
    for cname, chain in ext_chains(dst).items():
        for proto, dport in (("tcp", 80), ("tcp", 81), ("udp", 53)):
            m = s.marker()
            l4, sport = transport(s, proto, dport, m)
            first, hdrs = build_chain(chain, PROTO_NUM[proto])
            raw = bytes(IPv6(src=src, dst=dst, nh=first) / hdrs / Raw(l4_bytes(6, src, dst, l4)))
            s.probe("%s %s%d v6 behind %s" % (t["name"], proto, dport, cname), 6, src, dst,
                    [(raw, piece(m, expect(t["allow80"], proto, dport),
                                 [src, dst, proto, sport, dport]))])


def shapes_fragments(s, t, fam, src):
    dst = t[str(fam)]
    for proto, dport, hdr in (("tcp", 80, 20), ("udp", 53, 8)):
        # A datagram in three fragments, in order and out of order (the last two first: they
        # must be held until the first decides, then get its verdict, or be dropped with it).
        for order, name in (([0, 1, 2], "in order"), ([2, 1, 0], "out of order")):
            bounds = [(0, hdr + 16), (hdr + 16, hdr + 40), (hdr + 40, hdr + 56)]
            bounds = [(a + (-a % 8), b + (-b % 8)) for a, b in bounds]  # 8-byte multiples
            marks = [s.marker() for _ in bounds]
            payload = marked_payload(hdr, bounds, marks, bounds[-1][1])
            sport = 20000 + s.next % 40000
            l4 = (TCP(sport=sport, dport=dport, flags="S", seq=s.next) if proto == "tcp"
                  else UDP(sport=sport, dport=dport)) / Raw(payload)
            data = l4_bytes(fam, src, dst, l4)
            ident = s.uid() & (0xFFFF if fam == 4 else 0xFFFFFFFF)
            frags = fragments(fam, src, dst, PROTO_NUM[proto], ident, data, bounds)
            e = expect(t["allow80"], proto, dport)
            flow = [src, dst, proto, sport, dport]
            s.probe("%s %s%d v%d fragmented %s" % (t["name"], proto, dport, fam, name), fam,
                    src, dst, [(frags[i], piece(marks[i], e, flow)) for i in order])

    # Overlap (RFC 1858, RFC 3128): an allowed first fragment (a SYN to port 80), then a
    # later fragment at offset 8 that rewrites the transport header. IPv4: bytes 8.. of the
    # TCP header (ack, data offset, flags, checksum) become those of a SYN to 81 (the ports
    # are out of an IPv4 offset 8's reach). IPv6: a destination-options
    # header in the fragmentable part puts the TCP header at offset 8, so the overlapping
    # fragment carries a whole new TCP header: a SYN to port 81. Must be dropped, never
    # reassembled into what the first fragment did not say.
    sport = 20000 + s.next % 40000
    m1, m2 = s.marker(), s.marker()
    ident = s.uid()
    syn80 = l4_bytes(fam, src, dst, TCP(sport=sport, dport=80, flags="S") / Raw(m1 + b"." * 4))
    syn81 = l4_bytes(fam, src, dst, TCP(sport=sport, dport=81, flags="S") / Raw(m2 + b"." * 12))
    if fam == 4:
        first = fragments(4, src, dst, 6, ident & 0xFFFF, syn80, [(0, 32, True)])[0]
        later = fragments(4, src, dst, 6, ident & 0xFFFF, b"\0" * 8 + syn81[8:],
                          [(8, 8 + len(syn81) - 8, False)])[0]
    else:
        dest = bytes(IPv6ExtHdrDestOpt(nh=6))
        first = fragments(6, src, dst, 60, ident, dest + syn80, [(0, 40, True)])[0]
        later = fragments(6, src, dst, 60, ident, b"\0" * 8 + syn81,
                          [(8, 8 + len(syn81), False)])[0]
    flow = [src, dst, "tcp", sport, 80]
    s.probe("%s tcp80 v%d overlapping fragment rewriting the TCP header" % (t["name"], fam),
            fam, src, dst,
            [(first, piece(m1, ("any", None) if t["allow80"] else ("drop", "policy"), flow)),
             (later, piece(m2, ("drop", "frag_overlap") if t["allow80"] else ("drop", "any")))])

    # A second first fragment (offset 0) of the same datagram saying port 81: judged on its
    # own header, never on the allowed first fragment's.
    sport = 20000 + s.next % 40000
    m1, m2 = s.marker(), s.marker()
    ident = s.uid() & (0xFFFF if fam == 4 else 0xFFFFFFFF)
    a = l4_bytes(fam, src, dst, TCP(sport=sport, dport=80, flags="S") / Raw(m1 + b"." * 4))
    b = l4_bytes(fam, src, dst, TCP(sport=sport, dport=81, flags="S") / Raw(m2 + b"." * 4))
    s.probe("%s tcp v%d duplicate first fragment (80, then 81)" % (t["name"], fam), fam, src,
            dst,
            [(fragments(fam, src, dst, 6, ident, a, [(0, 32, True)])[0],
              piece(m1, ("any", None) if t["allow80"] else ("drop", "policy"))),
             (fragments(fam, src, dst, 6, ident, b, [(0, 32, True)])[0],
              piece(m2, ("drop", "any")))])

    # A tiny first fragment (RFC 1858): 8 bytes of TCP header (ports only), the flags in the
    # next fragment. The first is malformed (refused at ingress); the rest has no first.
    sport = 20000 + s.next % 40000
    m = s.marker()
    ident = s.uid() & (0xFFFF if fam == 4 else 0xFFFFFFFF)
    data = l4_bytes(fam, src, dst, TCP(sport=sport, dport=80, flags="S") / Raw(m + b"." * 4))
    frags = fragments(fam, src, dst, 6, ident, data, [(0, 8), (8, len(data))])
    s.probe("%s tcp80 v%d tiny first fragment" % (t["name"], fam), fam, src, dst,
            [(frags[0], piece(None, ("drop", "malformed"), frag=[ident, 0])),
             (frags[1], piece(m, ("drop", "any")))])

    # A later fragment whose first never comes: held for a bounded time, then dropped.
    m = s.marker()
    ident = s.uid() & (0xFFFF if fam == 4 else 0xFFFFFFFF)
    frag = fragments(fam, src, dst, 17, ident, b"\0" * 16 + m + b"." * 8, [(16, 32, False)])[0]
    s.probe("%s udp v%d later fragment without a first" % (t["name"], fam), fam, src, dst,
            [(frag, piece(m, ("drop", "frag_unknown")))])


def shapes_icmp_errors(s, t, fam, src):
    dst = t[str(fam)]

    def error(quote_sport, quote_dport, proto, m):
        if proto == "tcp":
            inner = TCP(sport=quote_sport, dport=quote_dport, flags="SA", seq=1, ack=1)
        else:
            inner = UDP(sport=quote_sport, dport=quote_dport)
        quote = bytes(ipl(fam, dst, src) / inner)  # a packet the target would have sent
        if fam == 4:
            return bytes(IP(src=src, dst=dst) / ICMP(type=3, code=3) / Raw(quote + m))
        return bytes(IPv6(src=src, dst=dst) / ICMPv6DestUnreach(code=4) / Raw(quote + m))

    # An error quoting a flow that does not exist: an ICMP flow of its own (denied).
    m = s.marker()
    s.probe("%s icmp error v%d quoting no session" % (t["name"], fam), fam, src, dst,
            [(error(53, 33000 + s.next % 1000, "udp", m), piece(m, ("drop", "policy")))])
    # An error quoting the reply direction of this sender's own TCP 80 flow, sent right
    # after the SYN that made it: passes where the flow is allowed, else it is denied too.
    m1, m2 = s.marker(), s.marker()
    l4, sport = transport(s, "tcp", 80, m1)
    e = expect(t["allow80"], "tcp", 80)
    s.probe("%s icmp error v%d quoting the sender's own TCP 80 flow" % (t["name"], fam), fam,
            src, dst,
            [(bytes(ipl(fam, src, dst) / l4), piece(m1, e, [src, dst, "tcp", sport, 80])),
             (error(80, sport, "tcp", m2), piece(m2, e))])


def shapes_ttl(s, t, fam, src):
    # TTL / hop limit 1 (expires in the node: never delivered) and 255 (the most a packet
    # can have: judged like any other), for the allowed port and for ICMP echo.
    for ttl in (1, 255):
        simple(s, t, fam, src, "tcp", 80, " ttl %d" % ttl, ttl=ttl,
               exp=("drop", "any") if ttl == 1 and not t["allow80"] else None)
    dst, m, ident = t[str(fam)], s.marker(), s.next & 0xFFFF
    echo = ICMP(type=8, id=ident) if fam == 4 else ICMPv6EchoRequest(id=ident)
    s.probe("%s icmp echo v%d ttl 1" % (t["name"], fam), fam, src, dst,
            [(bytes(ipl(fam, src, dst, ttl=1) / echo / Raw(m)), piece(m, ("drop", "any")))])


def shapes_forged(s, t, fam, forged, reason):
    # Sources that are not the sender's: another pod's (one the policy allows), the node's
    # (the policy exempts it), another node's pod's. Dropped by anti-spoofing before policy.
    for label, addrs in forged.items():
        src = addrs[str(fam)]
        for proto, dport in (("tcp", 80), ("udp", 53)):
            m = s.marker()
            l4, _ = transport(s, proto, dport, m)
            s.probe("%s %s%d v%d forged source %s (%s)" % (t["name"], proto, dport, fam, label,
                                                           src),
                    fam, src, t[str(fam)],
                    [(bytes(ipl(fam, src, t[str(fam)]) / l4), piece(m, ("drop", reason)))])
        m, ident = s.marker(), s.next & 0xFFFF
        echo = ICMP(type=8, id=ident) if fam == 4 else ICMPv6EchoRequest(id=ident)
        s.probe("%s icmp echo v%d forged source %s (%s)" % (t["name"], fam, label, src), fam,
                src, t[str(fam)],
                [(bytes(ipl(fam, src, t[str(fam)]) / echo / Raw(m)),
                  piece(m, ("drop", reason)))])


def send_main(cfg):
    s = Sender(cfg)
    role = cfg["role"]
    if role == "canary":
        # The host's own traffic (a real socket in the node's namespace): passes any policy.
        for t in cfg["targets"]:
            for fam in (4, 6):
                m = s.marker()
                u = socket.socket(socket.AF_INET if fam == 4 else socket.AF_INET6,
                                  socket.SOCK_DGRAM)
                u.sendto(m, (t[str(fam)], 53))
                u.close()
                s.probes.append({"name": "%s canary from the host v%d" % (t["name"], fam),
                                 "family": fam, "src": "host", "dst": t[str(fam)],
                                 "pieces": [piece(m, ("pass", None))]})
    else:
        scapy()
        for t in cfg["targets"]:
            if role == "pod":
                src = cfg["src"]
                for fam in (4, 6):
                    shapes_plain(s, t, fam, src[str(fam)])
                    shapes_icmp_echo(s, t, fam, src[str(fam)])
                    shapes_other_protocols(s, t, fam, src[str(fam)])
                    shapes_fragments(s, t, fam, src[str(fam)])
                    shapes_icmp_errors(s, t, fam, src[str(fam)])
                    shapes_ttl(s, t, fam, src[str(fam)])
                    if cfg.get("forge"):
                        shapes_forged(s, t, fam, cfg["forge"], "spoofed_pod")
                shapes_ext_headers(s, t, src["6"])
            else:  # uplink: forged sources from outside, and genuine outside ones
                for fam in (4, 6):
                    shapes_forged(s, t, fam, cfg["forge"], "spoofed_uplink")
                    for label, addrs in cfg["outside"].items():
                        src = addrs[str(fam)]
                        tag = " from %s (%s)" % (label, src)
                        simple(s, t, fam, src, "tcp", 80, tag, exp=("drop", "policy"))
                        shapes_icmp_echo(s, t, fam, src, tag)
    print(json.dumps({"sender": cfg.get("name", role), "errors": s.errors,
                      "probes": s.probes}))


# --------------------------------------------------------------------------------------------
# cold start: a steady stream until a stop file appears

FLOOD_KINDS = {"PLU": "udp53", "PLT": "tcp80", "PLE": "echo"}


def flood_main(cfg):
    scapy()
    s = Sender(cfg)
    src, stop, sent = cfg["src"], cfg["stop"], 0
    while not os.path.exists(stop):
        for t in cfg["targets"]:
            for fam in (4, 6):
                dst = t[str(fam)]
                for prefix, kind in (("PLU", "udp"), ("PLT", "tcp"), ("PLE", "echo")):
                    s.prefix = prefix
                    m = s.marker()
                    if kind == "echo":
                        l4 = (ICMP(type=8, id=s.next & 0xFFFF) if fam == 4 else
                              ICMPv6EchoRequest(id=s.next & 0xFFFF)) / Raw(m)
                    else:
                        l4, _ = transport(s, kind, 53 if kind == "udp" else 80, m)
                    s.emit(fam, bytes(ipl(fam, src[str(fam)], dst) / l4))
                    sent += 1
    print(json.dumps({"sent": sent, "errors": s.errors}))


def main():
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "send":
        send_main(json.loads(sys.argv[2]))
    elif cmd == "flood":
        flood_main(json.loads(sys.argv[2]))
    elif cmd == "check":
        sys.exit(check_main(sys.argv[2], sys.argv[3:]))
    elif cmd == "count" and len(sys.argv) > 3:
        args, phases = sys.argv[3:], []
        if "--phases" in args:
            i = args.index("--phases")
            args, phases = args[:i], json.loads(args[i + 1])
        count_main(sys.argv[2], args, FLOOD_KINDS, phases)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
