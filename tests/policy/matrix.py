#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The NetworkPolicy connectivity matrix (run by test_policy_matrix.sh in the lab).

  matrix.py probe TIMEOUT TARGET...   (inside a pod's netns) TARGET = NAME,ADDR,PROTO,PORT;
                                      probes all at once; prints {NAME/PROTO/PORT: bool}
  matrix.py run CONFIG.json           every scenario: apply its objects with podlanectl, wait
                                      for the policy stage to compile them, probe every pod
                                      from every pod (TCP 80, TCP 81, UDP 53), compare cell by
                                      cell with the scenario's expectation, remove the objects.

CONFIG: {"ctl": [...podlanectl argv...], "pods": [{"name": "x/a", "ns": "x", "pod": "a",
"ip": "10.98.1.11", "netns": "..."}...], "tmp": DIR, "only": [scenario names] (optional)}.
Expectations are written per scenario as a function of (src pod, dst pod, probe), from the
Kubernetes rules, independently of podlane's compiler.
"""
import concurrent.futures
import json
import os
import socket
import subprocess
import sys
import time

PROBES = [("tcp", 80), ("tcp", 81), ("udp", 53)]


# --------------------------------------------------------------------------------------------
# probing (inside a pod)

def probe_one(addr, proto, port, timeout):
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    if proto == "tcp":
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            s.connect((addr, port))
            return True
        except OSError:
            return False
        finally:
            s.close()
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.settimeout(timeout / 3)
    try:
        s.connect((addr, port))
        for _ in range(3):
            try:
                s.send(b"probe")
                s.recv(256)
                return True
            except socket.timeout:
                continue
            except OSError:
                return False
        return False
    finally:
        s.close()


def probe_main(timeout, targets):
    out = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(targets)) as ex:
        futs = {}
        for t in targets:
            name, addr, proto, port = t.split(",")
            futs[ex.submit(probe_one, addr, proto, int(port), timeout)] = "%s/%s/%s" % (
                name, proto, port)
        for f, key in futs.items():
            out[key] = f.result()
    print(json.dumps(out))


# --------------------------------------------------------------------------------------------
# scenarios

def np_doc(ns, name, spec):
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": ns}, "spec": spec}


def in_ns(p, ns):
    return p["ns"] == ns


def scenarios(pods):
    ip = {p["name"]: p["ip"] for p in pods}
    s = []

    def add(name, docs, expect):
        s.append((name, docs, expect))

    # Expectation helpers: f(src, dst, proto, port) -> allowed
    add("no policy", [], lambda a, b, pr, po: True)
    add("deny all ingress in x",
        [np_doc("x", "deny-in", {"podSelector": {}, "policyTypes": ["Ingress"]})],
        lambda a, b, pr, po: b["ns"] != "x" or a is b)
    add("deny all egress in x",
        [np_doc("x", "deny-out", {"podSelector": {}, "policyTypes": ["Egress"]})],
        lambda a, b, pr, po: a["ns"] != "x" or a is b)
    add("allow from the same namespace",
        [np_doc("x", "same-ns", {"podSelector": {}, "ingress": [{"from": [{"podSelector": {}}]}]})],
        lambda a, b, pr, po: b["ns"] != "x" or a["ns"] == "x")
    add("allow from a namespace by label",
        [np_doc("x", "from-y", {"podSelector": {},
                                "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"ns": "y"}}}]}]})],
        lambda a, b, pr, po: b["ns"] != "x" or a["ns"] == "y" or a is b)
    add("pod AND namespace selector in one peer",
        [np_doc("x", "and", {"podSelector": {"matchLabels": {"pod": "a"}},
                             "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"ns": "y"}},
                                                    "podSelector": {"matchLabels": {"pod": "b"}}}]}]})],
        lambda a, b, pr, po: b["name"] != "x/a" or a["name"] == "y/b" or a is b)
    add("pod OR namespace selector in two peers",
        [np_doc("x", "or", {"podSelector": {"matchLabels": {"pod": "a"}},
                            "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"ns": "y"}}},
                                                  {"podSelector": {"matchLabels": {"pod": "b"}}}]}]})],
        lambda a, b, pr, po: b["name"] != "x/a" or a["ns"] == "y" or a["name"] == "x/b" or a is b)
    add("matchExpressions NotIn and Exists",
        [np_doc("x", "exprs", {"podSelector": {"matchExpressions": [{"key": "pod", "operator": "In", "values": ["a", "b"]}]},
                               "ingress": [{"from": [{"namespaceSelector": {"matchExpressions": [{"key": "ns", "operator": "Exists"}]},
                                                      "podSelector": {"matchExpressions": [{"key": "pod", "operator": "NotIn", "values": ["c"]}]}}]}]})],
        lambda a, b, pr, po: b["name"] not in ("x/a", "x/b") or a["pod"] != "c" or a is b)
    add("ipBlock with except",
        [np_doc("x", "ipblock", {"podSelector": {"matchLabels": {"pod": "a"}},
                                 "ingress": [{"from": [{"ipBlock": {"cidr": "10.98.1.0/24",
                                                                    "except": [ip["y/a"] + "/32", ip["z/b"] + "/32"]}}]}]})],
        lambda a, b, pr, po: b["name"] != "x/a" or a["name"] not in ("y/a", "z/b") or a is b)
    add("named port",
        [np_doc("x", "named", {"podSelector": {"matchLabels": {"pod": "a"}},
                               "ingress": [{"ports": [{"port": "tcp-81"}]}]})],
        lambda a, b, pr, po: b["name"] != "x/a" or (pr, po) == ("tcp", 81) or a is b)
    add("port range with endPort",
        [np_doc("x", "range", {"podSelector": {},
                               "ingress": [{"ports": [{"protocol": "TCP", "port": 80, "endPort": 81}]}]})],
        lambda a, b, pr, po: b["ns"] != "x" or pr == "tcp" or a is b)
    add("egress denied except DNS",
        [np_doc("x", "dns-only", {"podSelector": {}, "policyTypes": ["Egress"],
                                  "egress": [{"ports": [{"protocol": "UDP", "port": 53}]}]})],
        lambda a, b, pr, po: a["ns"] != "x" or (pr, po) == ("udp", 53) or a is b)
    add("several policies add up",
        [np_doc("x", "from-y-b", {"podSelector": {"matchLabels": {"pod": "a"}},
                                  "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"ns": "y"}},
                                                         "podSelector": {"matchLabels": {"pod": "b"}}}]}]}),
         np_doc("x", "from-z", {"podSelector": {"matchLabels": {"pod": "a"}},
                                "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"ns": "z"}}}],
                                             "ports": [{"protocol": "TCP", "port": 80}]}]})],
        lambda a, b, pr, po: b["name"] != "x/a" or a["name"] == "y/b" or
        (a["ns"] == "z" and (pr, po) == ("tcp", 80)) or a is b)
    add("ingress and egress must both allow",
        [np_doc("y", "y-out-to-x", {"podSelector": {}, "policyTypes": ["Egress"],
                                    "egress": [{"to": [{"namespaceSelector": {"matchLabels": {"ns": "x"}}}]}]}),
         np_doc("x", "x-in-from-y-a", {"podSelector": {},
                                       "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"ns": "y"}},
                                                              "podSelector": {"matchLabels": {"pod": "a"}}}]}]})],
        lambda a, b, pr, po: a is b or
        ((a["ns"] != "y" or b["ns"] == "x") and (b["ns"] != "x" or a["name"] == "y/a")))
    return s


def to_yaml(docs):
    # JSON is YAML; one document each.
    return "\n---\n".join(json.dumps(d) for d in docs) + "\n"


def run(cfg):
    ctl = cfg["ctl"]
    pods = cfg["pods"]
    tmp = cfg["tmp"]
    only = cfg.get("only")

    def ctl_out(*args):
        return subprocess.run(ctl + list(args), capture_output=True, text=True)

    def rebuilds():
        r = ctl_out("-s", "policy", "-j", "counters/show", "table_rebuilds")
        return json.loads(r.stdout)["table_rebuilds"]

    def apply(docs, verb):
        path = os.path.join(tmp, "scenario.yaml")
        with open(path, "w") as f:
            f.write(to_yaml(docs))
        before = rebuilds()
        r = ctl_out(verb, "-f", path)
        if r.returncode != 0:
            raise SystemExit("%s failed: %s%s" % (verb, r.stdout, r.stderr))
        deadline = time.monotonic() + 20
        while rebuilds() == before:
            if time.monotonic() > deadline:
                raise SystemExit("policy did not recompile after %s" % verb)
            time.sleep(0.02)

    failed = 0
    for name, docs, expect in scenarios(pods):
        if only and name not in only:
            continue
        if docs:
            apply(docs, "apply")
        t0 = time.monotonic()
        got = {}
        procs = []
        for a in pods:
            targets = ["%s,%s,%s,%d" % (b["name"], b["ip"], pr, po) for b in pods for pr, po in PROBES]
            procs.append((a, subprocess.Popen(
                ["ip", "netns", "exec", a["netns"], sys.executable, __file__, "probe", "1.0"] + targets,
                stdout=subprocess.PIPE, text=True)))
        for a, p in procs:
            out, _ = p.communicate(timeout=60)
            got[a["name"]] = json.loads(out)
        wrong = []
        allowed = 0
        for a in pods:
            for b in pods:
                for pr, po in PROBES:
                    want = bool(expect(a, b, pr, po))
                    have = got[a["name"]]["%s/%s/%d" % (b["name"], pr, po)]
                    allowed += have
                    if want != have:
                        wrong.append("%s -> %s %s/%d: want %s, got %s" % (
                            a["name"], b["name"], pr, po, "allow" if want else "deny",
                            "allow" if have else "deny"))
        cells = len(pods) * len(pods) * len(PROBES)
        if wrong:
            failed += 1
            print("FAIL %-40s %d of %d cells wrong:" % (name, len(wrong), cells), flush=True)
            for w in wrong[:30]:
                print("   " + w, flush=True)
        else:
            print("ok   %-40s %d cells match (%d allowed) in %.1fs" % (
                name, cells, allowed, time.monotonic() - t0), flush=True)
        if docs:
            apply(docs, "delete")
    return 1 if failed else 0


def main(a):
    if a[0] == "probe":
        probe_main(float(a[1]), a[2:])
        return 0
    if a[0] == "run":
        with open(a[1]) as f:
            return run(json.load(f))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
