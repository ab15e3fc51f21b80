#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Sequence-numbered UDP streams, to measure forwarding gaps as a receiver sees them.

  recv OUT STOPFILE FAM:PORT...
        One socket per FAM:PORT (FAM 4 or 6, bound to every address of that family). Each
        datagram carries its stream's sequence number (8 bytes, big endian), the sender's
        CLOCK_REALTIME in nanoseconds (8 bytes) and padding. Records, per port, every
        inter-arrival gap longer than 2 ms as [start, end, ms] (start/end: CLOCK_REALTIME
        seconds of the arrivals around it) and every datagram that arrived more than 10 ms
        after it was sent as [arrival, ms late] (the first 100,000). At STOPFILE writes OUT:
        {PORT: {"received", "unique", "max_seq", "dups", "gaps": [...], "late": [...]}}.
  send RATE STATS STOPFILE ADDR:PORT...
        RATE datagrams per second to each destination (IPv6 addresses in brackets), paced
        by the clock (no drift), 64 bytes each, from one connected socket per destination
        (ICMP errors are counted, not fatal). At STOPFILE writes STATS: {DEST: {"sent",
        "errors"}}. Sender and receiver must share the clock (namespaces of one machine).
  report RECV_JSON KILLS_FILE [WINDOW_MS]
        KILLS_FILE: lines "LABEL REALTIME_MS". For each kill, the longest gap of each stream
        that ends after the kill and starts before kill + WINDOW_MS (default 1000); a stream
        with no gap over 2 ms there counts 2. Prints one JSON line per label:
        {"label", "kills", "gap_ms_p50", "gap_ms_p99", "gap_ms_max",
        "gaps": [per kill: max over streams],
        "p50_by_port", "spans_ms_after_kill": [per kill: the worst gap's start and end, ms
        after the kill], "late_ms_max": the latest delivery (ms from send to arrival) of a
        datagram arriving in those windows, 10 when none was later than that}.
