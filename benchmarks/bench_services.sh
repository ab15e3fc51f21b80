#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Services benchmark (JSON lines on stdout, logs on stderr): ClusterIP services at several scales
# through podlane's nat-lb and, as the baseline measured in the same run, through the Linux
# kernel with the rules kube-proxy's iptables mode writes.
#   "podlane": lab node 1 with podlane on its uplink (as in tests/services), 10 backend pods and
#              a client pod added by `podlanectl pod add`; Services and EndpointSlices applied
#              with `podlanectl apply -f` into the directory datastore (which stores each object
#              in a file of its own, fsync'ed), PER_FILE (200) services and their slices (400
#              objects, about 300 KB) an apply: a document is limited to 1 MB.
#              services.max_frontends 32768, max_backends 131072, max_sessions 65536,
#              policy.max_endpoints and max_rules 1024 (no policies here), dpdk.socket_mem_mb 256.
#   "kernel":  a second lab (another name) without podlane, pods wired by veth pairs exactly as
#              benchmarks/bench_node.sh does (bench_lib.sh kernel_pod), and in its node namespace
#              kube-proxy's iptables rules (pkg/proxy/iptables, ClusterIP services): nat
#              PREROUTING/OUTPUT -> KUBE-SERVICES, one rule per service port jumping to
#              KUBE-SVC-<hash> (chain names as kube-proxy hashes them), which marks for masquerade
#              what does not come from the cluster CIDR and picks KUBE-SEP-<hash> with `-m statistic
#              --mode random --probability 1/k` (k: endpoints left; the last rule has none); each
#              KUBE-SEP marks hairpin traffic and DNATs; KUBE-POSTROUTING masquerades marked
#              traffic; plus kube-proxy's fixed filter-table chains (KUBE-FORWARD & co.). Loaded
#              with iptables-restore --noflush (every chain declared, as kube-proxy's full sync); a
#              service added as kube-proxy's partial sync does it: KUBE-SERVICES rewritten whole,
#              the new service's chains. The rules live in the lab's namespace and go with it.
#              Backend: iptables-legacy (PODLANE_BENCH_IPTABLES=nft for iptables-nft: with iptables
#              1.8.9 it took 7 s to load 1,000 services of 10 endpoints, 4 min for 3,000 and did not
#              finish 10,000 in 20 min, in userspace).
# Every scale N (PODLANE_BENCH_SCALES, default "10 1000 10000") has N services svc-I (ClusterIP
# 10.96.x.y port 80 -> 8080) of 10 endpoints each: the 10 backend pods, each running
# tests/services/svc_tool.py serve on 8080; plus one service "iperf" (10.97.0.1:5201, one
# endpoint: an iperf3 server in pod 1). Both variants start each scale empty (the previous
# scale's objects deleted, resp. the nat and filter tables emptied), then:
#   load:          seconds from the first `apply` (all the files, one after the other), resp. the
#                  start of iptables-restore, until a TCP connect to the last service succeeds
#                  (then the whole table is checked: N services with 10 usable endpoints, resp.
#                  N + 2 rules in KUBE-SERVICES). One measurement per scale. podlane's line adds
#                  the table builds nat-lb made meanwhile and the time of its last one (as
#                  services/show reports it).
#   first_packet:  TCP connect time (SYN to SYN-ACK, measured around connect() in the client
#                  pod) to random services of the N, a new flow each, PODLANE_BENCH_CONNECTS (200)
#                  per run; median, p90, p99 in microseconds.
#   connect_direct: the same to the backend pods' own addresses (port 8080), no service: the
#                  path's share of first_packet, for reference. (In the kernel lab these new
#                  connections, too, walk all of KUBE-SERVICES, which none of its rules match.)
#   tcp_via_service: one iperf3 TCP stream to the iperf ClusterIP, PODLANE_BENCH_SECONDS (5) s;
#                  gbps = receiver's bits per second / 1e9.
#   add_one:       seconds from the start of `podlanectl apply -f` of one more service (Service
#                  and EndpointSlice in one file), resp. of the partial iptables-restore, until
#                  a TCP connect to its ClusterIP succeeds: measured in one process (monotonic
#                  clock) that runs the command and, from the same instant, starts a connect every
#                  2 ms (each dropped after 0.5 s, before a SYN retransmit); the time is when the
#                  first connect succeeded (SYN-ACK back); started_s: when that connect had been
#                  started (a SYN that waited in a queue while the table was built shows as
#                  started_s well before seconds). Run r adds the r-th extra service.
#                  podlane's line adds the build time nat-lb reports for that table.
# Runs alternate (podlane run 1, kernel run 1, podlane run 2, ...), PODLANE_BENCH_RUNS (3) per
# scale. Summary line per scale: medians and podlane/kernel ratios (for times a ratio below 1
# means podlane is faster, for gbps above 1), the load average, how many other podlane instances
# were running (they share the CPUs) and how often the supervisor restarted a podlane service
# since the start (a crash; logged with the supervisor's lines about it).
# Last line: shared memory per session of nat-lb's session table: the length of memzone "pl_ct"
# read from the running primary's memzone array (/var/run/dpdk/PREFIX/fbarray_memzone, struct
# rte_memzone of DPDK 22.11), divided by the capacity nat-lb reports (sessions/show: "N in use of
# CAP"), beside pl_ct_size() of ipc/pl_ct.c computed here (64-byte header + buckets: uint32, a
# power of two >= 2 * capacity, 64-byte aligned + capacity * 128-byte sessions); and the kernel's
# nf_conntrack slab object size for reference (struct nf_conn only: without its extensions and
# hash bucket).
#   PODLANE_BENCH_SCALES, PODLANE_BENCH_RUNS (3), PODLANE_BENCH_SECONDS (5),
#   PODLANE_BENCH_CONNECTS (200), PODLANE_BENCH_IPTABLES (legacy|nft)
. "$(dirname "$0")/../tests/services/services_lib.sh"
. "$(dirname "$0")/bench_lib.sh"
# shellcheck disable=SC2034 # read by node_lab_up
LAB_NODES=1 # services_lib's second node (a remote endpoint) is not used here