"""
import json
import os
import select
import socket
import struct
import sys
import time

GAP_S = 0.002
LATE_S = 0.010
MAX_LATE = 100_000


def parse_dest(d):
    host, port = d.rsplit(":", 1)
    if host.startswith("["):
        return socket.AF_INET6, host[1:-1], int(port)
    return socket.AF_INET, host, int(port)


def recv(out, stopfile, specs):
    socks = {}
    for spec in specs:
        fam, port = spec.split(":")
        af = socket.AF_INET6 if fam == "6" else socket.AF_INET
        s = socket.socket(af, socket.SOCK_DGRAM)
        if af == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        s.bind(("::" if af == socket.AF_INET6 else "0.0.0.0", int(port)))
        s.setblocking(False)
        socks[s.fileno()] = (s, port)
    st = {p: {"received": 0, "seen": bytearray(), "max_seq": -1, "dups": 0, "gaps": [],
              "late": [], "last": None} for _, p in socks.values()}
    poll = select.poll()
    for fd in socks:
        poll.register(fd, select.POLLIN)
    print("receiving", flush=True)
    while not os.path.exists(stopfile):
        for fd, _ in poll.poll(100):
            s, port = socks[fd]
            r = st[port]
            while True:
                try:
                    data = s.recv(2048)
                except BlockingIOError:
                    break
                now = time.time()
                if len(data) < 16:
                    continue
                seq, sent_ns = struct.unpack("!QQ", data[:16])
                if seq > 10_000_000:
                    continue
                late = now - sent_ns / 1e9
                if late > LATE_S and len(r["late"]) < MAX_LATE:
                    r["late"].append([now, round(late * 1000, 2)])
                if r["last"] is not None and now - r["last"] > GAP_S:
                    r["gaps"].append([r["last"], now, round((now - r["last"]) * 1000, 2)])
                r["last"] = now
                r["received"] += 1
                seen = r["seen"]
                if seq >= len(seen):
                    seen.extend(bytes(seq + 65536 - len(seen)))
                if seen[seq]:
                    r["dups"] += 1
                seen[seq] = 1
                r["max_seq"] = max(r["max_seq"], seq)
    res = {}
    for port, r in st.items():
        res[port] = {"received": r["received"], "unique": sum(r["seen"]),
                     "max_seq": r["max_seq"], "dups": r["dups"], "gaps": r["gaps"],
                     "late": r["late"]}
    tmp = out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(res, f)
    os.rename(tmp, out)


def send(rate, stats, stopfile, dests):
    flows = []
    for d in dests:
        af, host, port = parse_dest(d)
        s = socket.socket(af, socket.SOCK_DGRAM)
        s.connect((host, port))
        s.setblocking(False)
        flows.append({"dest": d, "sock": s, "sent": 0, "errors": 0})
    pad = bytes(48)
    t0 = time.monotonic()
    n = 0
    check = 0
    print("sending", flush=True)
    while True:
        due = int((time.monotonic() - t0) * rate)
        while n < due:
            for f in flows:
                try:
                    f["sock"].send(struct.pack("!QQ", n, time.time_ns()) + pad)
                    f["sent"] += 1
                except OSError:
                    f["errors"] += 1
            n += 1
        check += 1
        if check % 200 == 0 and os.path.exists(stopfile):
            break
        time.sleep(0.0002)
    res = {f["dest"]: {"sent": f["sent"], "errors": f["errors"], "seqs": n} for f in flows}
    tmp = stats + ".tmp"
    with open(tmp, "w") as f:
        json.dump(res, f)
    os.rename(tmp, stats)


def pct(v, p):
    v = sorted(v)
    if not v:
        return None
    k = min(len(v) - 1, max(0, int(round(p / 100.0 * (len(v) - 1)))))
    return v[k]


def report(recv_json, kills_file, window_ms=1000):
    with open(recv_json) as f:
        streams = json.load(f)
    kills = []
    with open(kills_file) as f:
        for line in f:
            if line.strip():
                label, t = line.split()
                kills.append((label, int(t) / 1000.0))
    by_label = {}
    per_stream = {}
    spans = {}
    late = {}
    for label, t in kills:
        lm = 10.0
        for r in streams.values():
            for at, ms in r.get("late", []):
                if t <= at <= t + window_ms / 1000.0:
                    lm = max(lm, ms)
        late.setdefault(label, []).append(lm)
        worst = 2.0
        span = None
        for port, r in streams.items():
            w = 2.0
            for start, end, ms in r["gaps"]:
                if end >= t and start <= t + window_ms / 1000.0:
                    w = max(w, ms)
                    if w >= worst and w == ms:
                        span = [round((start - t) * 1000, 1), round((end - t) * 1000, 1)]
            per_stream.setdefault(label, {}).setdefault(port, []).append(w)
            worst = max(worst, w)
        by_label.setdefault(label, []).append(worst)
        spans.setdefault(label, []).append(span)
    for label, gaps in by_label.items():
        print(json.dumps({"label": label, "kills": len(gaps), "gap_ms_p50": pct(gaps, 50),
                          "gap_ms_p99": pct(gaps, 99), "gap_ms_max": max(gaps), "gaps": gaps,
                          "p50_by_port": {p: pct(v, 50) for p, v in per_stream[label].items()},
                          "spans_ms_after_kill": spans[label],
                          "late_ms_max": max(late[label])}))


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    cmd = argv[1]
    if cmd == "recv" and len(argv) >= 5:
        recv(argv[2], argv[3], argv[4:])
    elif cmd == "send" and len(argv) >= 6:
        send(float(argv[2]), argv[3], argv[4], argv[5:])
    elif cmd == "report" and len(argv) in (4, 5):
        report(argv[2], argv[3], int(argv[4]) if len(argv) == 5 else 1000)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