SCALES=${PODLANE_BENCH_SCALES:-10 1000 10000}
RUNS=${PODLANE_BENCH_RUNS:-3}
SECS=${PODLANE_BENCH_SECONDS:-5}
CONNECTS=${PODLANE_BENCH_CONNECTS:-200}
IPT=${PODLANE_BENCH_IPTABLES:-legacy}
[[ $RUNS =~ ^[1-9][0-9]*$ ]] && ((RUNS <= 50)) ||
	fail "PODLANE_BENCH_RUNS must be an integer 1..50 (got '$RUNS')"
[ -n "${SCALES// /}" ] || fail "PODLANE_BENCH_SCALES is empty"
for n in $SCALES; do
	# Within the limits configured below: 10 endpoints a service, RUNS services added.
	[[ $n =~ ^[1-9][0-9]*$ ]] && (((n + RUNS) * 10 + 1 <= 131072)) ||
		fail "PODLANE_BENCH_SCALES: '$n' is not a number of services 1..$((13107 - RUNS))"
done
[[ $SECS =~ ^[1-9][0-9]*$ ]] || fail "PODLANE_BENCH_SECONDS must be a positive integer (got '$SECS')"
[[ $CONNECTS =~ ^[1-9][0-9]*$ ]] ||
	fail "PODLANE_BENCH_CONNECTS must be a positive integer (got '$CONNECTS')"
case $IPT in
legacy | nft) ;;
*) fail "PODLANE_BENCH_IPTABLES must be legacy or nft (got '$IPT')" ;;
esac
IPT_RESTORE=iptables-$IPT-restore
IPT_SAVE=iptables-$IPT-save
for c in iperf3 jq "$IPT_RESTORE" conntrack; do
	command -v "$c" >/dev/null 2>&1 || fail "$c is not installed ('./podlane setup' installs it)"
done

BACKENDS=10 # pods 1..10: the endpoints of every service
CLIENT=11
PER_FILE=200
TPORT=8080
IPERF_VIP=10.97.0.1
IPERF_PORT=5201
CLUSTER_CIDR=10.98.0.0/16 # the lab's pod addresses (kube-proxy's --cluster-cidr)
POLL_MS=2
MAX_SESSIONS=65536
OUT=$T_DIR/results.jsonl
BT=$T_DIR/svcbench.py
# The kernel variant's lab (podlane's is $PODLANE_LAB, from node_lib); the trap: servers first,
# then background commands and the kernel lab, then podlane and its lab, the instance's files.
kernel_lab plsk services_cleanup
# The interpreter itself, once: a python3 on PATH may be a wrapper (pyenv's shims take seconds to
# start on a busy machine).
PYTHON=$(python3 -c 'import sys; print(sys.executable)') || fail "python3 does not run"
EPS=$(for ((k = 1; k <= BACKENDS; k++)); do lab_pod_v4 1 "$k"; done | paste -sd,)

# bg OUTFILE TIMEOUT_S CMD...: runs CMD in the background (so that a signal reaches the trap at
# once, which kills it) with stdout to OUTFILE; its exit status.
bg() {
	local out=$1 t=$2 pid rc=0
	shift 2
	timeout -k 5 "$t" "$@" >"$out" 2>>"$T_DIR/bg.err" &
	pid=$!
	BG_PIDS+=("$pid")
	wait "$pid" || rc=$?
	BG_PIDS=()
	return $rc
}

cat >"$BT" <<'PY'
#!/usr/bin/env python3
"""Helpers of benchmarks/bench_services.sh (written out by it; run inside the lab's namespaces).

  vip I                          ClusterIP of benchmark service I (0-based)
  extra-vip R                    ClusterIP of the R-th service added to a scale (1-based)
  podlane-files DIR N PER EPS TPORT
                                 Services svc-0..svc-N-1 (ClusterIP vip(I), TCP port 80 ->
                                 TPORT) and their EndpointSlices (endpoints EPS, comma
                                 separated), PER services (2 * PER objects) a file; prints paths
  podlane-one FILE NAME VIP PORT EPS TPORT
                                 one Service with its EndpointSlice in FILE
  ipt-full FILE N EXTRAS EPS TPORT CIDR
  ipt-add FILE N EXTRAS EPS TPORT CIDR
                                 kube-proxy (iptables mode) rules for N services, the iperf3
                                 service and EXTRAS added ones: the whole nat and filter tables
                                 (ipt-full), or the partial sync that adds extra EXTRAS
                                 (ipt-add: KUBE-SERVICES rewritten, the new chains)
  latency N PORT COUNT SEED [ADDRS]
                                 COUNT TCP connects to random services of 0..N-1 (or to random
                                 addresses of ADDRS, comma separated); JSON of the connect
                                 times (microseconds)
  effective VIP PORT TIMEOUT_S INTERVAL_MS CMDFILE
                                 runs the commands of CMDFILE (one a line, in order) and, from
                                 the same instant, starts a TCP connect to VIP:PORT every
                                 INTERVAL_MS; JSON: seconds from the start until a connect
                                 succeeded (effective_s), until that connect had been started
                                 (started_s), and until the commands were done
  memzone FILE NAME              length of DPDK memzone NAME from the primary's memzone
                                 array (FILE: the runtime dir's fbarray_memzone)
"""
import base64
import errno
import hashlib
import json
import os
import random
import selectors
import shlex
import socket
import statistics
import struct
import subprocess
import sys
import threading
import time

NS = "bench"
IPERF = ("iperf", "10.97.0.1", 5201)


def vip(i):
    return "10.96.%d.%d" % (i // 254, i % 254 + 1)


def extra_vip(r):
    return "10.100.%d.%d" % (r // 254, r % 254 + 1)


def svc_doc(name, ip, port, tport, eps):
    out = [
        "apiVersion: v1\nkind: Service\n"
        "metadata: {name: %s, namespace: %s}\n"
        "spec:\n  type: ClusterIP\n  clusterIP: %s\n"
        "  ports:\n    - {name: http, protocol: TCP, port: %d, targetPort: %d}\n"
        % (name, NS, ip, port, tport),
        "---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"
        "metadata: {name: %s-ipv4, namespace: %s, labels: {kubernetes.io/service-name: %s}}\n"
        "addressType: IPv4\nports:\n  - {name: http, port: %d, protocol: TCP}\nendpoints:\n"
        % (name, NS, name, tport),
    ]
    for a in eps:
        out.append(
            "  - addresses: [%s]\n    nodeName: n1\n"
            "    conditions: {ready: true, serving: true, terminating: false}\n" % a
        )
    return "".join(out)


def podlane_files(d, n, per, eps, tport):
    for f0 in range(0, n, per):
        path = os.path.join(d, "svc-%05d.yaml" % (f0 // per))
        docs = [svc_doc("svc-%d" % i, vip(i), 80, tport, eps) for i in range(f0, min(n, f0 + per))]
        with open(path, "w") as f:
            f.write("---\n".join(docs))
        print(path)


def podlane_one(path, name, ip, port, eps, tport):
    with open(path, "w") as f:
        f.write(svc_doc(name, ip, port, tport, eps))


# ---- kube-proxy's iptables mode (pkg/proxy/iptables/proxier.go), ClusterIP services only ----


def chain_hash(s):
    return base64.b32encode(hashlib.sha256(s.encode()).digest()).decode()[:16]


def services(n, extras, eps, tport):
    """(name, vip, port, endpoints "ip:port") of every service in the table, in order."""
    s = [("svc-%d" % i, vip(i), 80, ["%s:%d" % (a, tport) for a in eps]) for i in range(n)]
    s.append((IPERF[0], IPERF[1], IPERF[2], ["%s:%d" % (eps[0], IPERF[2])]))
    s += [("x%d-%d" % (n, r), extra_vip(r), 80, ["%s:%d" % (a, tport) for a in eps])
          for r in range(1, extras + 1)]
    return s


def spn(name):
    return "%s/%s:http" % (NS, name)


def svc_chain(name):
    return "KUBE-SVC-" + chain_hash(spn(name) + "tcp")


def sep_chain(name, ep):
    return "KUBE-SEP-" + chain_hash(spn(name) + "tcp" + ep)


def services_rules(svcs):
    r = []
    for name, ip, port, _ in svcs:
        r.append('-A KUBE-SERVICES -d %s/32 -p tcp -m comment --comment "%s cluster IP" '
                 "-m tcp --dport %d -j %s" % (ip, spn(name), port, svc_chain(name)))
    r.append('-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this '
             'must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS')
    return r


def svc_chains(svc, cidr):
    """Chain declarations and rules of one service: KUBE-SVC-* and its KUBE-SEP-*."""
    name, ip, port, eps = svc
    sc = svc_chain(name)
    decl, rules = [":%s - [0:0]" % sc], []
    rules.append('-A %s ! -s %s -d %s/32 -p tcp -m comment --comment "%s cluster IP" -m tcp '
                 "--dport %d -j KUBE-MARK-MASQ" % (sc, cidr, ip, spn(name), port))
    k = len(eps)
    for i, ep in enumerate(eps):
        stat = ""
        if i < k - 1:
            stat = " -m statistic --mode random --probability %0.10f" % (1.0 / (k - i))
        rules.append('-A %s -m comment --comment "%s -> %s"%s -j %s'
                     % (sc, spn(name), ep, stat, sep_chain(name, ep)))
    for ep in eps:
        c = sep_chain(name, ep)
        decl.append(":%s - [0:0]" % c)
        rules.append('-A %s -s %s/32 -m comment --comment "%s" -j KUBE-MARK-MASQ'
                     % (c, ep.split(":")[0], spn(name)))
        rules.append('-A %s -p tcp -m comment --comment "%s" -m tcp -j DNAT --to-destination %s'
                     % (c, spn(name), ep))
    return decl, rules


FILTER = """*filter
:KUBE-EXTERNAL-SERVICES - [0:0]
:KUBE-FORWARD - [0:0]
:KUBE-NODEPORTS - [0:0]
:KUBE-PROXY-FIREWALL - [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-FIREWALL - [0:0]
-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL
-A INPUT -m comment --comment "kubernetes health check service ports" -j KUBE-NODEPORTS
-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES
-A INPUT -j KUBE-FIREWALL
-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL
-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD
-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES
-A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL
-A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A OUTPUT -j KUBE-FIREWALL
-A KUBE-FIREWALL ! -s 127.0.0.0/8 -d 127.0.0.0/8 -m comment --comment "block incoming localnet connections" -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP
-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
COMMIT
"""

NAT_FIXED = """:KUBE-SERVICES - [0:0]
:KUBE-NODEPORTS - [0:0]
:KUBE-POSTROUTING - [0:0]
:KUBE-MARK-MASQ - [0:0]
-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING
-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000
-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully
-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000
"""


def ipt(path, full, n, extras, eps, tport, cidr):
    svcs = services(n, extras, eps, tport)
    decl, rules = [], []
    for s in (svcs if full else svcs[-1:]):
        d, r = svc_chains(s, cidr)
        decl += d
        rules += r
    with open(path, "w") as f:
        if full:
            f.write(FILTER)
            f.write("*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
                    ":POSTROUTING ACCEPT [0:0]\n")
            f.write(NAT_FIXED)
        else:
            f.write("*nat\n:KUBE-SERVICES - [0:0]\n")
        f.write("\n".join(decl + services_rules(svcs) + rules))
        f.write("\nCOMMIT\n")
    print(json.dumps({"services": len(svcs), "chains": len(decl),
                      "rules": len(rules) + len(svcs) + 1}))


# ---- measurements ----


def latency(n, port, count, seed, addrs=None):
    rnd = random.Random(seed)
    t, errors = [], {}
    for _ in range(count):
        a = rnd.choice(addrs) if addrs else vip(rnd.randrange(n))
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(3.0)
        try:
            t0 = time.perf_counter_ns()
            s.connect((a, port))
            t.append((time.perf_counter_ns() - t0) / 1000.0)
        except OSError as e:
            k = errno.errorcode.get(e.errno, str(e)) if e.errno else type(e).__name__
            errors[k] = errors.get(k, 0) + 1
        finally:
            s.close()
    t.sort()
    q = lambda p: round(t[min(len(t) - 1, int(p * len(t)))], 1) if t else None
    print(json.dumps({"connects": count, "ok": len(t), "errors": errors,
                      "median_us": round(statistics.median(t), 1) if t else None,
                      "p90_us": q(0.90), "p99_us": q(0.99), "min_us": q(0.0),
                      "mean_us": round(statistics.fmean(t), 1) if t else None}))


def effective(ip, port, timeout_s, interval_ms, cmdfile):
    with open(cmdfile) as f:
        cmds = [shlex.split(l) for l in f if l.strip()]
    done = {}

    def run():
        for c in cmds:
            p = subprocess.run(c, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            if p.returncode:
                done["error"] = "%s: exit %d: %s" % (" ".join(c), p.returncode,
                                                       p.stderr.decode(errors="replace")[-500:])
                break
        done["t"] = time.monotonic()

    sel = selectors.DefaultSelector()
    t0 = time.monotonic()
    th = threading.Thread(target=run, daemon=True)
    th.start()
    attempts, found, nxt = 0, None, t0
    while found is None:
        now = time.monotonic()
        if "error" in done:
            break
        if now - t0 > timeout_s:
            break
        if now >= nxt:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            attempts += 1
            try:
                s.connect((ip, port))
            except BlockingIOError:
                pass
            except OSError:
                s.close()
                s = None
            if s is not None:
                sel.register(s, selectors.EVENT_WRITE, now)
            nxt = now + interval_ms / 1000.0
        for key, _ in sel.select(max(0.0, nxt - time.monotonic())):
            s, started = key.fileobj, key.data
            sel.unregister(s)
            if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0 and found is None:
                found = (started, time.monotonic())
            s.close()
        # An attempt still pending after 0.5 s is dropped before its SYN is retransmitted (1 s):
        # a success is always that of the SYN sent when it started.
        now = time.monotonic()
        for key in list(sel.get_map().values()):
            if now - key.data > 0.5:
                sel.unregister(key.fileobj)
                key.fileobj.close()
    for key in list(sel.get_map().values()):
        key.fileobj.close()
    th.join(timeout=max(1.0, timeout_s))
    out = {"effective_s": round(found[1] - t0, 4) if found is not None else None,
           "started_s": round(found[0] - t0, 4) if found is not None else None,
           "commands_s": round(done["t"] - t0, 4) if "t" in done else None,
           "commands": len(cmds), "attempts": attempts, "interval_ms": interval_ms}
    if "error" in done:
        out["error"] = done["error"]
    print(json.dumps(out))
    return 0 if found is not None and "error" not in done else 1


def memzone(path, name):
    # struct rte_memzone (DPDK 22.11, packed): name[32], iova, addr, len, hugepage_sz,
    # socket_id, flags: 72 bytes; the array is the primary's, shared through this file.
    size = 72
    with open(path, "rb") as f:
        data = f.read()
    for off in range(0, len(data) - size + 1, size):
        nm = data[off:off + 32].split(b"\0", 1)[0]
        if nm == name.encode():
            iova, addr, ln, hp, sock, flags = struct.unpack_from("<QQQQiI", data, off + 32)
            print(json.dumps({"name": name, "len": ln, "hugepage_sz": hp}))
            return 0
    return 1


def main(a):
    c = a[0]
    if c == "vip":
        print(vip(int(a[1])))
    elif c == "extra-vip":
        print(extra_vip(int(a[1])))
    elif c == "podlane-files":
        podlane_files(a[1], int(a[2]), int(a[3]), a[4].split(","), int(a[5]))
    elif c == "podlane-one":
        podlane_one(a[1], a[2], a[3], int(a[4]), a[5].split(","), int(a[6]))
    elif c in ("ipt-full", "ipt-add"):
        ipt(a[1], c == "ipt-full", int(a[2]), int(a[3]), a[4].split(","), int(a[5]), a[6])
    elif c == "latency":
        latency(int(a[1]), int(a[2]), int(a[3]), int(a[4]), a[5].split(",") if len(a) > 5 else None)
    elif c == "effective":
        return effective(a[1], int(a[2]), float(a[3]), float(a[4]), a[5])
    elif c == "memzone":
        return memzone(a[1], a[2])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
PY

# ---------------------------------------------------------------------------------------------
# The podlane variant: as tests/services, with table limits for 10,000 services x 10 endpoints.
log "podlane lab $PODLANE_LAB: up, podlane on node 1's uplink, $BACKENDS backend pods, a client"
node_lab_up
mkdir -p "$DS_DIR"
node_config "node_name: $NODE_NAME
datastore:
  source: dir
  dir: $DS_DIR
services:
  max_sessions: $MAX_SESSIONS
  max_frontends: 32768
  max_backends: 131072
policy:
  max_endpoints: 1024
  max_rules: 1024"
# Two generations of the service table (about 33 MB each at these limits) and the session table
# (8.5 MB) beside the packet pool: more than the tests' 128 MB.
sed -i 's/^  socket_mem_mb: .*/  socket_mem_mb: 256/' "$T_CONF"
grep -q '^  socket_mem_mb: 256$' "$T_CONF" || fail "could not set dpdk.socket_mem_mb in $T_CONF"
start_node_podlane
start_backends "$BACKENDS"
add_pod "$CLIENT"
in_pod 1 iperf3 -s -B "$(lab_pod_v4 1 1)" -p $IPERF_PORT >>"$T_DIR/iperf3-server.log" 2>&1 &
SERVER_PIDS+=($!)
"$PYTHON" "$BT" podlane-one "$T_DIR/iperf.yaml" iperf $IPERF_VIP $IPERF_PORT "$(lab_pod_v4 1 1)" \
	$IPERF_PORT
ctl apply -f "$T_DIR/iperf.yaml" >/dev/null || fail "apply the iperf service"

# ---------------------------------------------------------------------------------------------
# The kernel variant: another lab, pods wired by veth pairs (bench_lib.sh kernel_pod, as in
# bench_node.sh), kube-proxy rules.
log "kernel lab $KLAB: up, veth-wired pods, kernel forwarding, iptables ($IPT)"
kernel_lab_up
for ((k = 1; k <= CLIENT; k++)); do
	kernel_pod "$k"
done
for ((k = 1; k <= BACKENDS; k++)); do
	ip netns exec "$(klab lab_pod_ns 1 "$k")" "$PYTHON" "$SVC_TOOL" serve "k$k" $TPORT \
		>>"$T_DIR/server.log" 2>&1 &
	SERVER_PIDS+=($!)
done
ip netns exec "$(klab lab_pod_ns 1 1)" iperf3 -s -B "$(lab_pod_v4 1 1)" -p $IPERF_PORT \
	>>"$T_DIR/iperf3-server.log" 2>&1 &
SERVER_PIDS+=($!)
klistening() { ip netns exec "$(klab lab_pod_ns 1 "$1")" ss -ltnH "sport = :$2" | grep -q .; }
for ((k = 1; k <= BACKENDS; k++)); do
	wait_for 30 "kernel lab: server in pod $k" klistening "$k" $TPORT ||
		fail "kernel lab: server in pod $k did not start: $(ip netns exec "$(klab lab_pod_ns 1 "$k")" ss -ltnp) $(tail -5 "$T_DIR/server.log")"
done
wait_for 10 "kernel lab: iperf3 server" klistening 1 $IPERF_PORT ||
	fail "kernel lab: iperf3 server did not start"
plistening() { in_pod 1 ss -ltnH "sport = :$IPERF_PORT" | grep -q .; }
wait_for 10 "podlane lab: iperf3 server" plistening || fail "podlane lab: iperf3 server did not start"

# ---------------------------------------------------------------------------------------------
# Both variants.
declare -A CNS
CNS[podlane]=$(lab_pod_ns 1 $CLIENT)
CNS[kernel]=$(klab lab_pod_ns 1 $CLIENT)
bt() { "$PYTHON" "$BT" "$@"; }
in_client_of() { # VARIANT CMD...
	local v=$1
	shift
	ip netns exec "${CNS[$v]}" "$@"
}
for v in podlane kernel; do
	for ((k = 1; k <= BACKENDS; k++)); do
		reach() { in_client_of "$1" ping -c 1 -W 1 "$(lab_pod_v4 1 "$2")"; }
		wait_for 20 "$v: client -> pod $k" reach "$v" "$k" || fail "$v: client cannot reach pod $k"
	done
done
log "both labs up; clients reach every backend pod"

# N bench services with BACKENDS usable endpoints each, and the iperf service with one.
podlane_table_is() { # N
	ctl -t 120000 -s nat-lb -j services/show | jq -e --argjson n "$1" --argjson b $BACKENDS '
		[.[] | select(.kind == "ClusterIP")] as $f |
		($f | length) == $n + 1 and
		all($f[]; ([.endpoints[] | select(.usable)] | length) ==
			(if .service == "bench/iperf" then 1 else $b end))' >/dev/null
}
kernel_table_is() { # N: N + iperf + the NodePorts rule in KUBE-SERVICES
	[ "$(ip netns exec "$KNODE" "$IPT_SAVE" -t nat | grep -c '^-A KUBE-SERVICES ')" = $(($1 + 2)) ]
}
kernel_empty() {
	ip netns exec "$KNODE" "$IPT_RESTORE" <<EOT
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
COMMIT
EOT
}
natlb_counter() { ctl -s nat-lb -j counters/show "$1" | jq -r ".$1"; }
# How long nat-lb says its last table build took (services/show: "table S built in U us").
natlb_build_us() {
	local l
	l=$(ctl -t 120000 -s nat-lb services/show | tail -1)
	[[ $l =~ built\ in\ ([0-9]+)\ us ]] || fail "services/show: no build time in '$l'"
	echo "${BASH_REMATCH[1]}"
}
# Other podlane instances on this machine share its CPUs with the one measured.
others() { pgrep -f '/podlane-supervisor -c ' | grep -cvx "$SUP_PID" || true; }

# effective VARIANT OUTFILE TIMEOUT_S VIP CMDFILE: svcbench.py effective in the client's pod.
effective() {
	local v=$1 out=$2 t=$3 ip=$4 cmds=$5
	if ! bg "$out" $((t + 30)) ip netns exec "${CNS[$v]}" "$PYTHON" "$BT" effective "$ip" 80 "$t" \
		$POLL_MS "$cmds"; then
		fail "$v: $ip not effective within ${t}s: $(cat "$out") $(tail -3 "$T_DIR/bg.err")"
	fi
}

tag() { # VARIANT N RUN TEST: jq filter prefix of a result line
	printf '{bench: "services", variant: "%s", scale: %s, run: %s, test: "%s"} + ' "$@"
}

latency_run() { # VARIANT N RUN SEED [direct]
	local out=$T_DIR/lat.$1.$2.$3.json test=first_packet args
	if [ "${5:-}" = direct ]; then
		test=connect_direct
		args=("$2" "$TPORT" "$CONNECTS" "$4" "$EPS")
	else
		args=("$2" 80 "$CONNECTS" "$4")
	fi
	bg "$out" 300 ip netns exec "${CNS[$1]}" "$PYTHON" "$BT" latency "${args[@]}" ||
		fail "$1: latency run failed: $(tail -3 "$T_DIR/bg.err")"
	jq -c "$(tag "$1" "$2" "$3" $test) ." "$out"
	jq -e '.errors == {}' "$out" >/dev/null ||
		log "WARNING: $1 with $2 services: connects failed: $(jq -c .errors "$out")"
}

tput_run() { # VARIANT N RUN [SECONDS]
	local out=$T_DIR/tcp.$1.$2.$3.json secs=${4:-$SECS}
	if ! bg "$out" $((secs + 60)) ip netns exec "${CNS[$1]}" \
		iperf3 -c $IPERF_VIP -p $IPERF_PORT -t "$secs" -J; then
		fail "$1: iperf3 through $IPERF_VIP failed: $(jq -r '.error // empty' "$out" 2>/dev/null) $(tail -3 "$T_DIR/bg.err")"
	fi
	jq -c "$(tag "$1" "$2" "$3" tcp_via_service)"'
		{gbps: (.end.sum_received.bits_per_second / 1e9 * 1000 | round / 1000),
		 retransmits: .end.sum_sent.retransmits,
		 seconds: (.end.sum_received.seconds * 1000 | round / 1000)}' "$out"
}

add_run() { # VARIANT N RUN
	local v=$1 n=$2 r=$3 f cmds=$T_DIR/add.cmds out=$T_DIR/add.$1.$2.$3.json vip
	vip=$(bt extra-vip "$r")
	if [ "$v" = podlane ]; then
		f=$T_DIR/x$n-$r.yaml
		bt podlane-one "$f" "x$n-$r" "$vip" 80 "$EPS" $TPORT
		PREV_FILES+=("$f")
		printf '%q -c %q apply -f %q\n' "$CTL" "$T_CONF" "$f" >"$cmds"
	else
		f=$T_DIR/ipt-add.$n.$r
		bt ipt-add "$f" "$n" "$r" "$EPS" $TPORT $CLUSTER_CIDR >/dev/null
		printf 'ip netns exec %q %q --noflush %q\n' "$KNODE" "$IPT_RESTORE" "$f" >"$cmds"
	fi
	effective "$v" "$out" 120 "$vip" "$cmds"
	local extra='{}'
	[ "$v" != podlane ] || extra=$(jq -nc --argjson us "$(natlb_build_us)" '{natlb_last_build_us: $us}')
	jq -c --argjson x "$extra" "$(tag "$v" "$n" "$r" add_one) {seconds: .effective_s,
		started_s, command_s: .commands_s, poll_interval_ms: .interval_ms, attempts, vip: \"$vip\",
		services_before: $((n + r))} + \$x" "$out"
}

# load VARIANT N: from empty to N services (and iperf); one line.
load() {
	local v=$1 n=$2 cmds=$T_DIR/load.cmds out=$T_DIR/load.$1.$2.json last extra f
	last=$(bt vip $((n - 1)))
	if [ "$v" = podlane ]; then
		: >"$cmds"
		for f in "${FILES[@]}"; do
			printf '%q -c %q apply -f %q\n' "$CTL" "$T_CONF" "$f" >>"$cmds"
		done
		local reb0 err0
		reb0=$(natlb_counter table_rebuilds)
		err0=$(natlb_counter table_errors)
		effective "$v" "$out" 600 "$last" "$cmds"
		wait_for 120 "podlane: $n services in nat-lb's table" podlane_table_is "$n" ||
			fail "podlane: table incomplete after loading $n services: $(ctl -t 120000 -s nat-lb services/show | tail -2)"
		extra=$(jq -nc --argjson us "$(natlb_build_us)" \
			--argjson reb $(($(natlb_counter table_rebuilds) - reb0)) \
			--argjson err $(($(natlb_counter table_errors) - err0)) \
			--argjson files ${#FILES[@]} \
			'{files: $files, table_rebuilds: $reb, table_errors: $err, natlb_last_build_us: $us}')
	else
		printf 'ip netns exec %q %q --noflush %q\n' "$KNODE" "$IPT_RESTORE" "$T_DIR/ipt-full.$n" \
			>"$cmds"
		effective "$v" "$out" 600 "$last" "$cmds"
		kernel_table_is "$n" || fail "kernel: KUBE-SERVICES does not hold $n services"
		extra=$(jq -nc --argjson c "$(cat "$T_DIR/ipt-full.$n.count")" \
			'{iptables_chains: $c.chains, iptables_rules: $c.rules}')
	fi
	jq -c --argjson x "$extra" "$(tag "$v" "$n" 0 load) {seconds: .effective_s, started_s,
		command_s: .commands_s, poll_interval_ms: .interval_ms} + \$x" "$out"
}

PREV_FILES=()
FILES=()
for N in $SCALES; do
	log "scale $N: emptying both tables"
	for f in ${PREV_FILES[@]+"${PREV_FILES[@]}"}; do
		ctl delete -f "$f" >/dev/null || fail "delete -f $f"
	done
	wait_for 300 "podlane: only the iperf service left" podlane_table_is 0 ||
		fail "podlane: table not emptied: $(ctl -t 120000 -s nat-lb services/show | tail -2)"
	ctl -s nat-lb sessions/flush >/dev/null || fail "sessions/flush"
	kernel_empty || fail "kernel: emptying the nat and filter tables"
	ip netns exec "$KNODE" conntrack -F >/dev/null 2>&1 || true
	mkdir -p "$T_DIR/files.$N"
	mapfile -t FILES < <(bt podlane-files "$T_DIR/files.$N" "$N" $PER_FILE "$EPS" $TPORT)
	PREV_FILES=("${FILES[@]}")
	bt ipt-full "$T_DIR/ipt-full.$N" "$N" 0 "$EPS" $TPORT $CLUSTER_CIDR >"$T_DIR/ipt-full.$N.count"

	for v in podlane kernel; do
		log "scale $N: $v: loading $N services"
		load "$v" "$N" >>"$OUT"
		tail -n 1 "$OUT"
	done
	# Warm-up (not reported): neighbours, pages, the scheduler; and the iperf service works.
	for v in podlane kernel; do
		latency_run "$v" "$N" 0 1 >/dev/null
		tput_run "$v" "$N" 0 1 >/dev/null
	done
	log "scale $N: loaded and warm; $RUNS runs"
	for ((r = 1; r <= RUNS; r++)); do
		for v in podlane kernel; do
			# Not in a pipeline: the clients must run in this shell, where the trap sees them.
			latency_run "$v" "$N" "$r" $((N * 100 + r)) >>"$OUT"
			tail -n 1 "$OUT"
			latency_run "$v" "$N" "$r" $((N * 100 + r)) direct >>"$OUT"
			tail -n 1 "$OUT"
			tput_run "$v" "$N" "$r" >>"$OUT"
			tail -n 1 "$OUT"
			add_run "$v" "$N" "$r" >>"$OUT"
			tail -n 1 "$OUT"
		done
	done
	restarts=$(counter supervisor restarts)
	[ "$restarts" = 0 ] || log "WARNING: podlane services restarted $restarts times so far: $(grep -E 'killed by|exited [1-9]' "$T_DIR/supervisor.log" | tail -3)"
	jq -sc --argjson n "$N" --argjson runs "$RUNS" --arg ipt "$IPT" --argjson others "$(others)" \
		--argjson restarts "$restarts" \
		--arg load "$(cut -d' ' -f1-3 /proc/loadavg)" '
		def median: sort | if length == 0 then null elif length % 2 == 1 then .[length / 2 | floor]
			else (.[length / 2 - 1] + .[length / 2]) / 2 end;
		def med(v; t; f): [.[] | select(.scale == $n and .run > 0 and .variant == v and .test == t)
			| .[f]] | median;
		def one(v; t; f): [.[] | select(.scale == $n and .variant == v and .test == t) | .[f]][0];
		def r(d): if . == null then null else (. * d | round / d) end;
		def ratio(a; b): if a == null or b == null or b == 0 then null else (a / b * 10000 | round / 10000) end;
		def pair(x; y): {podlane: x, kernel: y};
		(med("podlane"; "first_packet"; "median_us") | r(10)) as $pl |
		(med("kernel"; "first_packet"; "median_us") | r(10)) as $kl |
		(med("podlane"; "first_packet"; "p99_us") | r(10)) as $pl99 |
		(med("kernel"; "first_packet"; "p99_us") | r(10)) as $kl99 |
		(med("podlane"; "connect_direct"; "median_us") | r(10)) as $pd |
		(med("kernel"; "connect_direct"; "median_us") | r(10)) as $kd |
		(med("podlane"; "tcp_via_service"; "gbps") | r(1000)) as $pt |
		(med("kernel"; "tcp_via_service"; "gbps") | r(1000)) as $kt |
		(med("podlane"; "add_one"; "seconds") | r(10000)) as $pa |
		(med("kernel"; "add_one"; "seconds") | r(10000)) as $ka |
		(one("podlane"; "load"; "seconds")) as $pld |
		(one("kernel"; "load"; "seconds")) as $kld |
		{summary: "services", scale: $n, endpoints_per_service: 10,
		 first_packet_connect_us_median: pair($pl; $kl),
		 first_packet_connect_p99_us_median: pair($pl99; $kl99),
		 direct_connect_us_median: pair($pd; $kd),
		 tcp_gbps_median: pair($pt; $kt),
		 add_one_effective_s_median: pair($pa; $ka),
		 load_s: pair($pld; $kld),
		 connect_errors: pair([.[] | select(.scale == $n and .variant == "podlane" and .test == "first_packet") | .errors | add // 0] | add;
			[.[] | select(.scale == $n and .variant == "kernel" and .test == "first_packet") | .errors | add // 0] | add),
		 ratio_podlane_to_kernel: {first_packet_us: ratio($pl; $kl), first_packet_p99_us: ratio($pl99; $kl99),
			direct_connect_us: ratio($pd; $kd),
			tcp_gbps: ratio($pt; $kt), add_one_s: ratio($pa; $ka), load_s: ratio($pld; $kld)},
		 iptables: $ipt, runs: $runs, loadavg: $load, other_podlane_instances: $others,
		 podlane_restarts_so_far: $restarts}' "$OUT" >"$T_DIR/summary.json"
	cat "$T_DIR/summary.json" >>"$OUT"
	tail -n 1 "$OUT"
done

# ---------------------------------------------------------------------------------------------
# Shared memory per session (podlane): the memzone as the running primary has it.
line=$(ctl -s nat-lb sessions/show 192.0.2.1 | tail -1)
[[ $line =~ ([0-9]+)\ in\ use\ of\ ([0-9]+) ]] || fail "sessions/show: no capacity in '$line'"
cap=${BASH_REMATCH[2]}
mz=$(bt memzone "/var/run/dpdk/$T_PREFIX/fbarray_memzone" pl_ct) ||
	fail "memzone pl_ct not found in /var/run/dpdk/$T_PREFIX/fbarray_memzone"
slab=$(awk '$1 == "nf_conntrack" { print $4 }' /proc/slabinfo 2>/dev/null | head -1)
machine="$(nproc) cpus, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), kernel $(uname -r)"
jq -nc --argjson mz "$mz" --argjson cap "$cap" --argjson max "$MAX_SESSIONS" \
	--argjson created "$(natlb_counter sessions_created)" --argjson full "$(natlb_counter sessions_full)" \
	--arg slab "${slab:-}" --arg machine "$machine" '
	def pow2(n): 1 | until(. >= n; . * 2);
	(pow2(2 * $cap)) as $b |
	(64 + (($b * 4 + 63) / 64 | floor) * 64 + $cap * 128) as $f |
	{bench: "services", test: "session_memory", memzone: "pl_ct", memzone_bytes: $mz.len,
	 capacity: $cap, config_max_sessions: $max,
	 bytes_per_session: ($mz.len / $cap * 1000 | round / 1000),
	 pl_ct_size_computed: $f, computed_bytes_per_session: ($f / $cap * 1000 | round / 1000),
	 matches: ($f == $mz.len), session_struct_bytes: 128, buckets: $b,
	 sessions_created: $created, sessions_full: $full,
	 kernel_nf_conntrack_slab_objsize: (if $slab == "" then null else ($slab | tonumber) end),
	 machine: $machine}' | tee -a "$OUT"
log "done"
